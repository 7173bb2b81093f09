"""Reports: the manager's view of today at the key's site (admin keys)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Query

from api.answers import ReportAnswer
from api.deps import AdminKey, StoreDep
from api.examples import documented

router = APIRouter(prefix="/v1/reports", tags=["reports"])


@router.get("/day", response_model=ReportAnswer, responses=documented("report"))
def day_report(
    key: AdminKey,
    store: StoreDep,
    day: dt.date | None = Query(default=None, description="UTC day, YYYY-MM-DD; default today"),
) -> dict[str, Any]:
    """Visits and spend by tier and by campaign, and perks issued against stock and budget,
    for one UTC day at the key's site (the manager view of the staff display)."""
    return store.day_report(key.site, day or dt.datetime.now(dt.UTC).date())
