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
