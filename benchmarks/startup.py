"""Start-up: the first cutout of a fresh process, from process start to exit.

    python benchmarks/startup.py                  # 7 rounds, cases interleaved; medians
    python benchmarks/startup.py --repeats 11 --photo examples/original/sample6.jpg

Cases (each a fresh process; caches warm: one untimed round first, which also
creates the quick-start export of the default weights in $GFM_HOME):

* ``gfm matte PHOTO -o cutout.png``: the default route for one photo (onnxruntime
  through the quick-start export, the foreground kernels loaded on a thread meanwhile);
* the same with ``GFM_FAST_START=0``: PyTorch, as before the quick start;
* ``gfm.remove(PHOTO)`` in ``python -c``, both ways;
* ``gfm matte FOLDER --out DIR`` on the example photos, both ways: folders use PyTorch
  either way (the quick start is for one photo), so these two should agree.

The cases take turns (round robin), so a busy spell of a shared machine hits them
all alike; the medians are printed with the command line that produced them.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import cpu_name  # noqa: E402

ROOT = Path(__file__).parents[1]
GFM = str(Path(sys.executable).with_name("gfm"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--photo", type=Path, default=ROOT / "examples" / "original" / "sample2.jpg")
    args = parser.parse_args()
    print(f"command: python {' '.join(sys.argv)}")
    print(f"CPU: {cpu_name()}, {os.cpu_count()} cores; load average at start {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        folder = tmp / "photos"
        shutil.copytree(ROOT / "examples" / "original", folder)
        remove = f"import gfm; gfm.remove({str(args.photo)!r}).save({str(tmp / 'r.png')!r})"
        quick, torch_env = dict(os.environ), dict(os.environ, GFM_FAST_START="0")
        cases = {
            "gfm matte photo -o cutout.png (quick start)": ([GFM, "matte", str(args.photo), "-o", str(tmp / "a.png"), "-q"], quick),
            "gfm matte photo -o cutout.png (PyTorch)": ([GFM, "matte", str(args.photo), "-o", str(tmp / "b.png"), "-q"], torch_env),
            "gfm.remove(photo), fresh process (quick start)": ([sys.executable, "-c", remove], quick),
            "gfm.remove(photo), fresh process (PyTorch)": ([sys.executable, "-c", remove], torch_env),
            "gfm matte folder of 3 (default)": ([GFM, "matte", str(folder), "--out", str(tmp / "f1"), "-q"], quick),
            "gfm matte folder of 3 (GFM_FAST_START=0)": ([GFM, "matte", str(folder), "--out", str(tmp / "f2"), "-q"], torch_env),
        }
        for command, env in cases.values():  # warm-up: compiled caches, the quick-start export
            subprocess.run(command, env=env, check=True, capture_output=True)
        times: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.repeats):
            for name, (command, env) in cases.items():
                start = time.perf_counter()
                subprocess.run(command, env=env, check=True, capture_output=True)
                times[name].append(time.perf_counter() - start)
    print(f"load average at end {os.getloadavg()[0]:.1f}; medians of {args.repeats}, process start to exit:")
    for name, values in times.items():
        print(f"  {name:50s} {statistics.median(values):.2f} s   (min {min(values):.2f}, max {max(values):.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
