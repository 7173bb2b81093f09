"""Probability calibration: fitted on the validation slice, applied on every path, and
reported before and after on the held-out customers."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import Trained
from tierline.engine.calibration import Calibration
from tierline.engine.registry import Registry
from tierline.training.calibrate import fit_calibration, reliability


def _overconfident_binary(n: int = 4000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    logit = rng.normal(0, 1.5, n)
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(np.float64)
    return y, 1 / (1 + np.exp(-3.0 * logit))  # three times too sure


def test_platt_scaling_undoes_overconfidence_and_keeps_the_ranking() -> None:
    """Probabilities three times too sure get a slope near 1/3; the calibrated ones have a
    lower calibration error and the same order."""
    y, p = _overconfident_binary()
    found = fit_calibration("binary", y, p)
    assert found.method == "platt" and found.a == pytest.approx(1 / 3, abs=0.06)
    after = found.apply(p)
    assert reliability("binary", y, after)["ece"] < reliability("binary", y, p)["ece"] / 3
    assert (np.argsort(after, kind="stable") == np.argsort(p, kind="stable")).all()


def test_temperature_scaling_keeps_each_customers_likeliest_tier() -> None:
    """Overconfident class probabilities get a temperature above 1, the argmax is unchanged
    and the log loss drops."""
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 1.2, (3000, 3))
    truth = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = np.array([rng.choice(3, p=row) for row in truth], dtype=np.float64)
    sharp = np.exp(3 * logits) / np.exp(3 * logits).sum(axis=1, keepdims=True)
    found = fit_calibration("class", y, sharp)
    assert found.method == "temperature" and found.temperature > 2
    after = found.apply(sharp)
    assert (after.argmax(axis=1) == sharp.argmax(axis=1)).all()
    assert reliability("class", y, after)["log_loss"] < reliability("class", y, sharp)["log_loss"]


def test_no_calibration_where_it_cannot_help() -> None:
    """Value targets, too few rows, and probabilities already right are left alone."""
    y, p = _overconfident_binary(100)
    assert fit_calibration("binary", y, p) == Calibration()
    assert fit_calibration("value", np.ones(500), np.ones(500)) == Calibration()
    rng = np.random.default_rng(3)
    honest = rng.uniform(size=5000)
    labels = (rng.uniform(size=5000) < honest).astype(np.float64)
    kept = fit_calibration("binary", labels, honest)
    assert kept.method == "none" or kept.a == pytest.approx(1.0, abs=0.1)


def test_a_trained_version_serves_its_calibration(trained: Trained) -> None:
    """The version's policy carries the calibration fitted at training; the metadata has the
    held-out reliability before and after; one customer and a batch read calibrated outputs."""
    model = Registry(trained.models).load(trained.result.version)
    meta = model.metadata["calibration"]
    assert meta["method"] == model.policy.calibration.method
    assert {"ece", "log_loss", "bins"} <= set(meta["before"]) and meta["after"]["ece"] >= 0
    assert meta["after"]["log_loss"] <= meta["before"]["log_loss"] + 0.01
    X = np.zeros((1, model.features.n_features_out_))
    raw = model.predict_matrix(X)
    assert np.allclose(model.policy.calibrate(raw), model.policy.calibration.apply(raw))
    assert "calibration:" in trained.result.report
