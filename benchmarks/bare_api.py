"""The limit of the ``http`` benchmark: a bare FastAPI app with tierline's request body.

``POST /v1/decisions`` parses and validates the same pydantic body as tierline's route
(``api.schemas.DecisionRequest``: strict, closed, the either-id-or-signals check), takes
the same ``explain`` query parameter and answers a small JSON object. There is no key
check, no store, no model and no middleware: what is left is uvicorn, Starlette routing,
FastAPI's body parsing and validation and the JSON response, which every FastAPI service
pays per request. ``benchmarks.bench_http`` serves it the way ``tierline serve`` serves
tierline (``api.server.serve``: uvicorn, the same workers each on its own SO_REUSEPORT
socket, same host, same log level, one access line per request: uvicorn's own, as a FastAPI
service has it by default, where tierline writes its own) and sends it the same bytes.

The handler is ``async def``: the floor of the framework, with no hop to the thread pool.
``POST /v1/decisions/sync`` is the same handler as a plain ``def`` (FastAPI runs it in the
thread pool, as it runs tierline's handler and its key and store dependencies); the
benchmark reports it without a target, to show what that hop costs on its own.

Run it by hand with ``python -m benchmarks.bare_api --port 8001 --workers 2``.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from tierline.api.schemas import DecisionRequest

__all__ = ["app"]

app = FastAPI(title="bare", version="1")


def _answer(body: DecisionRequest) -> dict[str, Any]:
    # Echo something of the validated body, so the validation cannot be skipped.
    return {
        "customer_id": body.customer_id,
        "tier": "standard",
        "signals": len(body.signals or {}),
        "degraded": False,
    }


@app.post("/v1/decisions")
async def decide(body: DecisionRequest, explain: bool = True) -> dict[str, Any]:
    """Validate the body and answer a fixed small decision."""
    return _answer(body)


@app.post("/v1/decisions/sync")
def decide_sync(body: DecisionRequest, explain: bool = True) -> dict[str, Any]:
    """The same, as a sync handler run in the thread pool."""
    return _answer(body)


@app.get("/readyz")
async def ready() -> dict[str, str]:
    """Polled by the benchmark before it sends load, like tierline's readiness."""
    return {"status": "ready"}


if __name__ == "__main__":
    import argparse

    from tierline.api.server import serve

    parser = argparse.ArgumentParser(description="serve the bare app as tierline serve does")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--workers", type=int, default=1)
    options = parser.parse_args()
    serve(
        host=options.host,
        port=options.port,
        workers=options.workers,
        app="benchmarks.bare_api:app",
        factory=False,
        uvicorn_access_log=True,  # on by default in uvicorn, as every FastAPI service has it
    )
