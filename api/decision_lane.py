"""``POST /v1/decisions`` served straight from the ASGI scope: the decision route's lane.

Why: it is the route every till calls for every arriving customer, and FastAPI's
machinery (the middleware layers, routing, dependency solving, JSON parsing then
validation, response serialisation) costs more CPU per request than a plain ASGI
handler of the same body (benchmarks/README.md, "Figures behind design choices"), which
a decision (the model, the profile look-up, the write) has to fit next to. So
``TierlineApp`` hands this one path and method to ``DecisionLane`` before its middleware
stack, and the lane does, in this order, what that machinery does for the route:

1. 413 for a body over the limit (by Content-Length, or counted as it arrives), 408 for
   one that takes longer than the body timeout to arrive (``api.limits.BodyLimits``);
2. the key (``api.deps.check_key``): 401, 403 or 429, before the body is parsed, so a
   request without a key is a 401 whatever its body;
3. ``explain`` parsed as FastAPI parses a ``bool`` query parameter (422 otherwise);
4. the body parsed and validated in one pass (``DecisionRequest.model_validate_json``),
   with FastAPI's content-type rule: JSON when the type is ``application/json`` or
   ``+json``, otherwise the body is not an object (422);
5. the decision (``api.routers.decisions.decide_and_store``: the route's own code),
   answered as JSON by pydantic's encoder, as FastAPI encodes it;
6. errors in the one shape (``api.errors``), and a logged 500 for a bug;
7. the request counted and timed in the metrics, and logged, under the route's template.

The route stays declared in ``api.routers.decisions`` for the OpenAPI document and the
role test, and answers there too (an app mounted under a prefix, say). Everything after
parsing is shared with it (``check_key``, ``decide_and_store``, ``api.errors``,
``Metrics.answered``); a property test sends generated requests both ways and compares
the answers, and another fails on a middleware of the app missing from ``STANDS_IN_FOR``
(tests/api/test_decision_lane_equivalence.py). One difference is on purpose: a bad key
is refused before the body is parsed, where FastAPI answers 400 for malformed JSON first.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any
from urllib.parse import parse_qsl

from pydantic import TypeAdapter, ValidationError
from pydantic_core import to_json
from starlette.types import Receive, Scope, Send

from tierline.api.deps import check_key
from tierline.api.errors import ApiError, error_response, validation_response
from tierline.api.limits import declared_too_large, refuse_too_large, refuse_too_slow, send_json
from tierline.api.metrics import Metrics
from tierline.api.routers.decisions import decide_and_store
from tierline.api.schemas import DecisionRequest

__all__ = ["PATH", "STANDS_IN_FOR", "DecisionLane"]

PATH = "/v1/decisions"  # the route's template in the metrics, too
_BOOL = TypeAdapter(bool)
_EXPLAIN = {b"": True, b"explain=false": False, b"explain=true": True}  # what tills send
_CLIENT_GONE = 499  # the client left before its answer (nginx's number; nothing is sent)

# Every layer of the app's middleware stack (FastAPI's and the app's, by class name) and
# what the lane does in its place (the steps above): a test fails on any layer not named.
STANDS_IN_FOR = {
    "ServerErrorMiddleware": "6: a logged 500 in the error shape",
    "ExceptionTelemetryMiddleware": "nothing: it feeds FastAPI's native telemetry, left off",
    "AppBodyLimitMiddleware": "1: the app sets no body limit of FastAPI's, BodyLimits is it",
    "MetricsMiddleware": "7: Metrics.answered, the middleware's own ending",
    "BodyLimits": "1: the same limits and refusals (api.limits)",
    "ExceptionMiddleware": "6: the app's exception handlers' answers (api.errors)",
    "AsyncExitStackMiddleware": "nothing: it closes uploaded files; the route takes none",
}


class _Invalid(Exception):
    """A request that failed validation, with pydantic's errors located as FastAPI does."""

    def __init__(self, errors: list[Any]) -> None:
        super().__init__("invalid request")
        self.errors = errors


class _Gone(Exception):
    """The client disconnected while its body was arriving."""


