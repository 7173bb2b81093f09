"""The store's visits: tickets, check-in and close, the staff display's view with overrides,
and the manager's day report in the site's time zone."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.engine.conftest import DAY, OUTCOME, in_threads, store_decision
from tierline.engine.errors import Conflict, NotFound
from tierline.engine.playbook import Perk
from tierline.engine.store import Store


# -- visits ----------------------------------------------------------------------------------
def _check_in(store: Store, *, site: str = "paris", tickets: tuple[int, int] = (1, 3)) -> int:
    visit = store.open_visit(
        site=site,
        ticket_range=tickets,
        decision_id=store_decision(store, site=site),
        customer_id="c1",
        party_size=2,
    )
    return int(visit["ticket"])


def test_tickets_are_the_lowest_free_and_reused_after_close(store: Store) -> None:
    """Open visits hold distinct tickets per site; a closed ticket is handed out again."""
    assert [_check_in(store), _check_in(store)] == [1, 2]
    assert _check_in(store, site="lyon") == 1
    store.close_visit("paris", 1, spend=40.0)
    assert _check_in(store) == 1
    assert _check_in(store) == 3


def test_a_full_ticket_range_is_a_conflict(store: Store) -> None:
    """When every ticket of the range is open, check-in is a Conflict."""
    for _ in range(3):
        _check_in(store)
    with pytest.raises(Conflict, match="1-3"):
        _check_in(store)


def test_concurrent_check_ins_get_distinct_tickets(store: Store) -> None:
    """40 simultaneous check-ins at one site get 40 different tickets, the lowest ones."""
    decision_id = store_decision(store)

    def check_in(_: int) -> int:
        visit = store.open_visit(
            site="paris",
            ticket_range=(100, 199),
            decision_id=decision_id,
            customer_id=None,
            party_size=None,
        )
        return int(visit["ticket"])

    assert sorted(in_threads(check_in, 40, threads=8)) == list(range(100, 140))


def test_another_sites_ticket_is_not_found_like_a_missing_one(store: Store) -> None:
    """Another site's ticket raises NotFound with exactly the message of an unused ticket."""
    with pytest.raises(NotFound) as unused:
        store.get_visit("paris", 1)
    ticket = _check_in(store, site="lyon")
    assert ticket == 1
    with pytest.raises(NotFound) as foreign:
        store.get_visit("paris", ticket)
    with pytest.raises(NotFound) as closing:
        store.close_visit("paris", ticket, spend=1.0)
    assert str(foreign.value) == str(unused.value) == str(closing.value)
    assert store.get_visit("lyon", ticket)["closed_at"] is None


def test_closing_twice_is_a_conflict(store: Store) -> None:
    """A closed visit keeps its spend and closing it again is a Conflict."""
    ticket = _check_in(store)
    closed = store.close_visit("paris", ticket, spend=120.5)
    assert closed["spend"] == 120.5 and closed["closed_at"] >= closed["opened_at"]
    assert store.get_visit("paris", ticket) == closed
    with pytest.raises(Conflict, match="already closed"):
        store.close_visit("paris", ticket, spend=1.0)


def test_open_visits_are_listed_newest_first_for_their_site_only(store: Store) -> None:
    """The display list holds the site's open visits, newest first."""
    first, second, third = _check_in(store), _check_in(store), _check_in(store)
    _check_in(store, site="lyon")
    store.close_visit("paris", second, spend=0.0)
    listed = store.list_open_visits("paris")
    assert [v["ticket"] for v in listed] == [third, first]
    assert all(v["closed_at"] is None and v["party_size"] == 2 for v in listed)


def test_a_visit_for_an_unknown_decision_is_not_found(store: Store) -> None:
    """Checking in with a decision id that was never stored is NotFound."""
    with pytest.raises(NotFound, match="Decision"):
        store.open_visit(
            site="paris",
            ticket_range=(1, 5),
            decision_id="f" * 32,
            customer_id=None,
            party_size=None,
        )


# -- the staff display's view of visits ------------------------------------------------------
def _visit(store: Store, *, source: dict[str, Any] | None = None) -> tuple[int, str]:
    decision_id = store_decision(store)
    visit = store.open_visit(
        site="paris",
        ticket_range=(1, 99),
        decision_id=decision_id,
        customer_id="c1",
        party_size=2,
        source=source,
    )
    return int(visit["ticket"]), decision_id


