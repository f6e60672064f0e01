"""rembg itself, as a baseline: its ISNet session and its alpha-matting pipeline.

rembg is not a dependency of gfm; the benchmarks use it when it is importable
(``pip install rembg`` in the environment, or ``--rembg-site DIR`` naming a folder
it was installed into with ``pip install --target DIR rembg``). Its ISNet runs
from the guide file we give it: rembg's ``dis_custom`` session, which normalises
as its ``isnet-general-use`` session does (RGB / max - 0.5, 1024x1024, Lanczos),
min-max scales the output and resizes the mask back with Lanczos. Its file must
lie under rembg's model folder, so it is copied into a temporary ``REMBG_HOME``.

* ``rembg``: ``remove(image, session)``: the mask as alpha (naive cutout);
* ``rembg -a``: ``remove(image, session, alpha_matting=True)``: the mask thresholded
  at 240 and 10, eroded 10 px, closed-form matting (pymatting) in the band and
  multi-level foreground colours, as rembg's ``-a`` option does.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image


def load_rembg(site: Path | None, guide: Path, home: Path) -> Callable[[np.ndarray, bool], np.ndarray] | None:
    """``alpha(image, alpha_matting) -> (H, W) float32`` through rembg, or None when rembg is missing.

    Args:
        site: a folder rembg was installed into (``pip install --target``), or None.
        guide: the ISNet ``.onnx`` file rembg is to run.
        home: an empty folder that becomes ``REMBG_HOME`` (the file is copied there).
    """
    if site is not None:
        sys.path.insert(0, str(site))
    os.environ["REMBG_HOME"] = str(home)
    try:
        from rembg import new_session, remove
    except ImportError as error:
        print(f"(rembg cases skipped: {error}; pip install rembg, or --rembg-site DIR)")
        return None
    target = home / "models" / "dis_custom" / guide.name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(guide, target)
    session = new_session("dis_custom", model_path=str(target))

    def alpha(image: np.ndarray, alpha_matting: bool) -> np.ndarray:
        cutout = remove(Image.fromarray(image), session=session, alpha_matting=alpha_matting)
        return np.asarray(cutout.getchannel("A"), dtype=np.float32) / 255.0

    return alpha


__all__ = ["load_rembg"]
