"""The access log: one line per answered request, naming the route's template, never its
path or query string.

A path can carry a customer id (``GET /v1/customers/{customer_id}``), so uvicorn's own
access log, which prints the path and query as sent, is switched off (``api.server``)
and this one takes its place. Its lines read like uvicorn's, without the colours: a plain
``logging.Formatter`` over a message built here is much cheaper than uvicorn's formatter,
which copies each record (figures in benchmarks/README.md).
"""

from __future__ import annotations

import logging
from http import HTTPStatus

from starlette.types import Scope

__all__ = ["ACCESS_FORMAT", "ACCESS_LOGGER", "log_request"]

ACCESS_LOGGER = "tierline.access"
ACCESS_FORMAT = "%(levelname)s:     %(message)s"  # uvicorn's "INFO:     " prefix
_log = logging.getLogger(ACCESS_LOGGER)
_PHRASES = {int(s): f"{int(s)} {s.phrase}" for s in HTTPStatus}


def log_request(scope: Scope, route: str, status: int) -> None:
    """Log one request under its route template (``unmatched`` for a path of no route)."""
    if not _log.isEnabledFor(logging.INFO):
        return
    client = scope.get("client")
    _log.info(
        '%s - "%s %s HTTP/%s" %s',
        f"{client[0]}:{client[1]}" if client else "-",
        scope["method"],
        route,
        scope.get("http_version", "1.1"),
        _PHRASES.get(status, status),
    )
