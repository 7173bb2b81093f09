"""Prometheus metrics: requests and latency per route, decisions by tier, fallbacks, ignored
signals, drift per signal, model.

Each app has its own registry, so several apps in one process (tests) do not collide.
Under ``tierline serve --workers N`` (or with ``PROMETHEUS_MULTIPROC_DIR`` set) the
workers write their numbers to files in that folder (prometheus-client's multiprocess
mode) and ``/metrics`` on any worker sums them: counts and histograms over all workers,
the model per worker (``pid`` label), drift as last computed by any worker.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tierline.api.access_log import log_request

__all__ = ["CONTENT_TYPE_LATEST", "MULTIPROC_DIR", "Metrics", "MetricsMiddleware"]

# prometheus-client reads it when imported: set it before, as ``api.server`` does.
MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"


class Metrics:
    """The service's instruments, in one registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.multiprocess = bool(os.environ.get(MULTIPROC_DIR))
        self._version: str | None = None  # the model label last set
        self.requests = Counter(
            "tierline_http_requests_total",
            "HTTP requests by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "tierline_http_request_duration_seconds",
            "HTTP request latency by method and route template.",
            ["method", "route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=self.registry,
        )
        self.decisions = Counter(
            "tierline_decisions_total", "Decisions by tier.", ["tier"], registry=self.registry
        )
        self._by_tier: dict[str, Any] = {}
        self._requests: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self.fallbacks = Counter(
            "tierline_decisions_degraded_total",
            "Decisions answered by the fallback (no model loaded).",
            registry=self.registry,
        )
        # Unlabelled: the names are the customer's, unbounded; the answers list them.
        self.ignored_signals = Counter(
            "tierline_signals_ignored_total",
            "Signal names sent with decisions that nothing uses (misspelt or unknown).",
            registry=self.registry,
        )
        self.ignoring = Counter(
            "tierline_decisions_ignoring_signals_total",
            "Decisions whose request sent at least one signal that nothing uses.",
            registry=self.registry,
        )
        self.drift = Gauge(
            "tierline_drift_psi",
            "Population stability index of each signal against the training rows, as last "
            "computed by GET /v1/reports/drift (>= 0.25: act).",
            ["signal"],
            registry=self.registry,
            multiprocess_mode="mostrecent",
        )
        self.model = Gauge(
            "tierline_model_info",
            "The serving model version (1 for the version served; 'none' when degraded).",
            ["version"],
            registry=self.registry,
            multiprocess_mode="liveall",
        )

    def count_decisions(self, decisions: Iterable[dict[str, object]]) -> None:
        for d in decisions:
            tier = str(d["tier"])
            counter = self._by_tier.get(tier)
            if counter is None:  # labels() checks and locks on every call
                counter = self._by_tier[tier] = self.decisions.labels(tier=tier)
            counter.inc()
            if d.get("degraded"):
                self.fallbacks.inc()
            ignored = d.get("ignored_signals")
            if isinstance(ignored, list) and ignored:
                self.ignored_signals.inc(len(ignored))
                self.ignoring.inc()

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request and its latency under its route template."""
        key = (method, route, status)
        children = self._requests.get(key)
        if children is None:
            # prometheus_client's labels() checks and locks on every call; the set of
            # (method, route template, status) is small, so each child is looked up once.
            children = self._requests[key] = (
                self.requests.labels(method, route, str(status)),
                self.latency.labels(method, route),
            )
        children[0].inc()
        children[1].observe(seconds)

    def answered(self, scope: Scope, route: str, status: int, start: float) -> None:
        """Count, time (from ``start``, a ``perf_counter``) and log one answered request:
        how the middleware and the decision lane both end a request."""
        self.observe_request(scope["method"], route, status, time.perf_counter() - start)
        log_request(scope, route, status)

    def set_drift(self, signals: Iterable[dict[str, Any]]) -> None:
        """Replace the drift gauges with a report's signals (none: too few decisions)."""
        self.drift.clear()
        for s in signals:
            self.drift.labels(signal=str(s["signal"])).set(float(s["psi"]))

    def set_model(self, version: str | None) -> None:
        label = version or "none"
        if self.multiprocess:
            # clear() forgets children in memory only; the worker's file keeps their values.
            if self._version is not None and self._version != label:
                self.model.labels(version=self._version).set(0)
        else:
            self.model.clear()
        self.model.labels(version=label).set(1)
        self._version = label

    def exposition(self) -> bytes:
        """The Prometheus text: this registry's, or every worker's summed in multiprocess
        mode."""
        if not self.multiprocess:
            return generate_latest(self.registry)
        merged = CollectorRegistry()
        MultiProcessCollector(merged)
        return generate_latest(merged)


class MetricsMiddleware:
    """Counts, times and logs every HTTP request by its route template (not the raw path)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        start = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            self.metrics.answered(scope, getattr(route, "path", None) or "unmatched", status, start)
