"""Errors as HTTP: one table from domain errors to statuses, one JSON shape everywhere.

Every error body is ``{"error": {"code", "message", "details"}}``. Domain errors know
nothing of HTTP (engine/errors.py); this module is the only place that maps them. Logs
carry no request body and no statement parameter (the engines hide them, and a driver's
DETAIL line, which may quote a row, is cut from a logged trace).
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterator, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match

from tierline.api.schemas import CUSTOMER_ID_PATTERN, NO_NUL
from tierline.engine.errors import (
    ArtifactError,
    Conflict,
    CuesNotOffered,
    DataError,
    Gone,
    IdempotencyKeyReused,
    NotFound,
    PlaybookError,
    SpecError,
    StoreError,
    TierlineError,
    UnknownSignals,
)
from tierline.engine.store.raw import without_values

__all__ = [
    "STATUS",
    "ApiError",
    "clean_errors",
    "error_body",
    "error_response",
    "flat_routes",
    "install_error_handlers",
    "validation_response",
]

log = logging.getLogger("tierline.api")

# The one table: the first matching class wins (most specific first).
STATUS: tuple[tuple[type[TierlineError], int, str], ...] = (
    (UnknownSignals, 422, "unknown_signals"),  # details.signals names them
    (CuesNotOffered, 422, "cue_not_offered"),  # details.unknown names them
    (SpecError, 422, "spec_error"),
    (DataError, 422, "data_error"),
    (PlaybookError, 422, "playbook_error"),
    (NotFound, 404, "not_found"),
    (Gone, 410, "gone"),  # a pairing code spent or expired
    # The IETF Idempotency-Key draft's status: the request, not the state, is at fault.
    (IdempotencyKeyReused, 422, "idempotency_key_reused"),
    (Conflict, 409, "conflict"),
    (ArtifactError, 409, "artifact_error"),  # a tampered/corrupt version refused on promote
    (StoreError, 503, "store_unavailable"),
    (TierlineError, 422, "refused"),
)

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    410: "gone",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    503: "unavailable",
}


class ApiError(Exception):
    """An HTTP-level refusal raised by the API itself (auth, limits, request checks)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    """The one error shape."""
    return {"error": {"code": code, "message": message, "details": details}}


def _json(
    status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(error_body(code, message, details), status_code=status, headers=headers)


def error_response(exc: Exception) -> JSONResponse:
    """The answer to an error raised while serving a request: the one table for domain
    errors, the API's own refusals, and a logged 500 for anything else. The exception
    handlers below and the decision lane (``api.decision_lane``) both answer with it."""
    if isinstance(exc, ApiError):
        return _json(exc.status, exc.code, exc.message, exc.details, exc.headers)
    if isinstance(exc, TierlineError):
        for cls, status, code in STATUS:
            if isinstance(exc, cls):
                if status >= 500:
                    log.warning("store unavailable: %s", exc)
                return _json(status, code, str(exc), exc.details)
    # No exc_info: the trace is logged without the values a database error may quote.
    log.error("unexpected error\n%s", without_values("".join(traceback.format_exception(exc))))
    return _json(500, "internal_error", "Internal error; the server log has the details")


def _msg(error: Any) -> Any:
    """pydantic's words, but the NUL refusal says so rather than quoting its pattern."""
    ctx = error.get("ctx") or {}
    if error.get("type") == "string_pattern_mismatch" and ctx.get("pattern") == NO_NUL:
        return "Text should not contain the NUL character (\\u0000)"
    if error.get("type") == "string_pattern_mismatch" and ctx.get("pattern") == CUSTOMER_ID_PATTERN:
        return (
            "A customer id is 1 to 128 characters from A-Z, a-z, 0-9 and . _ : @ - "
            "(no spaces, '/', NUL or other control characters)"
        )
    return error.get("msg")


def clean_errors(errors: list[Any]) -> list[dict[str, Any]]:
    """pydantic's errors as the error body's ``details`` list them: where, what, why."""
    # ctx may hold exception objects; input may be large or not JSON-able: keep it short.
    return [{"loc": list(e.get("loc", ())), "type": e.get("type"), "msg": _msg(e)} for e in errors]


def validation_response(errors: list[Any]) -> JSONResponse:
    """A request that failed validation: 400 for JSON that does not parse, else 422 naming
    the first field at fault. ``errors`` are pydantic's, with ``loc`` from the request
    (``body``, ``query``, ...) as FastAPI reports them."""
    if any(e.get("type") == "json_invalid" for e in errors):
        return _json(
            400, "malformed_json", "The request body is not valid JSON", clean_errors(errors)
        )
    first = errors[0] if errors else {}
    # A NUL in a signal's name is in the location too: shown escaped, as JSON writes it.
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body").replace("\x00", "\\u0000")
    message = f"{where}: {_msg(first)}" if where else str(first.get("msg", "invalid request"))
    return _json(422, "validation_error", message, clean_errors(errors))


async def _error(_: Request, exc: Exception) -> JSONResponse:
    return error_response(exc)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return validation_response(list(exc.errors()))


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    headers = dict(exc.headers or {})
    message = str(exc.detail)
    if exc.status_code == 405:
        # Starlette's Allow names the methods of the first route at the path only.
        headers["Allow"] = ", ".join(_allowed_methods(request)) or headers.get("Allow", "")
        message = f"{request.method} is not allowed here; use {headers['Allow']}"
    return _json(exc.status_code, code, message, None, headers or None)


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route of the app takes at the request's path."""
    methods: set[str] = set()
    for route in flat_routes(request.app.router.routes):
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            methods.update(getattr(route, "methods", None) or ())
    return sorted(methods)


def flat_routes(routes: Sequence[BaseRoute]) -> Iterator[BaseRoute]:
    """Every route, those of included routers too: FastAPI keeps an included router as one
    entry wrapping it. The app includes its routers without a prefix of their own, so
    their routes match the full path."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from flat_routes(inner.routes)
        else:
            yield route


def install_error_handlers(app: FastAPI) -> None:
    """Register every handler on ``app``."""
    app.add_exception_handler(ApiError, _error)
    app.add_exception_handler(TierlineError, _error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _error)
