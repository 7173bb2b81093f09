"""The staff display: one static page, its script modules and style, served under a strict
content security policy (no inline script, nothing from other origins).

The page holds no data. It asks the API for the open visits with the staff key typed into
it, which it keeps in session storage and sends only in the ``X-API-Key`` header, so the
key never appears in a URL or an access log.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import Response

from tierline.api.errors import ApiError

router = APIRouter(tags=["display"], include_in_schema=False)

_FILES = Path(__file__).resolve().parent.parent / "display"
# The script is ES modules that import each other by file name, so every .js file of the
# folder is served; the list is fixed at import, so nothing else there is reachable.
_TYPES = {p.name: "text/javascript; charset=utf-8" for p in sorted(_FILES.glob("*.js"))} | {
    "display.css": "text/css; charset=utf-8",
}
# 'self' only, and no 'unsafe-inline' anywhere: injected markup cannot run or style.
CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


@cache
def _read(name: str) -> bytes:
    return (_FILES / name).read_bytes()


@router.get("/display")
def display_page() -> Response:
    """The staff display (a tablet at the pass or the host stand)."""
    return Response(_read("index.html"), media_type="text/html; charset=utf-8", headers=_HEADERS)


@router.get("/display/{asset}")
def display_asset(asset: str) -> Response:
    """The page's script modules and style sheet (nothing else is served from here)."""
    if asset not in _TYPES:
        raise ApiError(404, "not_found", f"No display asset '{asset}'")
    return Response(_read(asset), media_type=_TYPES[asset], headers=_HEADERS)
