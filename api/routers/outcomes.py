"""Outcomes: what happened after a decision, recorded once per Idempotency-Key."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from tierline.api.answers import OutcomeAnswer
from tierline.api.deps import IdempotencyKey, SnapshotDep, StaffKey, StoreDep
from tierline.api.errors import ApiError
from tierline.api.examples import documented
from tierline.api.schemas import OutcomeRequest
from tierline.engine.errors import NotFound

router = APIRouter(prefix="/v1/outcomes", tags=["outcomes"])


@router.post(
    "",
    status_code=201,
    response_model=OutcomeAnswer,
    responses=documented("outcome", 400, 404, 413, status=201),
)
def post_outcome(
    body: OutcomeRequest,
    idempotency_key: IdempotencyKey,
    key: StaffKey,
    store: StoreDep,
    serving: SnapshotDep,
    response: Response,
) -> dict[str, Any]:
    """Record an outcome once; a replay with the same key returns the first result (201)."""
    known = serving.playbook.cue_codes
    unknown = sorted({*body.accepted, *body.declined} - known)
    if unknown:
        raise ApiError(
            422,
            "unknown_cue",
            f"Unknown cue code(s): {', '.join(unknown)}",
            {"unknown": unknown, "known": sorted(known)},
        )
    decision = store.get_decision(body.decision_id)
    if decision is None or decision["site"] != key.site:
        # The same words for another site's decision as for one that never existed.
        raise NotFound(f"Decision '{body.decision_id}' does not exist")
    outcome, replay = store.record_outcome(
        site=key.site, idempotency_key=idempotency_key, body=body.model_dump(mode="json")
    )
    response.headers["Idempotent-Replayed"] = "true" if replay else "false"
    return outcome
