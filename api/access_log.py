"""The access log: one line per answered request, naming the route's template, never its
path or query string.

A path can carry a customer id (``GET /v1/customers/{customer_id}``), so uvicorn's own
access log, which prints the path and query as sent, is switched off (``api.server``)
and this one takes its place. Its lines look like uvicorn's and use uvicorn's formatter.
"""

from __future__ import annotations

import logging

from starlette.types import Scope

__all__ = ["ACCESS_LOGGER", "log_request"]

ACCESS_LOGGER = "tierline.access"
_log = logging.getLogger(ACCESS_LOGGER)


def log_request(scope: Scope, route: str, status: int) -> None:
    """Log one request under its route template (``unmatched`` for a path of no route)."""
    if not _log.isEnabledFor(logging.INFO):
        return
    client = scope.get("client")
    _log.info(
        '%s - "%s %s HTTP/%s" %d',
        f"{client[0]}:{client[1]}" if client else "-",
        scope["method"],
        route,
        scope.get("http_version", "1.1"),
        status,
    )
