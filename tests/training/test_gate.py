"""The promotion gate: the tolerance, a worse challenger, incomparable and broken champions."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES
from tests.gate_data import copy_models
from tierline.engine.registry import Registry
from tierline.engine.spec import Spec, load_spec, parse_spec
from tierline.training.gate import compare
from tierline.training.train import TrainResult, train


@pytest.fixture
def registry(gate_champion: Path, tmp_path: Path) -> Registry:
    """A writable copy of the champion's models folder."""
    return copy_models(gate_champion, tmp_path / "models")


def fit(
    data: Path, spec: Spec, models: Path, *, promote: str = "auto", tolerance: float = 0.01
) -> TrainResult:
    return train(
        data_path=data, spec=spec, models=models, promote=promote, tolerance=tolerance, threads=1
    )


def spec_with(*replace: tuple[str, str], base: str = "demo.toml") -> Spec:
    """An example spec with pieces of its text replaced."""
    import tomllib

    text = (EXAMPLES / base).read_text()
    for old, new in replace:
        assert old in text
        text = text.replace(old, new)
    return parse_spec(tomllib.loads(text), source=base)


# -- compare: the tolerance -------------------------------------------------------------
@pytest.mark.parametrize(
    ("champion", "challenger", "tolerance"),
    [(0.8, 0.7, 0.1), (0.3, 0.2, 0.1), (0.8, 0.79, 0.01), (0.61, 0.6, 0.01), (0.5, 0.5, 0.0)],
)
def test_worse_by_exactly_the_tolerance_is_promoted(
    champion: float, challenger: float, tolerance: float
) -> None:
    """A challenger worse by exactly the tolerance passes, despite float rounding in the difference."""
    passed, why = compare(
        metric="macro_f1", challenger=challenger, champion=champion, tolerance=tolerance
    )
    assert passed, why


@pytest.mark.parametrize(("champion", "tolerance"), [(0.8, 0.1), (0.8, 0.01), (0.5, 0.0)])
def test_worse_by_just_more_than_the_tolerance_is_refused(
    champion: float, tolerance: float
) -> None:
    """A challenger a millionth past the tolerance is refused, and the reason gives the figures."""
    passed, why = compare(
        metric="macro_f1",
        challenger=champion - tolerance - 1e-6,
        champion=champion,
        tolerance=tolerance,
    )
    assert not passed
    assert "more than the tolerance" in why and "--promote always" in why
    assert f"{champion:.4f}" in why


def test_a_better_or_equal_challenger_is_promoted() -> None:
    """Better or equal passes with no tolerance at all."""
    for challenger in (0.7, 0.71):
        passed, why = compare(metric="roc_auc", challenger=challenger, champion=0.7, tolerance=0.0)
        assert passed and why.startswith("not worse")


@pytest.mark.parametrize("challenger", [None, math.nan])
def test_an_unmeasurable_challenger_is_refused(challenger: float | None) -> None:
    """A challenger whose metric is missing or NaN is refused as unmeasurable, not as worse."""
    passed, why = compare(metric="spearman", challenger=challenger, champion=0.4, tolerance=0.5)
    assert not passed and "cannot be measured" in why


# -- end to end through train() ---------------------------------------------------------
def test_a_worse_challenger_stays_unpromoted(
    registry: Registry, gate_data: dict[str, Path]
) -> None:
    """A worse challenger is written and verified, the champion pointer and history stay, the
    gate says why in the result and in the version's metadata."""
    history = registry.history()
    result = fit(gate_data["worse"], load_spec(EXAMPLES / "demo.toml"), registry.root)
    assert not result.promoted
    assert registry.champion() == "v0001" and registry.history() == history
    assert result.version == "v0002" and registry.versions() == ["v0001", "v0002"]
    registry.verify("v0002")
    gate = result.gate
    assert gate["champion_version"] == "v0001" and not gate["passed"]
    assert gate["champion"] - gate["challenger"] > gate["tolerance"]
    assert "worse than the champion" in gate["why"]
    assert registry.metadata("v0002")["gate"] == gate


