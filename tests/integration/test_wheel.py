"""The built wheel, installed like any package (not editable) with its package folder
read-only, runs the README's main job, `gfm serve` (the page and one upload) and
`gfm export`; numba's compiled code goes to the user's cache folder, never into the package.

To stay quick (CI: about a minute) the fresh environment holds only the wheel, installed
with --no-deps; the dependencies come from the project's environment through a .pth
line (its .pth files, such as the editable install's finder, are not read that way, and
the test checks that gfm is imported from the wheel's copy).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import subprocess
import sys
import sysconfig
import threading
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

from gfm.compiled_cache import numba_cache_dir

ROOT = Path(__file__).parents[2]
EXAMPLES = ROOT / "examples" / "original"
pytestmark = pytest.mark.slow


def _run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, **kwargs)  # type: ignore[call-overload]
    assert done.returncode == 0, f"{' '.join(map(str, command))} failed:\n{done.stdout}\n{done.stderr}"
    return done


def _snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir" for p in sorted(folder.rglob("*"))}


def _set_writable(folder: Path, writable: bool) -> None:
    for path in [folder, *folder.rglob("*")]:
        mode = path.stat().st_mode
        path.chmod(mode | stat.S_IWUSR if writable else mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def _build_wheel(tmp_path: Path) -> Path:
    tree = tmp_path / "source"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
    shutil.copytree(ROOT / "src", tree / "src", ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, tree / name)
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-cache-dir", "-q", "-w", str(tmp_path / "dist"), str(tree)])
    (wheel,) = (tmp_path / "dist").glob("gfm_matting-*.whl")
    return wheel


def _serve(gfm: Path, env: dict[str, str], photo: Path) -> None:
    process = subprocess.Popen([str(gfm), "serve", "--port", "0", "-q"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    log: list[str] = []
    found = threading.Event()

    def drain() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            log.append(line)
            if re.search(r"open http://127\.0\.0\.1:\d+/", line):
                found.set()
        found.set()

    threading.Thread(target=drain, daemon=True).start()
    try:
        found.wait(240)
        match = next((re.search(r"open (http://127\.0\.0\.1:\d+)/", line) for line in log if "open http" in line), None)
        assert match, "gfm serve did not start:\n" + "".join(log)
        url = match.group(1)
        deadline = time.monotonic() + 30
        while True:
            try:
                page = urllib.request.urlopen(url + "/", timeout=10).read().decode()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        assert "<script" in page and "app.js" in page
        assert b"fetch" in urllib.request.urlopen(url + "/static/app.js", timeout=10).read()
        assert b"export" in urllib.request.urlopen(url + "/static/api.js", timeout=10).read()  # a module app.js imports
        boundary = "gfmwheeltest"
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"photo.jpg\"\r\n"
                f"Content-Type: image/jpeg\r\n\r\n").encode() + photo.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
        request = urllib.request.Request(url + "/api/matte?output=cutout", data=body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
        with urllib.request.urlopen(request, timeout=120) as answer:
            assert answer.status == 200 and answer.headers["Content-Type"] == "image/png"
            assert answer.read()[:8] == b"\x89PNG\r\n\x1a\n"
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_the_wheel_installed_read_only_runs_matte_serve_and_export(tmp_path: Path) -> None:
    wheel = _build_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    page = [f"gfm/serve/static/{path.name}" for path in sorted((ROOT / "src" / "gfm" / "serve" / "static").iterdir())]
    assert "gfm/serve/static/app.js" in page and "gfm/serve/static/state.js" in page
    for shipped in ("gfm/weights/gfm-lite-effl0-tt.pth", "gfm/weights/gfm-lite.md", *page, "gfm/py.typed", "gfm/cli/main.py"):
        assert shipped in names
    assert not any(n.startswith(("tests/", "examples/", "recipes/")) or "__pycache__" in n for n in names)

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python, gfm = venv / "bin" / "python", venv / "bin" / "gfm"
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    (site / "project-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q", str(wheel)])
    package = site / "gfm"
    assert _run([str(python), "-c", "import gfm; print(gfm.__file__)"]).stdout.strip() == str(package / "__init__.py")

    home, work = tmp_path / "home", tmp_path / "work"
    work.mkdir()
    # pymatting's compiled code (gfm serve loads it; 40 s to compile) from the run's own cache, whose
    # folders are named by the source folder: the project environment's pymatting is the same files
    shared = Path(os.environ.get("NUMBA_CACHE_DIR") or numba_cache_dir())
    for folder in shared.glob("*_*") if shared.is_dir() else []:
        if not folder.name.startswith(("inference_", "data_", "gfm")):  # gfm's own: compiled afresh for the wheel
            shutil.copytree(folder, home / "numba" / folder.name)
    # where numba puts the wheel's solver: a folder named after .../site-packages/gfm/data
    solver_cache = home / "numba" / f"data_{hashlib.sha1(str(package / 'data').encode()).hexdigest()}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NUMBA_CACHE_DIR", "GFM_"))}
    env.update(GFM_HOME=str(home), OMP_NUM_THREADS="1", PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}")
    before = _snapshot(package)
    _set_writable(package, False)
    try:
        # the README's main job, from a fresh clone's examples
        shutil.copytree(EXAMPLES, work / "examples" / "original")
        _run([str(gfm), "matte", "examples/original", "--out", "out/", "--outputs", "alpha,cutout,preview", "-q"], cwd=work, env=env)
        assert sorted(p.name for p in (work / "out").iterdir()) == sorted(
            f"{photo.stem}_{kind}" for photo in EXAMPLES.iterdir() for kind in ("alpha.png", "cutout.png", "preview.jpg"))
        assert list(solver_cache.glob("band_solver*.nbi")), f"the solver's compiled code is not in $GFM_HOME/numba: {sorted(os.listdir(home / 'numba'))}"
        _serve(gfm, env, EXAMPLES / "sample2.jpg")
        _run([str(gfm), "export", "gfm-lite", "gfm-lite.onnx"], cwd=work, env=env)
        assert (work / "gfm-lite.onnx").stat().st_size > 1_000_000
    finally:
        _set_writable(package, True)
    assert _snapshot(package) == before  # nothing written into the installed package (no compiled caches, no files)