def test_a_visit_view_carries_decision_source_and_marked_cues(store: Store) -> None:
    """The display's view: the decision, where the customer came from (unicode intact), and
    the cues marked by outcomes, the latest mark of a cue winning."""
    source = {"campaign": "printemps ☀", "landing_page": "/menu"}
    ticket, decision_id = _visit(store, source=source)
    store.record_outcome(
        site="paris", idempotency_key="k1", body={**OUTCOME, "decision_id": decision_id}
    )
    view = store.get_visit("paris", ticket)
    assert view["source"] == source and view["tier"] == "vip" and view["override"] is None
    assert view["decision"]["cues"][0]["code"] == "welcome_coffee"
    assert view["accepted"] == sorted(OUTCOME["accepted"])
    correction = {
        **OUTCOME,
        "decision_id": decision_id,
        "accepted": [],
        "declined": ["welcome_coffee"],
    }
    store.record_outcome(site="paris", idempotency_key="k2", body=correction)
    [listed] = store.list_open_visits("paris")
    assert listed["declined"] == ["welcome_coffee"] and listed["accepted"] == []
    assert not {"close_key", "override_key", "id"} & set(listed)


def test_override_is_stored_and_audited_once_per_idempotency_key(
    store: Store, raw: Callable[[str], list[Any]]
) -> None:
    """An override changes the tier in force and writes one audit row; a replay with the
    same key writes none; the key with another body, or a closed visit, is a Conflict."""
    ticket, decision_id = _visit(store)
    view, replay = store.override_visit(
        "paris",
        ticket,
        tier="student",
        reason="Carte étudiante",
        actor="k-staff",
        idempotency_key="o1",
    )
    assert not replay and view["tier"] == "student" and view["decision"]["tier"] == "vip"
    assert view["override"]["reason"] == "Carte étudiante" and view["override"]["by"] == "k-staff"
    again, replay = store.override_visit(
        "paris",
        ticket,
        tier="student",
        reason="Carte étudiante",
        actor="k-staff",
        idempotency_key="o1",
    )
    assert replay and again == view
    [entry] = [e for e in store.audit_log() if e["action"] == "override"]
    assert entry["detail"]["from"] == "vip" and entry["detail"]["to"] == "student"
    with pytest.raises(Conflict, match="another override"):
        store.override_visit(
            "paris", ticket, tier="vip", reason="x", actor="k-staff", idempotency_key="o1"
        )
    store.close_visit("paris", ticket, spend=10.0)
    with pytest.raises(Conflict, match="closed"):
        store.override_visit("paris", ticket, tier="vip", reason="x", actor="k-staff")
    assert len(raw("SELECT id FROM audit WHERE action = 'override'")) == 1
    assert store.get_visit("paris", ticket)["tier"] == "student"
    assert decision_id == view["decision_id"]


def test_close_with_an_idempotency_key_replays_instead_of_conflicting(store: Store) -> None:
    """A tablet retrying a close it is unsure of gets the closed visit back; the same key
    with another spend, or a close without the key, is a Conflict."""
    ticket, _ = _visit(store)
    first = store.close_visit("paris", ticket, spend=42.0, idempotency_key="c1")
    assert store.close_visit("paris", ticket, spend=42.0, idempotency_key="c1") == first
    with pytest.raises(Conflict, match="spend 42"):
        store.close_visit("paris", ticket, spend=43.0, idempotency_key="c1")
    with pytest.raises(Conflict, match="already closed"):
        store.close_visit("paris", ticket, spend=42.0)