class DecisionLane:
    """The ASGI handler of ``POST /v1/decisions`` (see the module's docstring)."""

    def __init__(
        self, *, state: Any, metrics: Metrics, max_bytes: int, body_timeout: float
    ) -> None:
        self._state = state  # the app's state: store, serving model, keys, writer
        self._metrics = metrics
        self._max_bytes = max_bytes
        self._body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        start = time.perf_counter()
        status = 500
        try:
            status = await self._serve(scope, receive, send)
        finally:
            self._metrics.answered(scope, PATH, status, start)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> int:
        if declared_too_large(scope, self._max_bytes):
            await refuse_too_large(send, self._max_bytes)
            return 413
        try:
            async with asyncio.timeout(self._body_timeout):
                body = await self._body(receive)
        except _Gone:
            return _CLIENT_GONE
        except TimeoutError:
            await refuse_too_slow(send, self._body_timeout)
            return 408
        if body is None:
            await refuse_too_large(send, self._max_bytes)
            return 413
        try:
            answer = await self._decide(scope, body)
        except _Invalid as invalid:
            response = validation_response(invalid.errors)
        except Exception as error:  # the one error shape, as the app's handlers answer
            response = error_response(error)
        else:
            await send_json(send, 200, answer)
            return 200
        await response(scope, receive, send)
        return response.status_code

    async def _body(self, receive: Receive) -> bytes | None:
        """The whole body, or None once it passes the limit (the rest is left unread)."""
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Gone
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > self._max_bytes:
                return None
            if not message.get("more_body", False):
                if not chunks:
                    return chunk  # the usual case: the whole body in one message
                chunks.append(chunk)
                return b"".join(chunks)
            chunks.append(chunk)

    async def _decide(self, scope: Scope, body: bytes) -> bytes:
        state = self._state
        key = await check_key(state, _header(scope, b"x-api-key"), "pos")
        explain, errors = _explain(scope.get("query_string", b""))
        try:
            request = _request(_header(scope, b"content-type"), body)
        except _Invalid as invalid:
            if invalid.errors[0]["type"] == "json_invalid":
                raise  # FastAPI refuses JSON it cannot parse before it validates anything
            raise _Invalid([*errors, *invalid.errors]) from None  # FastAPI lists them all
        if errors:
            raise _Invalid(errors)
        decision = await decide_and_store(
            state,
            site=key.site,
            customer_id=request.customer_id,
            signals=request.signals,
            explain=explain,
        )
        return to_json(decision)


def _header(scope: Scope, name: bytes) -> str | None:
    """The first value of header ``name`` (lower case), as Starlette decodes it."""
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


def _explain(query_string: bytes) -> tuple[bool, list[Any]]:
    """``explain`` as FastAPI reads a ``bool`` query parameter: the last one given, lax
    ("false", "0", "no", "off", ... any case); True when absent. With the errors that
    refuse it: FastAPI reports them together with the body's."""
    known = _EXPLAIN.get(query_string)
    if known is not None:
        return known, []
    value = None
    for name, given in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if name == "explain":
            value = given
    if value is None:
        return True, []
    try:
        return bool(_BOOL.validate_python(value)), []
    except ValidationError as error:
        return True, [{**e, "loc": ("query", "explain", *e["loc"])} for e in error.errors()]


def _request(content_type: str | None, body: bytes) -> DecisionRequest:
    """The validated body, refused as FastAPI refuses it."""
    if not body:
        raise _Invalid([{"type": "missing", "loc": ("body",), "msg": "Field required"}])
    is_json = content_type is not None and _is_json(content_type)
    if is_json:
        try:
            return DecisionRequest.model_validate_json(body)  # parse and validate in one pass
        except ValidationError:
            pass  # refused below, in FastAPI's words
    return _as_fastapi(body, is_json=is_json)


def _as_fastapi(body: bytes, *, is_json: bool) -> DecisionRequest:
    """FastAPI's own steps (``json.loads``, then validation of the Python value, or of the
    bytes when the type is not JSON), so that a refusal reads as on every other route.
    Only refused requests take this path."""
    value: Any = body
    if is_json:
        try:
            value = json.loads(body)
        except json.JSONDecodeError as error:
            raise _Invalid(
                [{"type": "json_invalid", "loc": ("body", error.pos), "msg": "JSON decode error"}]
            ) from None
        except (ValueError, RecursionError):
            # Not UTF-8, or nested too deep to parse: FastAPI's words for a body it cannot read.
            raise ApiError(400, "bad_request", "There was an error parsing the body") from None
    try:
        return DecisionRequest.model_validate(value, from_attributes=True)
    except ValidationError as error:
        raise _Invalid([{**e, "loc": ("body", *e["loc"])} for e in error.errors()]) from None


def _is_json(content_type: str) -> bool:
    main, _, sub = content_type.partition(";")[0].strip().lower().partition("/")
    return main == "application" and (sub == "json" or sub.endswith("+json"))
