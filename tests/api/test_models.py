"""Models over HTTP and live swaps: promote, rollback, tampered refused, degraded without a model."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient

from tests.api.conftest import PLAIN, Keys, assert_error, clone_version, make_writable
from tierline.api.app import create_app
from tierline.api.settings import Settings
from tierline.engine.registry import Registry


def _version(client: TestClient, keys: Keys) -> str | None:
    r = client.post("/v1/decisions?explain=false", json={"signals": PLAIN}, headers=keys.pos)
    assert r.status_code == 200, r.text
    return r.json()["model_version"]


def _wait_for(client: TestClient, keys: Keys, version: str, timeout: float = 2.0) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if _version(client, keys) == version:
            return time.monotonic() - start
        time.sleep(0.05)
    raise AssertionError(f"model_version never became {version} within {timeout}s")


def test_list_promote_and_rollback_through_the_api(
    client: TestClient, keys: Keys, models_dir: Path
) -> None:
    """An admin lists versions, promotes one and rolls back; each change is audited and served."""
    clone_version(models_dir, "v0001", "v0002")
    listed = client.get("/v1/models", headers=keys.admin).json()
    assert [i["version"] for i in listed["items"]] == ["v0001", "v0002"]
    assert listed["champion"] == "v0001" and listed["serving"] == "v0001"
    r = client.post("/v1/models/v0002/promote", headers=keys.admin)
    assert r.status_code == 200, r.text
    assert r.json() == {"champion": "v0002", "previous": "v0001", "serving": "v0002"}
    assert _version(client, keys) == "v0002"
    back = client.post("/v1/models/rollback", headers=keys.admin)
    assert back.status_code == 200 and back.json()["champion"] == "v0001"
    assert _version(client, keys) == "v0001"
    actions = [e["action"] for e in client.app.state.store.audit_log(10)]  # type: ignore[attr-defined]
    assert actions[:2] == ["rollback", "promote"]


def test_unknown_version_is_404_and_tampered_is_409(
    client: TestClient, keys: Keys, models_dir: Path
) -> None:
    """Promoting an unknown version is 404; a tampered one is 409; the champion does not move."""
    assert_error(client.post("/v1/models/v0099/promote", headers=keys.admin), 404)
    assert_error(client.post("/v1/models/..%2Fetc/promote", headers=keys.admin), 404)
    clone_version(models_dir, "v0001", "v0002")
    make_writable(models_dir / "v0002")
    (models_dir / "v0002" / "policy.json").write_text("{}", encoding="utf-8")
    assert_error(client.post("/v1/models/v0002/promote", headers=keys.admin), 409)
    assert Registry(models_dir).champion() == "v0001"
    assert _version(client, keys) == "v0001"


def test_a_404_from_the_registry_does_not_name_the_models_folder(
    client: TestClient, keys: Keys, models_dir: Path
) -> None:
    """An unknown version, or a rollback with no champion, is a 404 that says what is
    missing without naming where the server keeps its models."""
    unknown = assert_error(client.post("/v1/models/v0099/promote", headers=keys.admin), 404)
    assert "'v0099'" in str(unknown["message"])
    (models_dir / "champion").unlink()
    nothing = assert_error(client.post("/v1/models/rollback", headers=keys.admin), 404)
    for error in (unknown, nothing):
        assert str(models_dir) not in str(error) and models_dir.parent.name not in str(error)


def test_promotion_by_the_registry_is_served_within_two_seconds(
    client: TestClient, keys: Keys, models_dir: Path
) -> None:
    """A promotion made outside the server (CLI, another worker) is picked up live."""
    clone_version(models_dir, "v0001", "v0002")
    assert _version(client, keys) == "v0001"
    Registry(models_dir).promote("v0002")
    assert _wait_for(client, keys, "v0002") < 2.0
    Registry(models_dir).rollback()
    _wait_for(client, keys, "v0001")


def test_tampered_new_champion_is_refused_and_the_old_keeps_serving(
    client: TestClient, keys: Keys, models_dir: Path
) -> None:
    """A champion pointer moved to a tampered version is refused; v0001 keeps answering."""
    clone_version(models_dir, "v0001", "v0002")
    make_writable(models_dir / "v0002")
    (models_dir / "v0002" / "model.txt").write_text("garbage", encoding="utf-8")
    (models_dir / "champion").write_text("v0002\n", encoding="utf-8")
    serving = client.app.state.serving  # type: ignore[attr-defined]
    deadline = time.monotonic() + 2.0
    while not serving.refused and time.monotonic() < deadline:
        time.sleep(0.05)
    assert serving.refused and serving.refused[-1][0] == "v0002"
    assert _version(client, keys) == "v0001"
    assert client.get("/readyz").status_code == 200


def test_without_a_model_decisions_are_degraded_and_not_ready(
    settings: Settings, tmp_path: Path
) -> None:
    """With no loadable model, decisions answer the default tier, degraded, and readyz is 503."""
    empty = settings.model_copy(update={"models": str(tmp_path / "no-models")})
    with TestClient(create_app(empty)) as c:
        key = {"X-API-Key": c.app.state.store.create_key(role="pos", site="s", name=None)[0]}  # type: ignore[attr-defined]
        r = c.post("/v1/decisions", json={"customer_id": "d-1", "signals": PLAIN}, headers=key)
        assert r.status_code == 200, r.text
        d = r.json()
        assert d["degraded"] is True and d["tier"] == "standard" and d["model_version"] is None
        assert d["cues"]
        v = c.post("/v1/visits", json={"signals": PLAIN}, headers=key)
        assert v.status_code == 201 and 200 <= v.json()["ticket"] <= 799
        assert assert_error(c.get("/readyz"), 503)["code"] == "not_ready"
        assert c.get("/healthz").status_code == 200
        text = c.get("/metrics").text
        assert "tierline_decisions_degraded_total 2.0" in text
        assert 'tierline_model_info{version="none"} 1.0' in text


def test_health_ready_and_metrics(client: TestClient, keys: Keys) -> None:
    """healthz and readyz are 200 with a model; metrics show requests, latency, tiers and version."""
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["model"] == "v0001"
    tier = client.post("/v1/decisions", json={"signals": PLAIN}, headers=keys.pos).json()["tier"]
    text = client.get("/metrics").text
    assert 'tierline_http_requests_total{method="POST",route="/v1/decisions",status="200"}' in text
    assert "tierline_http_request_duration_seconds_bucket" in text
    assert f'tierline_decisions_total{{tier="{tier}"}}' in text
    assert 'tierline_model_info{version="v0001"} 1.0' in text