def test_day_report_totals_visits_spend_and_perks(url: str) -> None:
    """The manager's day: visits and spend by tier in force and by campaign, perks issued
    against stock and budget; other days and other sites are left out."""
    now = [datetime(2025, 11, 26, 12, 0, tzinfo=UTC)]
    with Store.open(url, clock=lambda: now[0]) as store:
        store.sync_perks({"coffee": Perk("coffee", cost=2.5, stock=10, daily_budget=20.0)})
        assert store.take_perk("coffee", day=DAY)
        a, _ = _visit(store, source={"campaign": "spring_menu"})
        b, _ = _visit(store, source={"campaign": "spring_menu"})
        c, _ = _visit(store)
        store.override_visit("paris", c, tier="standard", reason="walk-in", actor="k")
        store.close_visit("paris", a, spend=100.0)
        store.close_visit("paris", c, spend=30.5)
        now[0] = datetime(2025, 11, 27, 9, 0, tzinfo=UTC)
        _visit(store, source={"campaign": "spring_menu"})  # the next day
        report = store.day_report("paris", DAY)
        assert store.day_report("lyon", DAY)["visits"] == 0
    assert report["visits"] == 3 and report["spend"] == 130.5
    assert report["by_tier"] == [
        {"tier": "standard", "visits": 1, "open": 0, "spend": 30.5},
        {"tier": "vip", "visits": 2, "open": 1, "spend": 100.0},
    ]
    assert report["by_campaign"] == [
        {"campaign": "(none)", "visits": 1, "spend": 30.5},
        {"campaign": "spring_menu", "visits": 2, "spend": 100.0},
    ]
    assert report["perks"] == [
        {"perk": "coffee", "issued": 1, "spent": 2.5, "stock_left": 9, "daily_budget": 20.0}
    ]
    assert b != a


def _campaigns_by_day(
    url: str, opened: list[tuple[str, datetime]], days: list[date], zones: list[tzinfo]
) -> dict[tuple[str, date], set[str]]:
    """Open a visit per ``(campaign, opened_at)``; the campaigns each zone's report of each
    of ``days`` counts, by ``(zone name, day)``."""
    now = [opened[0][1]]
    found: dict[tuple[str, date], set[str]] = {}
    with Store.open(url, clock=lambda: now[0]) as store:
        for campaign, at in opened:
            now[0] = at
            _visit(store, source={"campaign": campaign})
        for zone, day in itertools.product(zones, days):
            report = store.day_report("paris", day, zone=zone)
            assert report["timezone"] == str(zone) and report["day"] == day.isoformat()
            found[str(zone), day] = {c["campaign"] for c in report["by_campaign"]}
    return found


def test_day_report_counts_visits_on_the_sites_local_day(url: str) -> None:
    """In Europe/Berlin (UTC+1 in November) a visit at 23:30 UTC counts on the next day and
    one at 23:10 UTC the day before on this one; in UTC (the default zone) they do not."""
    opened = [
        ("late_25th_utc", datetime(2025, 11, 25, 23, 10, tzinfo=UTC)),
        ("early_26th", datetime(2025, 11, 26, 0, 30, tzinfo=UTC)),
        ("evening_26th", datetime(2025, 11, 26, 22, 59, tzinfo=UTC)),
        ("late_26th_utc", datetime(2025, 11, 26, 23, 30, tzinfo=UTC)),
    ]
    zones = [ZoneInfo("Europe/Berlin"), UTC]
    found = _campaigns_by_day(url, opened, [DAY, DAY + timedelta(1)], zones)
    assert found == {
        ("Europe/Berlin", DAY): {"late_25th_utc", "early_26th", "evening_26th"},
        ("Europe/Berlin", DAY + timedelta(1)): {"late_26th_utc"},
        ("UTC", DAY): {"early_26th", "evening_26th", "late_26th_utc"},
        ("UTC", DAY + timedelta(1)): set(),
    }


@pytest.mark.parametrize(
    ("day", "before", "first", "last", "after"),
    [
        # Spring forward: 23 hours, from 23:00 UTC (CET) to 22:00 UTC (CEST).
        (date(2025, 3, 30), (3, 29, 22, 59), (3, 29, 23, 0), (3, 30, 21, 59), (3, 30, 22, 0)),
        # Fall back: 25 hours, from 22:00 UTC (CEST) to 23:00 UTC (CET).
        (date(2025, 10, 26), (10, 25, 21, 59), (10, 25, 22, 0), (10, 26, 22, 59), (10, 26, 23, 0)),
    ],
)
def test_day_report_on_a_daylight_saving_day(
    url: str,
    day: date,
    before: tuple[int, ...],
    first: tuple[int, ...],
    last: tuple[int, ...],
    after: tuple[int, ...],
) -> None:
    """On a daylight-saving change the Berlin day is 23 or 25 hours long: its first and
    last minutes count, the minutes either side of it do not."""
    opened = [
        (name, datetime(2025, *t, tzinfo=UTC))
        for name, t in (("before", before), ("first", first), ("last", last), ("after", after))
    ]
    found = _campaigns_by_day(url, opened, [day], [ZoneInfo("Europe/Berlin")])
    assert found == {("Europe/Berlin", day): {"first", "last"}}
