"""`tierline uplift-report`: the measured uplift as a table for people and as JSON, and
bad dates refused with exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.command import assert_refused, run
from tests.conftest import record_uplift_log
from tierline.engine.playbook import Perk
from tierline.engine.store import Store

pytestmark = pytest.mark.slow  # real processes: the CLI, servers or a browser


@pytest.fixture
def db(tmp_path: Path) -> dict[str, str]:
    """A store with 40 treated and 30 holdout vip customers at lyon, 3 and 3 at nice."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    with Store.open(url) as store:
        store.sync_perks({"coffee": Perk("coffee", cost=2.5, stock=None, daily_budget=None)})
        record_uplift_log(store, treated=40, held=30)
        record_uplift_log(store, treated=3, held=3, site="nice")
    return {"TIERLINE_DATABASE_URL": url}


def test_json_has_the_intervals_and_the_net_value(db: dict[str, str]) -> None:
    """--json prints the report: the coffee row's spend difference of 20 with its interval
    and a net value 2.5 lower; --site keeps one site's customers."""
    proc = run("uplift-report", "--site", "lyon", "--json", env=db)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["site"] == "lyon" and report["customers"] == 70
    coffee = next(r for r in report["rows"] if r["perk"] == "coffee")
    spend, net = coffee["spend_difference"], coffee["net_value"]
    assert spend["estimate"] == pytest.approx(20.0) and spend["low"] < 20.0 < spend["high"]
    assert net["estimate"] == pytest.approx(17.5) and net["low"] == pytest.approx(
        spend["low"] - 2.5
    )
    every = json.loads(run("uplift-report", "--json", env=db).stdout)
    assert every["customers"] == 76 and every["site"] is None


def test_the_table_shows_figures_or_not_enough_data(db: dict[str, str]) -> None:
    """For people: a table with the differences and their intervals at lyon, and "not
    enough data yet" at nice, where each arm has 3 customers."""
    lyon = run("uplift-report", "--site", "lyon", env=db)
    assert lyon.returncode == 0, lyon.stderr
    assert "Measured uplift" in lyon.stdout and "coffee" in lyon.stdout
    assert "+20.00 [" in lyon.stdout and "+17.50 [" in lyon.stdout
    nice = run("uplift-report", "--site", "nice", env=db)
    table = nice.stdout.split("Measured uplift")[1].split("customers (first")[0]
    assert "not enough data yet" in table and "converted" not in table and "net of" not in table
    assert "Each arm needs 30 customers" in nice.stdout
    assert [line.split()[:5] for line in table.splitlines() if "vip" in line] == [
        ["vip", "(all)", "customers", "3", "3"],
        ["vip", "coffee", "customers", "3", "3"],
    ]


def test_bad_dates_are_refused(db: dict[str, str]) -> None:
    """A date that is not one, or an --until before --since: exit 2, the option named."""
    assert_refused(run("uplift-report", "--since", "March", env=db), "--since")
    assert_refused(
        run("uplift-report", "--since", "2026-05-02", "--until", "2026-05-01", env=db),
        "is not after --since",
    )


def test_a_window_without_decisions_reports_no_customers(db: dict[str, str]) -> None:
    """--until a day before the decisions were made: no customers and no rows; the JSON
    gives the window's end as an ISO time (the midnight after the last day)."""
    proc = run("uplift-report", "--until", "2020-01-01", "--json", env=db)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["until"] == "2020-01-02T00:00:00+00:00"
    assert json.loads(proc.stdout)["customers"] == 0 and json.loads(proc.stdout)["rows"] == []
