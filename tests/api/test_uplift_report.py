"""GET /v1/reports/uplift: treated against holdout at the key's site, with intervals once
each arm has enough customers, and only counts before; admin keys; bad dates are 422."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import OTHER_SITE, SITE, Keys, assert_error, site_key
from tests.conftest import record_uplift_log
from tierline.engine.uplift import mean_difference


def test_enough_customers_give_differences_with_their_intervals(
    client: TestClient, keys: Keys
) -> None:
    """With 40 treated and 30 holdout customers the vip and coffee rows carry rates, spend,
    the differences with their intervals and the net value after the coffee's cost."""
    store = client.app.state.store  # type: ignore[attr-defined]
    record_uplift_log(store, treated=40, held=30)
    answer = client.get("/v1/reports/uplift", headers=keys.admin)
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["site"] == SITE and report["customers"] == 70
    rows = {r["perk"]: r for r in report["rows"]}
    assert set(rows) == {None, "coffee"} and all(r["tier"] == "vip" for r in rows.values())
    coffee = rows["coffee"]
    assert coffee["enough_data"] and coffee["note"] is None
    assert coffee["treated"] == {
        "customers": 40,
        "conversion_rate": 0.5,
        "spend_per_customer": 50.0,
    }
    assert coffee["holdout"] == {
        "customers": 30,
        "conversion_rate": 0.0,
        "spend_per_customer": 30.0,
    }
    expected = mean_difference([50.0] * 40, [20.0, 40.0] * 15)
    assert coffee["spend_difference"] == pytest.approx(expected.as_dict())
    cost = client.get("/v1/perks", headers=keys.admin).json()["items"]
    [coffee_cost] = [p["cost"] for p in cost if p["name"] == "coffee"]
    assert coffee["cost_per_customer"] == pytest.approx(coffee_cost)
    assert coffee["net_value"]["low"] == pytest.approx(expected.low - coffee_cost)
    assert coffee["conversion_difference"]["estimate"] == pytest.approx(0.5)
    assert rows[None]["spend_difference"] == coffee["spend_difference"]


def test_below_the_minimum_only_counts_are_answered(client: TestClient, keys: Keys) -> None:
    """29 holdout customers: every row says not enough data yet, with the counts and no
    figure; another site's decisions are not counted."""
    store = client.app.state.store  # type: ignore[attr-defined]
    record_uplift_log(store, treated=40, held=29)
    record_uplift_log(store, treated=5, held=5, site=OTHER_SITE)
    report = client.get("/v1/reports/uplift", headers=keys.admin).json()
    assert report["customers"] == 69 and report["min_customers"] == 30
    for row in report["rows"]:
        assert not row["enough_data"] and row["holdout"]["customers"] == 29
        assert "not enough data yet" in row["note"]
        assert row["spend_difference"] is None and row["treated"]["conversion_rate"] is None


def test_the_window_is_of_the_sites_days(client: TestClient, keys: Keys) -> None:
    """?since and ?until are days in the site's time zone: a window that ends yesterday
    or starts tomorrow holds none of today's decisions, today's holds them all."""
    store = client.app.state.store  # type: ignore[attr-defined]
    record_uplift_log(store, treated=3, held=2)
    today = dt.datetime.now(dt.UTC).date()
    day = dt.timedelta(days=1)

    def counted(**window: dt.date) -> int:
        params = {k: v.isoformat() for k, v in window.items()}
        answer = client.get("/v1/reports/uplift", params=params, headers=keys.admin)
        assert answer.status_code == 200, answer.text
        assert answer.json()["since"] == params.get("since")
        return int(answer.json()["customers"])

    assert counted(until=today - 2 * day) == 0
    assert counted(since=today + 2 * day) == 0
    assert counted(since=today - day, until=today + day) == 5


@pytest.mark.parametrize(
    "params",
    [
        {"since": "yesterday"},
        {"until": "2025-02-30"},
        {"since": "0"},
        {"until": "9999-12-31"},
        {"since": "2026-05-02", "until": "2026-05-01"},
    ],
)
def test_bad_dates_are_a_422(client: TestClient, keys: Keys, params: dict[str, str]) -> None:
    """A date not written YYYY-MM-DD, an impossible or out-of-range one, or an until before
    since is a 422 in the one error shape, naming the parameter."""
    error = assert_error(client.get("/v1/reports/uplift", params=params, headers=keys.admin), 422)
    assert any(name in str(error["message"]) for name in params)


def test_only_admin_keys_see_the_uplift(client: TestClient, keys: Keys) -> None:
    """A pos or staff key is refused with a 403; another site's admin sees its own site."""
    for headers in (keys.pos, keys.staff):
        assert_error(client.get("/v1/reports/uplift", headers=headers), 403)
    record_uplift_log(client.app.state.store, treated=2, held=2)  # type: ignore[attr-defined]
    other = client.get("/v1/reports/uplift", headers=site_key(client, "admin", OTHER_SITE))
    assert other.json()["site"] == OTHER_SITE and other.json()["rows"] == []
