"""The registry: immutable verified versions, an atomic champion pointer, promote and rollback."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import Trained
from tierline.engine.errors import ArtifactError, NotFound
from tierline.engine.registry import ARTIFACT_FILES, Registry


def copy_registry(trained: Trained, tmp_path: Path) -> Registry:
    root = tmp_path / "models"
    shutil.copytree(trained.models, root)
    for p in root.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)
    return Registry(root)


def test_version_folder_holds_the_contract_files(trained: Trained) -> None:
    """A version has the LightGBM text model, JSON state, playbook, metadata and manifest."""
    reg = Registry(trained.models)
    version = trained.result.version
    names = {p.name for p in (trained.models / version).iterdir()}
    assert names == {*ARTIFACT_FILES, "manifest.json"}
    meta = reg.metadata(version)
    for key in ("spec", "data", "metrics", "baselines", "versions", "created", "lightgbm"):
        assert key in meta
    assert len(meta["data"]["sha256"]) == 64
    assert reg.champion() == version


@pytest.mark.parametrize("name", ARTIFACT_FILES)
def test_a_tampered_file_is_refused(trained: Trained, tmp_path: Path, name: str) -> None:
    """Changing any byte of any artifact file makes loading fail with ArtifactError."""
    reg = copy_registry(trained, tmp_path)
    path = reg.root / trained.result.version / name
    path.write_bytes(path.read_bytes() + b" ")
    with pytest.raises(ArtifactError, match=f"{name} does not match its SHA-256"):
        reg.load(trained.result.version)


def test_a_missing_file_or_manifest_is_refused(trained: Trained, tmp_path: Path) -> None:
    """A version without its manifest or one of its files does not load."""
    reg = copy_registry(trained, tmp_path)
    folder = reg.root / trained.result.version
    (folder / "policy.json").unlink()
    with pytest.raises(ArtifactError, match=r"policy\.json is missing"):
        reg.load(trained.result.version)
    (folder / "manifest.json").unlink()
    with pytest.raises(ArtifactError, match="manifest"):
        reg.load(trained.result.version)


def test_promote_and_rollback_move_only_the_pointer(trained: Trained, tmp_path: Path) -> None:
    """Promotion swaps the champion; rollback returns to the version it replaced."""
    reg = copy_registry(trained, tmp_path)
    first = trained.result.version
    folder = reg.root / first
    meta = reg.metadata(first)
    second = reg.write(
        booster_text=(folder / "model.txt").read_text(),
        features=__import__("json").loads((folder / "features.json").read_text()),
        policy=__import__("json").loads((folder / "policy.json").read_text()),
        playbook_text=(folder / "playbook.toml").read_text(),
        metadata=meta,
    )
    assert second != first and reg.versions()[-1] == second
    assert reg.promote(second) == first
    assert reg.champion() == second
    assert reg.load().version == second
    assert reg.rollback() == first
    assert reg.champion() == first
    with pytest.raises(NotFound, match="no earlier champion"):
        reg.rollback()


def test_unknown_version_and_empty_registry(tmp_path: Path) -> None:
    """Promoting or loading a version that does not exist names it; no champion is NotFound."""
    reg = Registry(tmp_path / "empty")
    with pytest.raises(NotFound, match="No champion"):
        reg.load()
    with pytest.raises(NotFound, match="'v0042' does not exist"):
        reg.promote("v0042")
    with pytest.raises(NotFound, match="does not exist"):
        reg.load("../etc")


def test_versions_are_read_only(trained: Trained) -> None:
    """Artifact files are written read-only: versions are immutable by mode too."""
    for p in (trained.models / trained.result.version).iterdir():
        assert p.stat().st_mode & 0o222 == 0
