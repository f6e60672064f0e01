"""A quick start for one photo with the default model: onnxruntime instead of PyTorch.

Importing PyTorch takes 1.1-1.6 s of the 2.3-2.6 s that ``gfm matte photo.jpg``
took on this project's 2-core CPU; onnxruntime starts in a fraction of that. So
the first single-photo run with the default weights (the bundled GFM-Lite) also
exports them once, checked against PyTorch (largest difference at most 1e-4,
:func:`gfm.inference.onnx_export.export_onnx`), into ``$GFM_HOME/fast-start/``;
later single-photo runs and :func:`gfm.remove` calls in a fresh process run that
file through onnxruntime and never import torch. Folders keep PyTorch (faster
once running, bf16 where the CPU has it).

The result is GFM-Lite's at fp32: the same as ``--precision fp32`` to within
1e-4; on CPUs where ``--precision auto`` picks bf16 it differs from the
PyTorch run as bf16 differs from fp32, which was measured invisible (the
rule of docs/speed.md: within 2 levels of 255 on average, SAD and MSE no more than 1%
apart). ``--precision bf16``, ``--device cuda``, ``--hint``, an ensemble or any
other ``--model`` use PyTorch as before.

The record (``INSTALLATION.json``, one per installed package folder) names the exported file, the weights file it
came from (with its size and time: a reinstalled package is exported again)
and the gfm version; anything that does not match means PyTorch. Reading it
imports neither torch nor the weights registry.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from gfm._version import __version__

#: The folder under ``$GFM_HOME``.
FOLDER = "fast-start"


def _installation() -> str:
    """A name for this installation of gfm (its package folder): installations sharing one
    ``$GFM_HOME`` (virtual environments, checkouts) keep their own exports."""
    return hashlib.sha1(str(Path(__file__).resolve().parents[1]).encode()).hexdigest()[:12]


def record_path() -> Path:
    """The record of this installation's export: ``$GFM_HOME/fast-start/INSTALLATION.json``."""
    return folder() / f"{_installation()}.json"


@dataclass(frozen=True)
class FastStart:
    """A valid export of the default weights.

    Attributes:
        model: the weights name (``gfm-lite``).
        onnx: the exported file.
        weights: the weights file it was exported from, with its ``size`` and ``mtime_ns``.
        version: the gfm version that exported it.
    """

    model: str
    onnx: str
    onnx_size: int
    weights: str
    size: int
    mtime_ns: int
    version: str


def folder() -> Path:
    """``$GFM_HOME/fast-start``."""
    from gfm.home import gfm_home

    return gfm_home() / FOLDER


def enabled() -> bool:
    """Whether quick starts are on (``GFM_FAST_START=0`` turns them off: PyTorch, and no export)."""
    return os.environ.get("GFM_FAST_START", "1") != "0"


def find(model: str | None = None) -> FastStart | None:
    """The export to run instead of PyTorch, or ``None`` (no valid one, or no onnxruntime).

    Args:
        model: the weights asked for; ``None`` is the default weights (whatever the record names).

    Imports neither torch nor onnxruntime.
    """
    if not enabled() or importlib.util.find_spec("onnxruntime") is None:
        return None
    try:
        record = FastStart(**json.loads(record_path().read_text()))
        weights, onnx = Path(record.weights).stat(), Path(record.onnx).stat()
    except (OSError, ValueError, TypeError):
        return None
    if record.version != __version__ or (model is not None and model != record.model):
        return None
    if Path(record.weights).resolve().parent != (Path(__file__).resolve().parents[1] / "weights"):
        return None  # weights from outside this installation's package: only the bundled default qualifies
    if (weights.st_size, weights.st_mtime_ns) != (record.size, record.mtime_ns) or onnx.st_size != record.onnx_size:
        return None
    return record


def create(model_name: str | None = None) -> FastStart:
    """Export the default weights (or ``model_name``, a registered name) for later quick starts.

    Imports PyTorch and onnx; replaces any earlier export.

    Raises:
        ConfigError: onnx or onnxruntime is missing, or the export differs from PyTorch.
        CheckpointError: the weights are not available.
    """
    from gfm.hub import weights_path
    from gfm.inference.models import default_model_name, load_model_spec
    from gfm.io.atomic import atomic_write
    from gfm.inference.onnx_export import export_onnx

    name = model_name or default_model_name()
    weights = weights_path(name)
    stat = weights.stat()
    target_folder = folder()
    target_folder.mkdir(parents=True, exist_ok=True)
    installation = _installation()
    target = target_folder / f"{installation}-{name}-{stat.st_size}-{stat.st_mtime_ns}.onnx"
    export_onnx(load_model_spec(name, progress=False), target, model_name=name, overwrite=True)
    record = FastStart(name, str(target), target.stat().st_size, str(weights.resolve()), stat.st_size, stat.st_mtime_ns, __version__)
    with atomic_write(record_path()) as tmp:
        tmp.write_text(json.dumps(asdict(record), indent=1))
    for stale in target_folder.glob(f"{installation}-*.onnx"):
        if stale != target:
            stale.unlink(missing_ok=True)
    return record


def load_foreground_in_background(foreground: str, kinds: Sequence[str] = ("cutout",)) -> threading.Thread | None:
    """Start loading the compiled foreground kernels (numba: about half a second) on a thread,
    so that it overlaps onnxruntime's start and the network (which release the GIL);
    :func:`gfm.inference.band_solver.prepare`, called later, waits for it.

    Returns:
        The thread, or ``None`` when ``foreground`` is not ``"fast"`` or no output in
        ``kinds`` needs foreground colours.
    """
    if foreground != "fast" or not any(k in kinds for k in ("cutout", "foreground", "composite", "preview")):
        return None

    def load() -> None:
        from gfm.inference.band_solver import prepare

        prepare()

    thread = threading.Thread(target=load, name="gfm-foreground-load", daemon=True)
    thread.start()
    return thread


__all__ = ["FOLDER", "FastStart", "create", "enabled", "find", "folder", "load_foreground_in_background", "record_path"]
