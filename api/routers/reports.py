"""Reports: the manager's view of today at the key's site (admin keys)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import AfterValidator, BeforeValidator

from tierline.api.deps import AdminKey, ModelDep, SettingsDep, StoreDep
from tierline.api.examples import documented

router = APIRouter(prefix="/v1/reports", tags=["reports"])

_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
# Midnight to midnight of every day in this range exists in every time zone.
_FIRST, _LAST = dt.date(1970, 1, 1), dt.date(9999, 12, 30)


def _iso_text(value: object) -> object:
    # pydantic would read a number such as ?day=0 as seconds since 1970.
    if not isinstance(value, str) or not _ISO_DAY.fullmatch(value):
        raise ValueError("day must be a date written YYYY-MM-DD")
    return value


def _in_range(day: dt.date) -> dt.date:
    if not _FIRST <= day <= _LAST:
        raise ValueError(f"day must be from {_FIRST} to {_LAST}")
    return day


Day = Annotated[dt.date, BeforeValidator(_iso_text), AfterValidator(_in_range)]


@router.get("/day", responses=documented("report"))
def day_report(
    key: AdminKey,
    store: StoreDep,
    settings: SettingsDep,
    model: ModelDep,
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
