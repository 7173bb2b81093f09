"""The promotion gate as cron and a person see it: `tierline retrain` and `tierline train`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.command import run
from tests.conftest import EXAMPLES
from tests.gate_data import copy_models
from tierline.engine.registry import ARTIFACT_FILES, Registry

pytestmark = pytest.mark.slow  # real processes: the CLI, servers or a browser


@pytest.fixture
def registry(gate_champion: Path, tmp_path: Path) -> Registry:
    """A writable copy of the champion's models folder."""
    return copy_models(gate_champion, tmp_path / "models")


def retrain(data: Path, models: Path) -> dict[str, object]:
    """Run `tierline retrain`, check it exits 0 with one JSON line, and return that line."""
    spec = str(EXAMPLES / "demo.toml")
    proc = run("retrain", "--data", str(data), "--spec", spec, "--models", str(models))
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1, proc.stdout
    summary = json.loads(lines[0])
    assert summary["ok"] is True
    return dict(summary)


def test_retrain_says_why_a_worse_challenger_is_not_promoted(
    registry: Registry, gate_data: dict[str, Path]
) -> None:
    """retrain of a worse model exits 0, writes it, keeps the champion and says why in its
    one-line summary."""
    summary = retrain(gate_data["worse"], registry.root)
    assert summary["version"] == "v0002" and summary["promoted"] is False
    gate = summary["gate"]
    assert isinstance(gate, dict) and "worse than the champion by" in gate["why"]
    assert registry.champion() == "v0001"
    registry.verify("v0002")


def test_train_says_the_champion_was_broken_when_it_replaces_it(
    registry: Registry, gate_data: dict[str, Path]
) -> None:
    """train over a tampered champion promotes the new version, exit 0, and its last line says
    the champion could not be loaded; no traceback."""
    path = registry.root / "v0001" / "model.txt"
    path.write_text(path.read_text() + "\n")
    spec = str(EXAMPLES / "demo.toml")
    proc = run(
        "train",
        "--data",
        str(gate_data["clean"]),
        "--spec",
        spec,
        "--models",
        str(registry.root),
        "-q",
    )
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    last = proc.stdout.strip().splitlines()[-1]
    assert "v0002" in last and "promoted to champion" in last
    assert "the champion v0001 cannot be loaded" in last and "SHA-256" in last
    assert registry.champion() == "v0002"


def test_retrain_twice_with_a_champion_in_place_is_deterministic(
    registry: Registry, gate_data: dict[str, Path]
) -> None:
    """A retrain on data, spec and playbook unchanged since the newest version writes
    nothing and says so; training again on the same data writes one complete version with
    the same model, measured equal to the champion; the pointer and history follow."""
    spec = str(EXAMPLES / "demo.toml")
    command = ("train", "--data", str(gate_data["clean"]), "--spec", spec)
    trained = run(*command, "--models", str(registry.root), "--json")
    assert trained.returncode == 0, trained.stderr
    first = json.loads(trained.stdout)
    skipped = retrain(gate_data["clean"], registry.root)
    assert skipped["skipped"] is True and skipped["version"] == first["version"] == "v0002"
    assert "no new version written" in str(skipped["why"])
    again = run(*command, "--models", str(registry.root), "--json")
    assert again.returncode == 0, again.stderr
    second = json.loads(again.stdout)
    assert second["version"] == "v0003"
    assert first["promoted"] is second["promoted"] is True
    assert first["value"] == second["value"]
    gate = second["gate"]
    assert isinstance(gate, dict) and gate["champion"] == gate["challenger"]
    root = registry.root
    for name in ARTIFACT_FILES:
        if name != "metadata.json":
            assert (root / "v0002" / name).read_bytes() == (root / "v0003" / name).read_bytes()
    assert registry.metadata("v0002")["metrics"] == registry.metadata("v0003")["metrics"]
    assert registry.versions() == ["v0001", "v0002", "v0003"]
    assert sorted(p.name for p in root.iterdir() if p.name.startswith(".staging")) == []
    for version in registry.versions():
        registry.verify(version)
    assert registry.champion() == "v0003"
    events = [(e["action"], e["version"], e["previous"]) for e in registry.history()]
    assert events[-2:] == [("auto-promote", "v0002", "v0001"), ("auto-promote", "v0003", "v0002")]