def test_the_tolerance_boundary_end_to_end(registry: Registry, gate_data: dict[str, Path]) -> None:
    """Retraining the same worse challenger: refused just below its gap, promoted at the gap."""
    spec = load_spec(EXAMPLES / "demo.toml")
    first = fit(gate_data["worse"], spec, registry.root, promote="never")
    gap = first.gate["champion"] - first.gate["challenger"]
    assert gap > 0.01
    below = fit(gate_data["worse"], spec, registry.root, tolerance=gap - 1e-6)
    assert not below.promoted and registry.champion() == "v0001"
    at = fit(gate_data["worse"], spec, registry.root, tolerance=gap)
    assert at.promoted and registry.champion() == at.version == "v0004"
    assert "within the tolerance" in at.gate["why"]


@pytest.mark.parametrize(
    ("spec", "named"),
    [
        (lambda: load_spec(EXAMPLES / "binary.toml"), ["class target", "binary target"]),
        (
            lambda: spec_with(
                ('"region", "car_brand"', '"region"'),
                ('car_brand = "arrived in a {value}"', ""),  # its label goes with it
            ),
            ["'car_brand'"],
        ),
    ],
    ids=["target kind", "missing column"],
)
def test_an_incomparable_champion_refuses_promotion_by_name(
    registry: Registry, gate_data: dict[str, Path], spec: object, named: list[str]
) -> None:
    """Another target kind or a column the champion reads but the new data lacks: the new
    version is written, not promoted, and the reason names the difference."""
    assert callable(spec)
    result = fit(gate_data["clean"], spec(), registry.root)
    assert not result.promoted and registry.champion() == "v0001"
    assert registry.versions() == ["v0001", "v0002"]
    why = result.gate["why"]
    assert all(n in why for n in named) and "--promote always" in why, why


def test_a_tier_set_mismatch_refuses_promotion_and_a_reordering_does_not(
    gate_data: dict[str, Path], tmp_path: Path
) -> None:
    """Other tier names are refused, naming both sets; the same tiers in another display
    order are measured against each other as usual."""
    models = tmp_path / "models"
    gold = spec_with(('"vip"', '"gold"'), base="binary.toml")
    assert "gold" in gold.tiers
    fit(gate_data["clean"], gold, models, promote="always")
    result = fit(gate_data["clean"], load_spec(EXAMPLES / "binary.toml"), models)
    assert not result.promoted and Registry(models).champion() == "v0001"
    assert "gold, standard, student" in result.gate["why"]
    assert "vip, standard, student" in result.gate["why"]

    reordered = spec_with(('["vip", "standard", "student"]', '["standard", "vip", "student"]'))
    fit(gate_data["clean"], load_spec(EXAMPLES / "demo.toml"), models, promote="always")
    result = fit(gate_data["clean"], reordered, models)
    assert result.gate["champion"] is not None, result.gate
    assert "cannot be compared" not in result.gate["why"]


def _tamper(root: Path) -> None:
    path = root / "v0001" / "policy.json"
    path.write_bytes(path.read_bytes() + b" ")


def _lose_a_file(root: Path) -> None:
    (root / "v0001" / "model.txt").unlink()


def _point_at_a_missing_version(root: Path) -> None:
    (root / "champion").write_text("v0009\n")


def _garble_the_pointer(root: Path) -> None:
    (root / "champion").write_bytes(b"\xff\xfe\x00v1\n")


@pytest.mark.parametrize(
    ("breakage", "named"),
    [
        (_tamper, "SHA-256"),
        (_lose_a_file, "model.txt is missing"),
        (_point_at_a_missing_version, "'v0009' does not exist"),
        (_garble_the_pointer, "does not exist"),
    ],
    ids=["digest mismatch", "missing file", "missing version", "garbled pointer"],
)
def test_a_broken_champion_lets_the_challenger_through(
    registry: Registry, gate_data: dict[str, Path], breakage: object, named: str
) -> None:
    """A champion that cannot be loaded is replaced on purpose: the challenger is promoted and
    the gate names what was wrong with the champion."""
    assert callable(breakage)
    breakage(registry.root)
    result = fit(gate_data["clean"], load_spec(EXAMPLES / "demo.toml"), registry.root)
    assert result.promoted and registry.champion() == result.version
    assert "cannot be loaded" in result.gate["why"] and named in result.gate["why"]
    assert registry.load().version == result.version
