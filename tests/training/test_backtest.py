"""The backtest at a retrain from the store: the champion's logged decisions scored against
what happened, with the gate's headline metric."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tests.conftest import EXAMPLES
from tierline.engine.spec import load_spec
from tierline.training.backtest import MIN_ROWS, backtest


def _log(n: int, *, version: str = "v0007", seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    score = rng.gamma(2.0, 40.0, n)
    return pd.DataFrame(
        {
            "model_version": version,
            "tier": np.where(score > np.quantile(score, 0.9), "vip", "standard"),
            "score": score,
            "spend_next_90d": score * rng.uniform(0.5, 1.5, n),
        }
    )


def test_the_champion_is_measured_on_its_own_decisions_only() -> None:
    """Only the champion's rows with a known outcome count, and a value target is measured
    by the rank correlation of the logged score with what was spent."""
    spec = load_spec(EXAMPLES / "store.toml")
    mine = _log(300)
    noise = _log(200, version="v0006", seed=4).assign(
        spend_next_90d=lambda f: f["score"][::-1].to_numpy()
    )
    unknown = _log(50, seed=5).assign(spend_next_90d=np.nan)
    result = backtest(pd.concat([mine, noise, unknown]), spec, "v0007")
    assert result["metric"] == "spearman" and result["rows"] == 300
    expected = mine["score"].rank().corr(mine["spend_next_90d"].rank())
    assert abs(result["value"] - expected) < 1e-9


def test_too_few_matured_decisions_give_no_figure() -> None:
    """Below the minimum the backtest says how many it had and gives no number; without a
    champion it says so."""
    spec = load_spec(EXAMPLES / "store.toml")
    few = backtest(_log(MIN_ROWS - 1), spec, "v0007")
    assert few["value"] is None and few["rows"] == MIN_ROWS - 1
    assert f"needs at least {MIN_ROWS}" in few["why"]
    none = backtest(_log(100), spec, None)
    assert none["value"] is None and none["why"] == "no champion to backtest"


def test_a_binary_target_is_read_as_the_spec_says() -> None:
    """A binary target's logged text (true/false, yes/no) is read with the spec's positive
    value, and the AUC of a score that orders the outcomes perfectly is 1."""
    spec = load_spec(EXAMPLES / "binary.toml")
    n = 120
    score = np.linspace(0, 1, n)
    frame = pd.DataFrame(
        {
            "model_version": "v0001",
            "tier": "standard",
            "score": score,
            "returned_90d": np.where(score > 0.5, "yes", "false"),
        }
    )
    result = backtest(frame, spec, "v0001")
    assert result["metric"] == "roc_auc" and result["value"] == 1.0
