"""Installed from its wheel, tierline is one package, and `tierline demo` runs from any folder.

The wheel is built from a copy of the sources (the work tree stays as it was) without
build isolation, and installed without its dependencies into a fresh virtual environment
that borrows them from the running one through a .pth file: nothing is downloaded.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # real processes: the CLI, servers or a browser

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("engine", "training", "api", "cli")
SOURCES = ("pyproject.toml", "README.md", "tierline", *LAYERS, "examples")
# Files that are read at run time, not imported: they must ship inside the package.
DATA = (
    "tierline/examples/demo.toml",
    "tierline/engine/default_playbook.toml",
    "tierline/engine/store/migrations/env.py",
    "tierline/engine/store/migrations/script.py.mako",
    # The staff page: index.html, its style sheet and every one of its script modules.
    *(f"tierline/api/display/{p.name}" for p in sorted((ROOT / "api" / "display").iterdir())),
)
TIMEOUT = 600  # seconds; a loaded CI machine builds and trains slowly


def _clean_env() -> dict[str, str]:
    """The environment without what would import tierline from the checkout or point the
    command at another store or registry."""
    return {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "VIRTUAL_ENV") and not k.startswith("TIERLINE_")
    }


def _pip(*args: str) -> None:
    """Run the running venv's pip offline (no index: the wheel and venv need no download)."""
    done = subprocess.run(
        [sys.executable, "-m", "pip", *args, "-q", "--no-index", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=_clean_env(),
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built from a copy of the sources so the work tree gets no build/ folder."""
    src = tmp_path_factory.mktemp("src")
    for name in SOURCES:
        if (ROOT / name).is_dir() and not (ROOT / name).is_symlink():
            shutil.copytree(
                ROOT / name,
                src / name,
                symlinks=True,
                ignore=shutil.ignore_patterns("__pycache__"),
            )
        else:
            shutil.copy2(ROOT / name, src / name, follow_symlinks=False)
    out = tmp_path_factory.mktemp("wheel")
    _pip("wheel", "--no-deps", "--no-build-isolation", "-w", str(out), str(src))
    (built,) = out.glob("tierline-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding the wheel alone; its dependencies are the running venv's."""
    env_dir = tmp_path_factory.mktemp("venv")
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    _pip("--python", str(python), "install", "--no-deps", str(wheel))
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    Path(site, "_running_venv.pth").write_text("\n".join(sorted(ours)) + "\n")
    return env_dir


def test_the_wheel_installs_only_the_tierline_package(wheel: Path) -> None:
    """The wheel's top level is tierline and its dist-info, and it carries every module of
    the four layers and every file read at run time."""
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {n.split("/")[0] for n in names} == {"tierline", "tierline-0.1.0.dist-info"}
    modules = {
        f"tierline/{p.relative_to(ROOT).as_posix()}"
        for layer in LAYERS
        for p in (ROOT / layer).rglob("*.py")
        if "__pycache__" not in p.parts
    }
    assert modules - names == set()
    assert set(DATA) - names == set()


def _run_installed(installed: Path, cwd: Path, program: str, *args: str) -> str:
    """Run a program of the installed venv in ``cwd``; return its output, checked."""
    done = subprocess.run(
        [str(installed / "bin" / program), *args],
        cwd=cwd,
        env={**_clean_env(), "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_demo_runs_from_an_empty_folder_with_the_installed_package(
    installed: Path, tmp_path: Path
) -> None:
    """`tierline demo --no-serve` from an empty folder trains and promotes into models/ (where
    every command looks) and scores into var/demo/, and a key created afterwards migrates
    var/tierline.db there, all from the installed package (not the checkout)."""
    where = _run_installed(
        installed, tmp_path, "python", "-c", "import tierline.cli.main as m; print(m.__file__)"
    )
    assert Path(where.strip()).is_relative_to(installed), where

    _run_installed(installed, tmp_path, "tierline", "demo", "--no-serve", "-n", "1000", "-q")
    assert (tmp_path / "models/champion").is_file()
    assert (tmp_path / "var/demo/scored.csv").is_file()

    _run_installed(
        installed, tmp_path, "tierline", "keys", "create", "--role", "admin", "--site", "demo"
    )
    assert (tmp_path / "var/tierline.db").is_file()
