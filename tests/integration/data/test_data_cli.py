"""``gfm data check``, ``gfm prepare``, ``gfm compose`` end to end."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gfm.cli.main import main
from gfm.io import read_image

from synthetic import make_background, write_backgrounds


def test_data_check_catches_a_planted_fault(am2k_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "check", str(am2k_copy), "--no-progress"]) == 0
    assert "no problems found" in capsys.readouterr().err
    # plant: a truncated image in the middle of the set, and a 16-bit alpha
    bad = am2k_copy / "original" / "sample3.jpg"
    bad.write_bytes(bad.read_bytes()[:3000])
    a = np.asarray(Image.open(am2k_copy / "mask" / "sample2.png")).astype(np.uint16) * 257
    Image.fromarray(a).save(am2k_copy / "mask" / "sample2.png")
    assert main(["data", "check", str(am2k_copy), "--no-progress"]) == 1
    out = capsys.readouterr()
    assert f"unreadable: {bad}" in out.out
    assert "alpha-not-8bit" in out.out and "sample2.png" in out.out and "16-bit" in out.out
    assert "2 problem(s)" in out.err


def test_prepare_foregrounds_and_denoise(am2k_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--workers", "1", "--no-progress"]
    assert main(["prepare", "foregrounds", str(am2k_copy), "--method", "ml", *args]) == 0
    assert "3 computed, 0 already cached, 0 failed" in capsys.readouterr().err
    assert main(["prepare", "foregrounds", str(am2k_copy), "--method", "ml", *args]) == 0
    assert "0 computed, 3 already cached" in capsys.readouterr().err
    assert main(["prepare", "denoise", str(am2k_copy), "--method", "ml", "--denoiser", "nlm", *args]) == 0
    assert len(list((am2k_copy / "gfm-cache" / "fg-ml-nlm" / "original").glob("*.png"))) == 3
    # a corrupt file: reported, skipped, exit code 1
    bad = am2k_copy / "original" / "sample1.jpg"
    bad.write_bytes(bad.read_bytes()[:1000])
    assert main(["prepare", "foregrounds", str(am2k_copy), "--method", "ml", "--force", *args]) == 1
    out = capsys.readouterr()
    assert "2 computed" in out.err and "1 failed" in out.err and f"failed: {bad}" in out.out


def test_prepare_backgrounds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_backgrounds(tmp_path / "photos", [(300, 400), (200, 260), (320, 320)])
    (tmp_path / "photos" / "bad.jpg").write_bytes(b"garbage")
    code = main(["prepare", "backgrounds", str(tmp_path / "photos"), str(tmp_path / "bg"),
                 "--min-side", "250", "--side", "240", "--no-progress"])
    out = capsys.readouterr()
    assert code == 1  # an unreadable file was reported
    assert "dropped (too-small)" in out.out and "bg_01.jpg" in out.out and "dropped (unreadable)" in out.out
    assert sorted(p.name for p in (tmp_path / "bg").glob("*.jpg")) == ["bg_00.jpg", "bg_02.jpg"]
    assert min(read_image(tmp_path / "bg" / "bg_00.jpg").shape[:2]) == 240


def _compose(am2k: Path, backgrounds: Path, out: Path, *extra: str) -> int:
    return main(["compose", str(am2k), str(backgrounds), str(out), "--k", "2", "--compute-missing",
                 "--denoiser", "nlm", "--no-progress", *extra])


def test_compose_writes_a_deterministic_set(am2k_copy: Path, backgrounds_dir: Path, tmp_path: Path) -> None:
    assert _compose(am2k_copy, backgrounds_dir, tmp_path / "a", "--seed", "3", "--contact-sheet") == 0
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert manifest["seed"] == 3 and manifest["route"] == "rssn" and len(manifest["samples"]) == 6
    for rec in manifest["samples"]:
        image = read_image(tmp_path / "a" / rec["files"]["image"])
        fg = read_image(tmp_path / "a" / rec["files"]["fg"])
        assert image.shape == fg.shape
        assert set(rec["choices"]) >= {"background", "fit", "denoise_fg", "denoise_bg", "blur_kernel", "noise"}
    first = [r["background"] for r in manifest["samples"][:2]]
    assert first[0] != first[1]  # k distinct backgrounds
    sheet = read_image(tmp_path / "a" / "contact_sheet.jpg")
    assert sheet.shape[0] > 6 * 160 and sheet.shape[1] > 4 * 100
    # Same seed: the same files, byte for byte (the cache is now warm, so this is quick).
    assert _compose(am2k_copy, backgrounds_dir, tmp_path / "b", "--seed", "3") == 0
    for rec in manifest["samples"]:
        for key in ("image", "fg", "bg"):
            f = rec["files"][key]
            assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()
    assert _compose(am2k_copy, backgrounds_dir, tmp_path / "c", "--seed", "4") == 0
    other = json.loads((tmp_path / "c" / "manifest.json").read_text())
    assert [r["choices"] for r in other["samples"]] != [r["choices"] for r in manifest["samples"]]


def test_compose_baseline_and_missing_cache(am2k_copy: Path, backgrounds_dir: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["compose", str(am2k_copy), str(backgrounds_dir), str(tmp_path / "x"), "--no-progress"])
    assert code == 2
    assert "gfm prepare foregrounds" in capsys.readouterr().err
    assert _compose(am2k_copy, backgrounds_dir, tmp_path / "coco", "--route", "coco", "--fg-method", "ml") == 0
    manifest = json.loads((tmp_path / "coco" / "manifest.json").read_text())
    assert all(r["choices"]["blur_kernel"] is None and not r["choices"]["noise"] for r in manifest["samples"])
    (tmp_path / "nobg").mkdir()
    assert _compose(am2k_copy, tmp_path / "nobg", tmp_path / "y", "--fg-method", "ml") == 2
    assert "no images" in capsys.readouterr().err


@pytest.mark.slow
def test_prepare_resumes_after_a_kill(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    rng = np.random.default_rng(0)
    from gfm.io import write_image

    for i in range(40):
        write_image(photos / f"p{i:02d}.jpg", make_background(rng, 240, 320))
    cmd = [sys.executable, "-m", "gfm.cli.main", "prepare", "denoise", str(photos),
           "--denoiser", "nlm", "--workers", "1", "--no-progress"]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(__file__).parents[3] / "src"),
                                                       os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out_dir = photos / "gfm-cache" / "denoised-nlm"
    deadline = time.time() + 60
    def finished() -> list[Path]:  # not the hidden temporary files of atomic writes
        return [p for p in out_dir.glob("*.png") if not p.name.startswith(".")]

    while time.time() < deadline and len(finished()) < 3:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = len(finished())
    assert 3 <= done_before < 40, "the run finished before it could be killed"
    for p in finished():  # every finished file is complete
        assert read_image(p).shape == (240, 320, 3)
    for p in out_dir.iterdir():  # age the killed write's temporary file, if any
        if p.name.startswith("."):
            os.utime(p, (time.time() - 120, time.time() - 120))
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert f"{40 - done_before} computed, {done_before} already cached, 0 failed" in result.stderr
    assert len(finished()) == 40
    assert not [p for p in out_dir.iterdir() if p.name.startswith(".")]  # leftovers cleaned


def test_compose_skips_unreadable_files_like_prepare(
    am2k_copy: Path, backgrounds_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A corrupt foreground and a corrupt background: the rest is composed, both are listed, exit 1; --strict stops."""
    import shutil

    backgrounds_dir = Path(shutil.copytree(backgrounds_dir, tmp_path / "backgrounds", ignore=shutil.ignore_patterns("gfm-cache")))  # shared fixture
    bad_fg = am2k_copy / "original" / "sample2.jpg"
    bad_fg.write_bytes(bad_fg.read_bytes()[:2000])
    for extra in sorted(backgrounds_dir.iterdir())[2:]:
        extra.unlink()  # two backgrounds for k=2: every foreground meets the bad one
    bad_bg = sorted(backgrounds_dir.iterdir())[0]
    bad_bg.write_bytes(b"garbage")
    assert _compose(am2k_copy, backgrounds_dir, tmp_path / "a", "--route", "coco", "--fg-method", "ml") == 1
    err = capsys.readouterr().err
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert manifest["complete"] is True
    failed = [f["file"] for f in manifest["failures"]]
    assert str(bad_fg) in failed
    assert all(not r["name"].startswith("sample2_") for r in manifest["samples"])
    assert failed.count(str(bad_bg)) == 2 and len(manifest["samples"]) == 2  # two readable foregrounds, k=2 each
    assert f"{len(manifest['samples'])} composites, {len(failed)} unreadable file(s) skipped" in err
    assert f"skipped: {bad_fg}: cannot decode image" in err
    listed = {f for r in manifest["samples"] for f in r["files"].values()}
    written = {str(p.relative_to(tmp_path / "a")) for p in (tmp_path / "a").rglob("*.png")}
    assert listed == written  # the manifest lists exactly the files there
    assert _compose(am2k_copy, backgrounds_dir, tmp_path / "b", "--route", "coco", "--fg-method", "ml", "--strict") == 2
    assert f"gfm compose: error: {bad_bg}: not an image file" in capsys.readouterr().err  # sample1 meets it first


