"""Dependencies as ``Annotated`` aliases: settings, store, model, and the API key's role.

They are ``async``: each sync dependency costs a hop to the thread pool, and these only
read app state. The key check reads the store only when the key
is not in the short-lived ``KeyCache``.

Roles nest: ``staff`` < ``pos`` < ``admin``; a route names the least role it needs with
``StaffKey``, ``PosKey`` or ``AdminKey`` (a test fails any route that names none).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, Request
from starlette.concurrency import run_in_threadpool

from tierline.api.errors import ApiError
from tierline.api.limits import KeyCache, RateLimiter
from tierline.api.metrics import Metrics
from tierline.api.schemas import NO_NUL
from tierline.api.serving import Serving, ServingModel
from tierline.api.settings import Settings
from tierline.engine.store import ROLES, Store

__all__ = [
    "AdminKey",
    "ApiKey",
    "IdempotencyKey",
    "MetricsDep",
    "OptionalIdempotencyKey",
    "PosKey",
    "ServingDep",
    "SettingsDep",
    "SnapshotDep",
    "StaffKey",
    "StoreDep",
    "check_key",
    "on_store",
    "require",
]

T = TypeVar("T")
_RANK = {role: i for i, role in enumerate(ROLES)}  # staff 0, pos 1, admin 2


@dataclass(frozen=True)
class ApiKey:
    """The caller: a live key's public record."""

    id: str
    role: str
    site: str
    name: str | None


async def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


async def get_serving_model(request: Request) -> ServingModel:
    serving: ServingModel = request.app.state.serving
    return serving


async def get_snapshot(request: Request) -> Serving:
    """The current model snapshot (model and fallback), read once for the whole request."""
    serving: ServingModel = request.app.state.serving
    return serving.current


async def get_metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


async def on_store(store: Store, fn: Callable[..., T], /, **kwargs: Any) -> T:
    """Run ``fn(**kwargs)``, a short piece of work on the store, where it is cheapest.

    On SQLite it runs right here on the event loop: the work is local and short and its
    writers queue on a kernel lock, while a hop to the thread pool costs more than the
    work and the pool's threads then fight over the GIL (benchmarks/README.md, "Figures
    behind design choices"). On PostgreSQL the work waits on the network, so it goes to
    the thread pool and the loop keeps serving.
    """
    if store.dialect == "sqlite":
        return fn(**kwargs)
    return await run_in_threadpool(fn, **kwargs)


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
StoreDep = Annotated[Store, Depends(get_store)]
ServingDep = Annotated[ServingModel, Depends(get_serving_model)]
SnapshotDep = Annotated[Serving, Depends(get_snapshot)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]

# A client that is unsure whether its post arrived sends it again with the same key.
IdempotencyKey = Annotated[
    str, Header(alias="Idempotency-Key", min_length=1, max_length=200, pattern=NO_NUL)
]
OptionalIdempotencyKey = Annotated[
    str | None, Header(alias="Idempotency-Key", min_length=1, max_length=200, pattern=NO_NUL)
]


async def check_key(state: Any, x_api_key: str | None, role: str) -> ApiKey:
    """The caller's key, if it is live, of ``role`` or a higher one, and within its rate
    limit: 401, 403 or 429 otherwise. ``state`` is the app's (key cache, store, limiter).
    The ``require`` dependencies and the decision lane (``api.decision_lane``) check keys
    with it."""
    if not x_api_key:
        raise ApiError(
            401,
            "unauthorized",
            "Missing X-API-Key header",
            headers={"WWW-Authenticate": "X-API-Key"},
        )
    cache: KeyCache = state.key_cache
    key: ApiKey | None = cache.get(x_api_key)
    if key is None:
        store: Store = state.store
        record = await on_store(store, store.authenticate, plaintext=x_api_key)
        if record is None:
            raise ApiError(
                401,
                "unauthorized",
                "Unknown or revoked API key",
                headers={"WWW-Authenticate": "X-API-Key"},
            )
        key = ApiKey(id=record["id"], role=record["role"], site=record["site"], name=record["name"])
        cache.put(x_api_key, key)
    limiter: RateLimiter = state.limiter
    wait = limiter.take(key.id)
    if wait is None:  # shared buckets, nothing leased here (no coroutine on the usual path)
        wait = await limiter.admit(key.id)
    if wait > 0:
        raise ApiError(
            429,
            "rate_limited",
            f"Too many requests for key {key.id}; retry after {RateLimiter.retry_after(wait)} s",
            {"retry_after_seconds": round(wait, 3)},
            headers={"Retry-After": RateLimiter.retry_after(wait)},
        )
    if _RANK[key.role] < _RANK[role]:
        raise ApiError(
            403,
            "forbidden",
            f"This route needs a {role} key or higher; key {key.id} is {key.role}",
        )
    return key


def require(role: str) -> Callable[..., Awaitable[ApiKey]]:
    """A dependency that lets through keys of ``role`` or a higher one (403 otherwise).

    One dependency with no sub-dependencies: FastAPI pays for each dependency it
    resolves, and this one runs on every request.
    """
    if role not in _RANK:  # fails when the routes are declared, not on a request
        raise ValueError(f"unknown role {role!r}; one of {sorted(_RANK)}")

    async def dependency(
        request: Request,
        x_api_key: Annotated[str | None, Header(alias="X-API-Key")] = None,
    ) -> ApiKey:
        return await check_key(request.app.state, x_api_key, role)

    dependency.required_role = role  # type: ignore[attr-defined]  # read by the route test
    dependency.__name__ = f"require_{role}"
    return dependency


StaffKey = Annotated[ApiKey, Depends(require("staff"))]
PosKey = Annotated[ApiKey, Depends(require("pos"))]
AdminKey = Annotated[ApiKey, Depends(require("admin"))]


def role_of(dependant: Any) -> str | None:
    """The role a route's dependency tree requires, if any (for the route test)."""
    call = getattr(dependant, "call", None)
    role = getattr(call, "required_role", None)
    if role is not None:
        return str(role)
    for sub in getattr(dependant, "dependencies", ()):
        found = role_of(sub)
        if found is not None:
            return found
    return None
