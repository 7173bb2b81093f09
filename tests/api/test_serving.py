"""The serving model's swaps: kept versions come back without loading, digests are checked
on every swap, new versions and the rollback target are prepared ahead, memory is bounded.
On SQLite and PostgreSQL (a swap syncs the playbook's perks into the store)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.conftest import clone_version, make_writable
from tierline.api.serving import ServingModel
from tierline.engine.registry import Registry
from tierline.engine.store import Store


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """An open, migrated store on each database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'var' / 'tierline.db'}"
    else:
        url = str(request.getfixturevalue("pg_url"))
    with Store.open(url) as opened:
        yield opened


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The versions ``Registry.load`` read from disk, in order (the real load runs)."""
    seen: list[str] = []
    real = Registry.load

    def counted(self: Registry, version: str | None = None) -> object:
        seen.append(str(version))
        return real(self, version)

    monkeypatch.setattr(Registry, "load", counted)
    return seen


def _serving(models: Path, store: Store, keep: int = 3) -> ServingModel:
    serving = ServingModel(
        registry=Registry(models), store=store, default_tier="standard", keep=keep
    )
    assert serving.refresh()
    return serving


def test_a_rollback_and_a_second_promotion_swap_without_loading_again(
    models_dir: Path, store: Store, loads: list[str]
) -> None:
    """Promote, roll back, promote again: each version is loaded once, and the rollback
    serves the very model object that served before."""
    clone_version(models_dir, "v0001", "v0002")
    serving = _serving(models_dir, store)
    before = serving.current.model
    registry = Registry(models_dir)
    registry.promote("v0002")
    assert serving.pointer_moved() and serving.refresh()
    registry.rollback()
    assert serving.refresh() and serving.current.model is before
    registry.promote("v0002")
    assert serving.refresh() and serving.current.version == "v0002"
    assert loads == ["v0001", "v0002"]
    assert not serving.pointer_moved()


def test_a_kept_version_tampered_on_disk_is_refused_when_swapped_back(
    models_dir: Path, store: Store
) -> None:
    """A version kept in memory is still verified on each swap: tampered on disk since, the
    swap back to it is refused and the current version keeps serving."""
    clone_version(models_dir, "v0001", "v0002")
    serving = _serving(models_dir, store)
    Registry(models_dir).promote("v0002")
    assert serving.refresh()
    make_writable(models_dir / "v0001")
    (models_dir / "v0001" / "policy.json").write_text("{}", encoding="utf-8")
    (models_dir / "champion").write_text("v0001\n", encoding="utf-8")
    assert not serving.refresh()
    assert serving.current.version == "v0002"
    assert serving.refused[-1][0] == "v0001" and "tampered" in serving.refused[-1][1]


def test_a_version_written_after_start_is_prepared_before_its_promotion(
    models_dir: Path, store: Store, loads: list[str]
) -> None:
    """A version that appears in the folder is loaded and warmed ahead; its promotion
    then swaps without loading."""
    serving = _serving(models_dir, store)
    assert not serving.versions_changed() and not serving.prepare_ahead()
    clone_version(models_dir, "v0001", "v0002")
    assert serving.versions_changed() and serving.prepare_ahead()
    assert loads == ["v0001", "v0002"]
    assert serving.current.version == "v0001"
    Registry(models_dir).promote("v0002")
    assert serving.refresh() and serving.current.version == "v0002"
    assert loads == ["v0001", "v0002"]


def test_the_rollback_target_is_prepared_at_start(
    models_dir: Path, store: Store, loads: list[str]
) -> None:
    """A process started after a promotion prepares the version it replaced, so a rollback
    swaps without loading."""
    clone_version(models_dir, "v0001", "v0002")
    Registry(models_dir).promote("v0002")
    serving = _serving(models_dir, store)
    assert serving.prepare_ahead()
    Registry(models_dir).rollback()
    assert serving.refresh() and serving.current.version == "v0001"
    assert loads == ["v0002", "v0001"]


def test_a_tampered_new_version_is_not_prepared_and_its_promotion_is_refused(
    models_dir: Path, store: Store
) -> None:
    """Preparing a tampered new version fails quietly (a warning); moving the pointer to
    it is refused as before, and the old version keeps serving."""
    serving = _serving(models_dir, store)
    clone_version(models_dir, "v0001", "v0002")
    make_writable(models_dir / "v0002")
    (models_dir / "v0002" / "model.txt").write_text("garbage", encoding="utf-8")
    assert not serving.prepare_ahead()
    (models_dir / "champion").write_text("v0002\n", encoding="utf-8")
    assert not serving.refresh()
    assert serving.current.version == "v0001" and serving.refused[-1][0] == "v0002"


def test_no_more_than_keep_versions_stay_loaded(
    models_dir: Path, store: Store, loads: list[str]
) -> None:
    """With room for two, a third version pushes out the least recently served one, which
    is loaded again when it comes back."""
    for name in ("v0002", "v0003"):
        clone_version(models_dir, "v0001", name)
    serving = _serving(models_dir, store, keep=2)
    registry = Registry(models_dir)
    for version in ("v0002", "v0003", "v0002", "v0001"):
        registry.promote(version)
        assert serving.refresh() and serving.current.version == version
    assert loads == ["v0001", "v0002", "v0003", "v0001"]
