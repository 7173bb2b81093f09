"""Honest numbers: the headline metric's bootstrap interval, the floor under which a held-out
set is too small to promote on, and evaluate naming training rows."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr
from sklearn.metrics import f1_score, roc_auc_score

from tests.command import run
from tests.conftest import EXAMPLES, Trained
from tierline.training.demo_data import generate_customers
from tierline.training.honest import MIN_HELD_OUT, interval, training_ids, training_share
from tierline.training.writing import write_table

pytestmark = pytest.mark.slow  # real processes: the CLI, servers or a browser


def test_unit_weights_give_the_plain_metrics() -> None:
    """With every customer weighted once the bootstrap's metric functions equal sklearn's
    and scipy's (ties in scores counted half, as ROC AUC does)."""
    from tierline.training.honest import _metric_fn

    rng = np.random.default_rng(0)
    y = (rng.random(500) < 0.3).astype(np.float64)
    s = np.round(rng.random(500) + 0.3 * y, 1)  # many ties
    ones = np.ones(500)
    assert _metric_fn("binary", y, s, 0)(ones) == pytest.approx(roc_auc_score(y, s))
    v = rng.gamma(2, 10, 500)
    pred = v + rng.normal(0, 10, 500)
    assert _metric_fn("value", v, pred, 0)(ones) == pytest.approx(spearmanr(v, pred).statistic)
    labels = rng.integers(0, 3, 500).astype(np.float64)
    probs = rng.dirichlet([1, 1, 1], 500)
    expected = f1_score(labels.astype(int), probs.argmax(axis=1), average="macro")
    assert _metric_fn("class", labels, probs, 3)(ones) == pytest.approx(expected)


def test_the_interval_covers_the_truth_and_narrows_with_more_customers() -> None:
    """For scores whose true AUC is known, the 95 % interval holds it, and four times the
    customers halve its width, roughly."""
    rng = np.random.default_rng(1)

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = (rng.random(n) < 0.5).astype(np.float64)
        return y, rng.normal(0, 1, n) + y * 1.0  # true AUC = Phi(1/sqrt(2)) = 0.7602

    small, large = interval("binary", *draw(2000)), interval("binary", *draw(8000))
    assert small["low"] < 0.7602 < small["high"]
    ratio = (large["high"] - large["low"]) / (small["high"] - small["low"])
    assert 0.35 < ratio < 0.7


def test_training_rows_are_recognised_by_their_ids() -> None:
    """The kept sample estimates the share of evaluated ids that were training rows: about
    all of them for the training ids, none for new ones, half for a half-and-half mix."""
    ids = [f"guest-{i}" for i in range(50_000)]
    kept = json.loads(json.dumps(training_ids(ids)))
    assert len(kept["sample"]) == 4096 and "guest-" not in json.dumps(kept)
    assert training_share(kept, ids[:20_000]) == pytest.approx(1.0, abs=0.05)
    fresh = [f"n{i}" for i in range(20_000)]
    assert training_share(kept, fresh) == 0.0
    assert training_share(kept, ids[:10_000] + fresh[:10_000]) == pytest.approx(0.5, abs=0.05)


def test_evaluate_on_the_training_file_says_so(trained: Trained) -> None:
    """evaluate on the data the model was trained on warns that its figures are not
    held-out figures; the report and metadata carry the interval."""
    proc = run("evaluate", "--data", str(trained.data), "--models", str(trained.models))
    assert proc.returncode == 0, proc.stderr
    assert "were training rows of" in proc.stderr
    assert "95 % interval of the headline metric" in trained.result.report
    found = trained.result.metrics["interval"]
    value = trained.result.metrics[trained.result.gate["metric"]]
    assert found["low"] <= value <= found["high"]


def test_a_tiny_held_out_set_is_not_auto_promoted(tmp_path: Path) -> None:
    """With fewer held-out customers than the floor, train writes the version but does not
    promote it, and says why; --promote always still promotes."""
    frame = generate_customers(400, seed=2)
    write_table(frame, tmp_path / "small.csv")
    spec = str(EXAMPLES / "demo.toml")
    args = ("train", "--data", str(tmp_path / "small.csv"), "--spec", spec, "--json")
    proc = run(*args, "--models", str(tmp_path / "m"))
    summary = json.loads(proc.stdout)
    assert proc.returncode == 0 and summary["promoted"] is False
    assert f"fewer than {MIN_HELD_OUT}" in summary["gate"]["why"]
    forced = json.loads(run(*args, "--models", str(tmp_path / "m"), "--promote", "always").stdout)
    assert forced["promoted"] is True
    assert isinstance(pd.read_csv(tmp_path / "small.csv"), pd.DataFrame)


def test_a_tier_the_playbook_does_not_know_is_a_training_warning(tmp_path: Path) -> None:
    """A spec tier the shipped playbook has no cues for trains with a warning naming it,
    not silently with generic cues."""
    frame = generate_customers(1500, seed=3)
    frame["tier"] = frame["tier"].replace({"standard": "regular"})
    write_table(frame, tmp_path / "c.csv")
    spec = (EXAMPLES / "demo.toml").read_text().replace('"standard"', '"regular"')
    (tmp_path / "spec.toml").write_text(spec)
    args = ("train", "--data", str(tmp_path / "c.csv"), "--spec", str(tmp_path / "spec.toml"))
    proc = run(*args, "--models", str(tmp_path / "m"))
    assert proc.returncode == 0, proc.stderr
    assert "the shipped playbook has no cues for regular" in proc.stdout
