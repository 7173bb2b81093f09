"""The FastAPI app: ``create_app(settings)`` wires the store, the serving model and routers.

The lifespan opens the store, loads the champion (no loadable model means the fallback
answers, ``degraded``, and readiness is 503), syncs the playbook's perks, starts the
watcher that swaps in a newly promoted champion within ``reload_seconds`` and, with
``retention_days`` set, the retention task that prunes old signals every ``prune_seconds``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from tierline.api.decision_lane import PATH as DECISIONS_PATH
from tierline.api.decision_lane import DecisionLane
from tierline.api.errors import install_error_handlers
from tierline.api.group_commit import DecisionWriter
from tierline.api.limits import BodyLimits, KeyCache, RateLimiter
from tierline.api.metrics import Metrics, MetricsMiddleware
from tierline.api.routers import (
    customers,
    decisions,
    display,
    health,
    models,
    outcomes,
    pairing,
    perks,
    reports,
    visits,
)
from tierline.api.routers.customers import BULK_PATH
from tierline.api.serving import ServingModel, freeze_startup_objects
from tierline.api.settings import Settings, get_settings
from tierline.engine.errors import TierlineError
from tierline.engine.registry import Registry
from tierline.engine.store import Store
from tierline.engine.store.database import utcnow

__all__ = ["TierlineApp", "create_app", "create_app_from_env"]

log = logging.getLogger("tierline.api")


class TierlineApp(FastAPI):
    """FastAPI, with ``POST /v1/decisions`` handed to ``api.decision_lane`` before the
    middleware stack (the lane's docstring says why and what it does in their place)."""

    decision_lane: DecisionLane | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        lane = self.decision_lane
        if (
            lane is not None
            and scope["type"] == "http"
            and scope["path"] == DECISIONS_PATH
            and scope["method"] == "POST"
        ):
            await lane(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def create_app(settings: Settings | None = None, *, decision_lane: bool = True) -> TierlineApp:
    """A new app for ``settings`` (default: the environment's). ``decision_lane=False``
    serves ``POST /v1/decisions`` through FastAPI like every other route (for the test
    that compares the two)."""
    settings = settings or get_settings()
    metrics = Metrics()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = await run_in_threadpool(
            Store.open, settings.database_url, profiles=settings.profiles
        )
        try:
            serving = await run_in_threadpool(
                ServingModel,
                registry=Registry(settings.models),
                store=store,
                default_tier=settings.default_tier,
            )
            await run_in_threadpool(serving.refresh)
            if serving.current.model is None:
                log.warning(
                    "no loadable model in %s: answering with the default tier '%s' (degraded)",
                    settings.models,
                    settings.default_tier,
                )
            metrics.set_model(serving.current.version)
            app.state.store = store
            if store.dialect == "postgresql":  # replicas share it: their rate limits too
                app.state.limiter.share(store)
                app.state.pairing_limiter.share(store)
            app.state.serving = serving
            app.state.decision_writer = DecisionWriter(store)
            freeze_startup_objects()
            tasks = [asyncio.create_task(serving.watch(settings.reload_seconds))]
            if settings.retention_days is not None:
                tasks.append(
                    asyncio.create_task(
                        _retention(
                            store, days=settings.retention_days, every=settings.prune_seconds
                        )
                    )
                )
            try:
                yield
            finally:
                for task in tasks:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
        finally:
            store.close()

    app = TierlineApp(
        title="tierline",
        version="1",
        summary="Service tiers for arriving customers: who is this, and what do we do for them?",
        lifespan=lifespan,
        # A redirect to the slash-less path would be built from the request's Host header.
        redirect_slashes=False,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.limiter = RateLimiter(settings.rate_limit_per_minute)
    app.state.pairing_limiter = RateLimiter(settings.pairing_attempts_per_minute)
    app.state.key_cache = KeyCache(settings.key_cache_seconds)
    install_error_handlers(app)
    for module in (
        decisions,
        customers,
        visits,
        outcomes,
        perks,
        pairing,
        reports,
        models,
        health,
        display,
    ):
        app.include_router(module.router)
    # Outermost last: metrics see every response, including the 413s.
    app.add_middleware(
        BodyLimits,
        max_bytes=settings.max_body_bytes,
        timeout=settings.body_timeout_seconds,
        larger={BULK_PATH: settings.bulk_max_body_bytes},
    )
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    if decision_lane:
        app.decision_lane = DecisionLane(
            state=app.state,
            metrics=metrics,
            max_bytes=settings.max_body_bytes,
            body_timeout=settings.body_timeout_seconds,
        )
    return app


async def _retention(store: Store, *, days: int, every: float) -> None:
    """Scrub the signals of decisions and visits older than ``days`` at start-up, then every
    ``every`` seconds, in the thread pool: off the event loop and off the decision path."""
    while True:
        try:
            pruned = await run_in_threadpool(
                store.prune_signals, older_than=utcnow() - timedelta(days=days)
            )
        except TierlineError as error:  # the store is down: the next pass catches up
            log.warning("retention pass failed: %s", error)
        else:
            if any(pruned.values()):
                log.info(
                    "retention: scrubbed the signals of %d decisions and %d visits older "
                    "than %d days",
                    pruned["decisions"],
                    pruned["visits"],
                    days,
                )
        await asyncio.sleep(every)


def create_app_from_env() -> TierlineApp:
    """The factory ``tierline serve`` hands to uvicorn: settings from TIERLINE_* variables."""
    return create_app(get_settings())