def test_an_interrupted_compose_leaves_a_consistent_manifest(
    am2k_copy: Path, backgrounds_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gfm.data.materialise as materialise

    real = materialise.compose
    calls = []

    def compose_then_interrupt(*args: object, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(materialise, "compose", compose_then_interrupt)
    assert _compose(am2k_copy, backgrounds_dir, tmp_path / "a", "--route", "coco", "--fg-method", "ml") == 130
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert manifest["complete"] is False and len(manifest["samples"]) == 2
    listed = {f for r in manifest["samples"] for f in r["files"].values()}
    assert listed == {str(p.relative_to(tmp_path / "a")) for p in (tmp_path / "a").rglob("*.png")}


def test_broken_links_in_a_dataset_are_reported_not_lost(am2k_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (am2k_copy / "original" / "ghost.jpg").symlink_to("missing.jpg")
    (am2k_copy / "mask" / "ghost.png").symlink_to("missing.png")
    (am2k_copy / "original" / "loop.jpg").symlink_to("loop.jpg")
    assert main(["data", "check", str(am2k_copy), "--no-progress"]) == 1
    out = capsys.readouterr().out
    assert f"{am2k_copy / 'original' / 'ghost.jpg'}: broken symbolic link (it points to missing.jpg" in out
    assert "loop.jpg" in out


def test_compose_rerun_replaces_its_own_set_and_refuses_foreign_files(am2k_copy: Path, backgrounds_dir: Path,
                                                                      tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "set"
    assert _compose(am2k_copy, backgrounds_dir, out, "--route", "coco", "--fg-method", "ml", "--k", "3", "--contact-sheet") == 0
    assert len(list((out / "image").iterdir())) == 9
    assert _compose(am2k_copy, backgrounds_dir, out, "--route", "coco", "--fg-method", "ml", "--k", "2") == 0
    manifest = json.loads((out / "manifest.json").read_text())
    listed = {rec["files"][sub] for rec in manifest["samples"] for sub in ("image", "alpha", "fg", "bg")}
    on_disk = {f"{sub}/{p.name}" for sub in ("image", "alpha", "fg", "bg") for p in (out / sub).iterdir()}
    assert len(manifest["samples"]) == 6 and on_disk == listed  # no stale _2 files
    assert not (out / "contact_sheet.jpg").exists()  # it showed the k=3 set
    capsys.readouterr()

    mine = out / "image" / "holiday.png"
    mine.write_bytes(b"not compose's")
    before = (out / "manifest.json").read_bytes()
    assert _compose(am2k_copy, backgrounds_dir, out, "--route", "coco", "--fg-method", "ml", "--k", "1") == 2
    assert "1 file(s) that no gfm compose run of this folder wrote" in capsys.readouterr().err
    assert mine.read_bytes() == b"not compose's" and (out / "manifest.json").read_bytes() == before
    assert len(list((out / "image").iterdir())) == 7


def test_an_interrupted_rerun_leaves_only_listed_files(
    am2k_copy: Path, backgrounds_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rerun replaces the set and its manifest is kept current: interrupted, the folder
    holds exactly what the new manifest lists (and a further rerun is not refused)."""
    import gfm.data.materialise as materialise

    out = tmp_path / "set"
    assert _compose(am2k_copy, backgrounds_dir, out, "--route", "coco", "--fg-method", "ml") == 0
    real = materialise.compose
    calls = []

    def compose_then_interrupt(*args: object, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(materialise, "compose", compose_then_interrupt)
    assert _compose(am2k_copy, backgrounds_dir, out, "--route", "coco", "--fg-method", "ml") == 130
    manifest = json.loads((out / "manifest.json").read_text())
    listed = {f for r in manifest["samples"] for f in r["files"].values()}
    assert manifest["complete"] is False and len(manifest["samples"]) == 1
    assert listed == {str(p.relative_to(out)) for p in out.rglob("*.png")}
    monkeypatch.setattr(materialise, "compose", real)
    assert _compose(am2k_copy, backgrounds_dir, out, "--route", "coco", "--fg-method", "ml") == 0


def test_long_foreground_work_is_estimated_before_it_starts(am2k_copy: Path, backgrounds_dir: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """compose --compute-missing and prepare foregrounds say how long they will take, and offer fast."""
    from gfm.data import workload

    assert main(["prepare", "foregrounds", str(am2k_copy), "--method", "fast", "--workers", "1", "-q"]) == 0
    err = capsys.readouterr().err
    assert "gfm prepare foregrounds: 3 foregrounds (fast, " in err and "about 1 s" in err
    assert main(["prepare", "foregrounds", str(am2k_copy), "--method", "fast", "--workers", "1", "-q"]) == 0
    assert "gfm prepare foregrounds:" not in capsys.readouterr().err  # nothing left to do: nothing to estimate
    monkeypatch.setitem(workload.SECONDS_PER_MEGAPIXEL, "cf", 1000.0)  # a slow machine: the advice appears
    assert _compose(am2k_copy, backgrounds_dir, tmp_path / "a", "--limit", "1", "--fg-method", "cf") == 0
    err = capsys.readouterr().err
    assert "gfm compose: computing what the cache lacks: 1 foregrounds (cf, " in err
    assert "--fg-method fast takes about" in err  # long (on this pretend machine): the fast solver is offered
    work = workload.Workload()
    work.add("foregrounds", 3, 0.5, "cf")
    assert work.describe() == f"3 foregrounds (cf, 0.5 MP): about {workload.duration(0.5 * workload.SECONDS_PER_MEGAPIXEL['cf'])}"
    assert "--method fast takes about" in workload.advice(work, "cf", None, "--method")
