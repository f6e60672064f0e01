"""Which package may import which: the dependencies of the issue-14 layout run one way."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).parents[2] / "src" / "gfm"


def _imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, at any depth (function-level imports included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _imports_of(*paths: Path) -> dict[str, set[str]]:
    files = [f for p in paths for f in (sorted(p.rglob("*.py")) if p.is_dir() else [p])]
    return {str(f.relative_to(SRC)): _imported_modules(f) for f in files}


def _offenders(paths: tuple[Path, ...], forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{name} imports {module}"
        for name, modules in _imports_of(*paths).items()
        for module in sorted(modules)
        if any(module == f or module.startswith(f + ".") for f in forbidden)
    ]


def test_the_registry_never_imports_the_checkpoint_loader() -> None:
    """gfm.models.checkpoint builds networks with the registry; the registry reads ImageNet files
    through gfm.models.checkpoint_files, never through the loader (no import circle)."""
    assert _offenders((SRC / "models" / "registry.py",), ("gfm.models.checkpoint",)) == []
    assert _offenders((SRC / "models" / "checkpoint_files.py",), ("gfm.models.checkpoint", "gfm.models.registry")) == []


def test_the_metrics_are_pure_functions() -> None:
    """gfm.metrics is what a researcher imports to score a matte: no runner, reports,
    dataset discovery, profiler, model or torch in it (those import it, not the reverse).
    The one trimap rule (gfm.data.rosta.make_trimap, numpy and OpenCV) is shared with training."""
    forbidden = ("gfm.evaluation", "gfm.profiling", "gfm.data", "gfm.models", "gfm.inference", "gfm.engine", "torch")
    offenders = _offenders((SRC / "metrics",), forbidden)
    assert [o for o in offenders if not o.endswith(("imports gfm.data.rosta", "imports gfm.data.rosta.make_trimap"))] == []
    assert sorted(p.name for p in (SRC / "metrics").glob("*.py")) == ["__init__.py", "checks.py", "files.py", "matting.py", "trimap.py"]


def test_the_network_never_imports_how_it_is_driven() -> None:
    """gfm.models is the network: inference (strategies, precision, the ONNX export and
    runtime), the command line and the server import it, never the reverse."""
    assert _offenders((SRC / "models",), ("gfm.inference", "gfm.cli", "gfm.serve", "gfm.engine", "gfm.evaluation")) == []


def test_one_segmentation_runner_below_data_and_inference() -> None:
    """Teacher labels (data preparation) and guides (inference) share gfm.segmentation,
    which imports neither of them (nor torch: the ONNX path runs guides without it)."""
    assert _offenders((SRC / "segmentation",), ("gfm.data", "gfm.inference", "gfm.models", "gfm.cli", "torch")) == []
    assert _offenders((SRC / "data" / "teacher.py",), ("gfm.inference",)) == []


def test_data_preparation_never_reaches_inference() -> None:
    """Neither directly nor through the package's __init__ (whose lazy names include gfm.remove):
    the version comes from gfm._version."""
    assert _offenders((SRC / "data",), ("gfm.inference", "gfm.cli", "gfm.serve")) == []
    through_init = [name for name, modules in _imports_of(SRC / "data").items() if "gfm" in modules]  # `from gfm import X`
    assert through_init == []
