"""Reports: the manager's view of today and the measured uplift at the key's site, and
the signals' drift (admin keys)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import AfterValidator, BeforeValidator

from tierline.api.answers import DriftAnswer, ReportAnswer, UpliftAnswer
from tierline.api.deps import AdminKey, MetricsDep, SettingsDep, SnapshotDep, StoreDep
from tierline.api.errors import ApiError
from tierline.api.examples import documented
from tierline.engine.drift import drift_report, drift_window, training_profile
from tierline.engine.errors import NotFound
from tierline.engine.uplift import measure_uplift

router = APIRouter(prefix="/v1/reports", tags=["reports"])

_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
# Midnight to midnight of every day in this range exists in every time zone.
_FIRST, _LAST = dt.date(1970, 1, 1), dt.date(9999, 12, 30)


def _iso_text(value: object) -> object:
    # pydantic would read a number such as ?day=0 as seconds since 1970.
    if not isinstance(value, str) or not _ISO_DAY.fullmatch(value):
        raise ValueError("must be a date written YYYY-MM-DD")
    return value


def _in_range(day: dt.date) -> dt.date:
    if not _FIRST <= day <= _LAST:
        raise ValueError(f"must be a day from {_FIRST} to {_LAST}")
    return day


Day = Annotated[dt.date, BeforeValidator(_iso_text), AfterValidator(_in_range)]


@router.get("/day", response_model=ReportAnswer, responses=documented("report"))
def day_report(
    key: AdminKey,
    store: StoreDep,
    settings: SettingsDep,
    model: SnapshotDep,
    day: Annotated[
        Day | None,
        Query(description="The site's local day, YYYY-MM-DD; default today at the site"),
    ] = None,
) -> dict[str, Any]:
    """Visits and spend by tier and by campaign, and perks issued against stock and budget,
    for one day in the site's time zone at the key's site (the manager view of the staff
    display). Perks are named by their playbook text."""
    zone = settings.zone_for(key.site)
    report = store.day_report(key.site, day or dt.datetime.now(zone).date(), zone=zone)
    known = model.playbook.perks
    for perk in report["perks"]:
        found = known.get(perk["perk"])
        perk["text"] = found.text if found is not None and found.text else perk["perk"]
    return report


@router.get("/drift", response_model=DriftAnswer, responses=documented("drift", 404, 409))
def drift(
    _key: AdminKey,
    store: StoreDep,
    model: SnapshotDep,
    metrics: MetricsDep,
    since: Annotated[
        Day | None,
        Query(
            description="First day of the window, YYYY-MM-DD, UTC; default 7 days before the end"
        ),
    ] = None,
    until: Annotated[
        Day | None,
        Query(description="Last day of the window (included), YYYY-MM-DD, UTC; default up to now"),
    ] = None,
) -> dict[str, Any]:
    """PSI per signal between the decisions logged in the window (every site and model
    version) and the serving model's training rows: below 0.1 stable, from 0.1 watch,
    from 0.25 act. Sets the `tierline_drift_psi` gauges."""
    if model.model is None:
        raise NotFound("No model is loaded; drift compares the decisions with its training rows")
    start, end = drift_window(since=since, until=until, now=dt.datetime.now(dt.UTC))
    version = model.model.version
    report = drift_report(
        training=training_profile(model.model.metadata, version),
        pages=store.logged_decisions(since=start, until=end),
        model_version=version,
        since=start,
        until=end,
    )
    metrics.set_drift(report["signals"])
    return report


# -- measured uplift -------------------------------------------------------------------------


@router.get("/uplift", response_model=UpliftAnswer, responses=documented("uplift"))
def uplift_report(
    key: AdminKey,
    store: StoreDep,
    settings: SettingsDep,
    since: Annotated[
        Day | None, Query(description="First day (the site's), YYYY-MM-DD; default all")
    ] = None,
    until: Annotated[
        Day | None, Query(description="Last day included (the site's), YYYY-MM-DD; default today")
    ] = None,
) -> dict[str, Any]:
    """Treated against holdout per tier and per perk at the key's site: customers,
    conversion rate, spend per customer, the differences with 95 % intervals and the net
    value after the perks' cost; "not enough data yet" below the minimum sample."""
    if since is not None and until is not None and until < since:
        raise ApiError(
            422, "validation_error", f"until {until} is before since {since}", details=None
        )
    zone = settings.zone_for(key.site)

    def midnight(day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(), tzinfo=zone)

    report = measure_uplift(
        store,
        site=key.site,
        since=None if since is None else midnight(since),
        until=None if until is None else midnight(until + dt.timedelta(days=1)),
    )
    return {"site": key.site, "since": since, "until": until, "timezone": str(zone), **report}
