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


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
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


def test_no_pickle_on_the_serving_path() -> None:
    """Engine code never loads pickles or joblib files (artifacts are text and JSON)."""
    for path in sorted((ROOT / "engine").rglob("*.py")):
        assert not (_imports(path) & {"pickle", "joblib", "dill", "cloudpickle"}), path
