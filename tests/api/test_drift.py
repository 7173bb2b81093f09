"""GET /v1/reports/drift: the PSI per signal of the logged decisions against the serving
model's training rows, the gauges it sets, its dates and its refusals (the roles are in
test_auth's matrix)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import Keys, assert_error, site_key
from tests.conftest import Trained, champion_rewritten, log_decisions, training_signals
from tierline.api.app import create_app
from tierline.api.settings import Settings

SHIFTED = "campaign"


def _gauge(text: str, signal: str) -> float:
    found = re.search(rf'^tierline_drift_psi{{signal="{signal}"}} (\S+)$', text, re.MULTILINE)
    assert found, text
    return float(found.group(1))


def test_a_shifted_signal_acts_and_its_gauge_says_so(
    any_client: TestClient, trained: Trained
) -> None:
    """Decisions drawn from the training rows, with every guest sent by one campaign: that
    signal acts, the others stay under 0.1, and /metrics has a gauge per signal (SQLite and
    PostgreSQL)."""
    client = any_client
    rows = [{**r, SHIFTED: "spring_menu"} for r in training_signals(trained, 600)]
    log_decisions(client.app.state.store, rows)  # type: ignore[attr-defined]
    answer = client.get("/v1/reports/drift", headers=site_key(client, "admin"))
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["band"] == "act" and report["enough"] and report["decisions"] == 600
    assert report["model_version"] == trained.result.version
    first, *others = report["signals"]
    assert first["signal"] == SHIFTED and first["psi"] >= 0.25 and first["band"] == "act"
    assert all(s["psi"] < 0.1 and s["band"] == "stable" for s in others), others
    metrics = client.get("/metrics").text
    assert _gauge(metrics, SHIFTED) == pytest.approx(first["psi"])
    assert _gauge(metrics, others[0]["signal"]) == pytest.approx(others[0]["psi"])


def test_too_few_decisions_answer_a_message(client: TestClient, keys: Keys) -> None:
    """Without enough decisions in the window the answer is a 200 with no figures and a
    message; a window in the past holds none of today's."""
    report = client.get("/v1/reports/drift", headers=keys.admin).json()
    assert report["enough"] is False and report["signals"] == [] and report["band"] is None
    assert "Not enough decisions yet" in report["message"]
    past = client.get(
        "/v1/reports/drift",
        params={"since": "2020-01-01", "until": "2020-01-07"},
        headers=keys.admin,
    ).json()
    assert past["since"].startswith("2020-01-01") and past["until"].startswith("2020-01-08")


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"since": "last week"}, "since"),
        ({"until": "2026-02-30"}, "until"),
        ({"since": "0"}, "since"),
        ({"since": "2026-03-05", "until": "2026-03-01"}, "is after until"),
    ],
)
def test_bad_dates_are_a_422(
    client: TestClient, keys: Keys, params: dict[str, str], needle: str
) -> None:
    """A date that is not YYYY-MM-DD, or a window that ends before it starts, is a 422 in
    the one error shape."""
    error = assert_error(client.get("/v1/reports/drift", params=params, headers=keys.admin), 422)
    assert needle in str(error["message"])


def test_a_champion_without_a_profile_says_retrain(settings: Settings, models_dir: Path) -> None:
    """A serving version written before drift has no profile: a 409 that says to retrain."""
    champion_rewritten(models_dir, lambda meta: {k: v for k, v in meta.items() if k != "drift"})
    with TestClient(create_app(settings)) as client:
        plaintext, _ = client.app.state.store.create_key(role="admin", site="lyon", name=None)  # type: ignore[attr-defined]
        error = assert_error(client.get("/v1/reports/drift", headers={"X-API-Key": plaintext}), 409)
    assert "retrain" in str(error["message"])


def test_without_a_model_drift_is_a_404(settings: Settings, tmp_path: Path) -> None:
    """A degraded server (no model) has no training rows to compare with: a 404."""
    empty = Settings(**{**settings.model_dump(), "models": str(tmp_path / "no-models")})
    with TestClient(create_app(empty)) as client:
        plaintext, _ = client.app.state.store.create_key(role="admin", site="lyon", name=None)  # type: ignore[attr-defined]
        error = assert_error(client.get("/v1/reports/drift", headers={"X-API-Key": plaintext}), 404)
    assert "No model is loaded" in str(error["message"])
