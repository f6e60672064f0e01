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


MAX_MODULE_LINES = 450


def test_no_module_is_over_450_lines() -> None:
    """A module over 450 lines holds more than one concern: split it (lines counted as ``wc -l`` does).
    The page's JavaScript modules (gfm/serve/static) are held to the same limit."""
    files = sorted([*SRC.rglob("*.py"), *SRC.rglob("*.js")])
    assert any(f.suffix == ".js" for f in files)
    lengths = {str(f.relative_to(SRC)): f.read_bytes().count(b"\n") for f in files}
    assert [f"{name}: {n} lines" for name, n in lengths.items() if n > MAX_MODULE_LINES] == []


def _circles(package: Path) -> list[list[str]]:
    """The import circles between the modules of ``package`` (imports at any depth), each once."""
    prefix = "gfm." + ".".join(package.relative_to(SRC).parts) + "."
    files = {prefix + f.stem: f for f in sorted(package.glob("*.py")) if f.stem != "__init__"}
    graph = {name: sorted(m for m in _imported_modules(f) if m in files and m != name) for name, f in files.items()}
    found: list[list[str]] = []

    def walk(start: str, path: list[str]) -> None:
        for module in graph[path[-1]]:
            if module == start:
                found.append(path + [start])
            elif module > start and module not in path:  # each circle once, from its first module
                walk(start, path + [module])

    for name in graph:
        walk(name, [name])
    return found


def test_no_import_circles_inside_a_package() -> None:
    """Imports run downwards: gfm.data.layouts imports gfm.data.flat_layout, and both the sample
    types of gfm.data.samples; gfm.cli.matte and gfm.cli.watch share gfm.cli._output_format."""
    packages = sorted(p.parent for p in SRC.rglob("__init__.py") if p.parent != SRC)
    assert {"data", "cli"} <= {p.name for p in packages}
    circles = {str(p.relative_to(SRC)): _circles(p) for p in packages}
    assert {name: found for name, found in circles.items() if found} == {}


def test_watch_and_the_flat_layout_import_downwards() -> None:
    """The two circles the house removed (issue 23): watch imported matte (and matte watch),
    flat_layout imported layouts (and layouts flat_layout)."""
    assert _offenders((SRC / "cli" / "watch.py",), ("gfm.cli.matte",)) == []
    assert _offenders((SRC / "data" / "flat_layout.py",), ("gfm.data.layouts",)) == []
    assert _offenders((SRC / "data" / "samples.py",), ("gfm.data.layouts", "gfm.data.flat_layout")) == []
