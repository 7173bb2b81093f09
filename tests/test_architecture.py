"""The layers import one way (docs/architecture.md): import-linter's contract, run by
`make lint`, and what it cannot see."""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent

LAYERS = ("engine", "training", "api", "cli")


# Several tests read the imports of every file in the tree: each file is parsed once.
@functools.cache
def _modules(path: Path) -> frozenset[str]:
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
    return frozenset(names)


def _imports(path: Path) -> set[str]:
    """The packages a file imports: tierline's layers by their own name, others by their top."""
    names = set()
    for module in _modules(path):
        top, _, rest = module.partition(".")
        names.add(rest.split(".")[0] if top == "tierline" and rest else top)
    return names


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """import-linter's verdict on the tierline package found under ``root``."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [
            str(Path(sys.executable).parent / "lint-imports"),
            "--config",
            str(ROOT / "pyproject.toml"),
        ],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow  # lint-imports reads the whole package twice
def test_the_layer_contract_refuses_an_import_that_points_up(tmp_path: Path) -> None:
    """`make lint` runs import-linter's contract (pyproject.toml); it passes on the code as
    it is and fails once an engine module imports the api, written as a relative import."""
    package = tmp_path / "tierline"
    shutil.copytree(
        ROOT / "tierline", package, symlinks=False, ignore=shutil.ignore_patterns("__pycache__")
    )
    assert _lint_imports(tmp_path).returncode == 0
    values = package / "engine" / "values.py"
    values.write_text(values.read_text(encoding="utf-8") + "\nfrom ..api import errors as _up\n")
    broken = _lint_imports(tmp_path)
    assert broken.returncode != 0 and "BROKEN" in broken.stdout, broken.stdout


@pytest.mark.parametrize("layer", LAYERS)
def test_no_layer_imports_by_name_at_run_time(layer: str) -> None:
    """import-linter reads import statements only, so no layer imports a module from a
    string (importlib.import_module, __import__): every arrow stays visible to the contract."""
    offenders = []
    for path in sorted((ROOT / layer).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            called = node.func if isinstance(node, ast.Call) else None
            name = (
                called.attr
                if isinstance(called, ast.Attribute)
                else called.id
                if isinstance(called, ast.Name)
                else None
            )
            if name in {"import_module", "__import__"}:
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
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


@functools.cache
def _providers() -> dict[str, list[str]]:
    """The installed distributions that provide each top-level module (a slow scan: once)."""
    return dict(importlib.metadata.packages_distributions())


def _declared(*groups: str) -> set[str]:
    """The distributions pyproject.toml declares: the runtime dependencies and the named
    optional groups, normalized as pip compares them."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    lines = [*project["dependencies"]]
    for group in groups:
        lines += project["optional-dependencies"][group]
    return {canonicalize_name(Requirement(line).name) for line in lines}


@pytest.mark.parametrize(
    ("folders", "groups"),
    [(LAYERS, ()), (("tests", "benchmarks"), ("dev",))],
    ids=["code", "tests-and-benchmarks"],
)
def test_every_imported_package_is_declared(
    folders: tuple[str, ...], groups: tuple[str, ...]
) -> None:
    """A package the code imports is a declared dependency (tests and benchmarks may use
    the dev group too), so a fresh install never meets a missing import that happened to
    be in the developer's environment."""
    provides = _providers()
    declared = _declared(*groups)
    missing = []
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for module in _modules(path):
                top = module.split(".")[0]
                if (
                    not top
                    or top in sys.stdlib_module_names
                    or top in {"tierline", *LAYERS, "tests", "benchmarks"}
                ):
                    continue
                dists = {canonicalize_name(d) for d in provides.get(top, [top])}
                if not dists & declared:
                    missing.append(f"{path.relative_to(ROOT)} imports {top} ({sorted(dists)})")
    assert not missing, missing


def test_test_modules_share_helpers_through_helper_modules() -> None:
    """A test module imports nothing from another test module: shared helpers live in
    helper modules (tests/command.py runs the CLI, tests/servers.py starts servers, ...)."""
    offenders = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        for module in _modules(path):
            if module.startswith("tests.") and module.rsplit(".", 1)[-1].startswith("test_"):
                offenders.append(f"{path.relative_to(ROOT)} imports {module}")
    assert not offenders, offenders
