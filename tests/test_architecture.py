"""The layers import one way (ARCHITECTURE.md): engine knows nothing of the others."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

FORBIDDEN = {
    "engine": {"fastapi", "starlette", "training", "api", "cli", "typer"},
    "training": {"api", "cli", "fastapi"},
    "api": {"training", "cli"},
}


LAYERS = ("engine", "training", "api", "cli")


def _modules(path: Path) -> set[str]:
    """Every module a file imports, by its full dotted name."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            if node.module == "tierline":  # from tierline import engine
                names |= {f"tierline.{a.name}" for a in node.names}
    return names


def _imports(path: Path) -> set[str]:
    """The packages a file imports: tierline's layers by their own name, others by their top."""
    names = set()
    for module in _modules(path):
        top, _, rest = module.partition(".")
        names.add(rest.split(".")[0] if top == "tierline" and rest else top)
    return names


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_point_one_way(layer: str) -> None:
    """No module of a layer imports a package its layer must not depend on."""
    offenders = []
    for path in sorted((ROOT / layer).rglob("*.py")):
        bad = _imports(path) & FORBIDDEN[layer]
        if bad:
            offenders.append(f"{path.relative_to(ROOT)} imports {sorted(bad)}")
    assert not offenders, offenders


def _joblib_names(path: Path) -> set[str]:
    """What a file takes from joblib: names imported from it and attributes read off it."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("joblib"):
            names |= {node.module or "", *(a.name for a in node.names)}
        elif isinstance(node, ast.Import):
            names |= {a.name for a in node.names if a.name.startswith("joblib.")}
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "joblib"
        ):
            names.add(node.attr)
    return names - {"joblib"}


def test_no_pickle_on_the_serving_path() -> None:
    """Engine code never loads pickles or joblib files (artifacts are text and JSON); it may
    use joblib's thread pools, which share memory and pickle nothing."""
    for path in sorted((ROOT / "engine").rglob("*.py")):
        assert not (_imports(path) & {"pickle", "dill", "cloudpickle"}), path
        assert _joblib_names(path) <= {"Parallel", "delayed", "parallel_config"}, path


def test_layers_are_imported_through_the_tierline_namespace() -> None:
    """Code, tests and benchmarks import a layer as tierline.<layer>: installed, only the
    tierline package exists, so a top-level `import engine` works in a checkout alone."""
    offenders = []
    for folder in (*LAYERS, "tests", "benchmarks"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            bare = {m for m in _modules(path) if m.split(".")[0] in LAYERS}
            if bare:
                offenders.append(f"{path.relative_to(ROOT)} imports {sorted(bare)}")
    assert not offenders, offenders
