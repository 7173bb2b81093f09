"""The serving model: the champion (or the fallback), swapped live when the pointer moves.

Handlers read ``ServingModel.current`` once per request: a frozen snapshot replaced by a
single attribute assignment, so a request never sees half a swap. A background task asks
``refresh`` every ``reload_seconds``; a new champion is loaded and verified before the
swap, and a tampered or corrupt one is refused while the old one keeps serving.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
from dataclasses import dataclass

from tierline.engine.decisions import Fallback
from tierline.engine.errors import TierlineError
from tierline.engine.model import TierModel
from tierline.engine.playbook import Playbook
from tierline.engine.registry import Registry
from tierline.engine.store import Store

__all__ = ["Serving", "ServingModel", "freeze_startup_objects"]

log = logging.getLogger("tierline.api")

_DEFAULT_TIERS = ("vip", "standard", "student")


@dataclass(frozen=True)
class Serving:
    """One consistent view: the model (None when degraded) and the fallback."""

    model: TierModel | None
    fallback: Fallback

    @property
    def playbook(self) -> Playbook:
        return self.model.playbook if self.model is not None else self.fallback.playbook

    @property
    def version(self) -> str | None:
        return self.model.version if self.model is not None else None


def freeze_startup_objects(*, collect: bool = True) -> None:
    """Leave what is loaded now (the model, the libraries, the app) out of the cyclic
    garbage collector's full passes, which otherwise walk all of it: measured here, one
    full pass took 80-90 ms with a model loaded, a stall for every request in flight on
    that worker, and 0.0 ms after ``gc.freeze()``. Frozen objects are still freed by
    reference counting when nothing refers to them; only those in reference cycles stay.
    ``collect=False`` skips the collection before freezing (90 ms on the event loop)."""
    if collect:
        gc.collect()
    gc.freeze()


class ServingModel:
    """Holds the current ``Serving`` and reloads it when the ``champion`` pointer changes."""

    def __init__(self, *, registry: Registry, store: Store, default_tier: str) -> None:
        self.registry = registry
        self._store = store
        tiers = list(dict.fromkeys([default_tier, *_DEFAULT_TIERS]))
        fallback = Fallback(default_tier, Playbook.default(tiers=tiers))
        # Degraded cues may name perks too; a model's playbook declares their stock.
        store.sync_perks(fallback.playbook.perks, declare=False)
        self.current = Serving(model=None, fallback=fallback)
        self._seen: str | None = None  # the pointer text last acted on
        self._lock = threading.Lock()
        self.refused: list[tuple[str, str]] = []  # (version, reason), newest last

    def refresh(self, *, force: bool = False) -> bool:
        """Load the champion if the pointer moved (or ``force``); True if a swap happened."""
        with self._lock:
            try:
                pointer = self.registry.champion()
            except OSError as exc:
                log.warning("cannot read the champion pointer: %s", exc)
                return False
            if pointer == self._seen and not force:
                return False
            self._seen = pointer
            if pointer is None or pointer == self.current.version:
                return False
            try:
                model = self.registry.load(pointer)
                model.warm()  # here, in the loader's thread, not on the first decision
                self._store.sync_perks(model.playbook.perks)
            except TierlineError as exc:
                self.refused.append((pointer, str(exc)))
                log.error(
                    "model %s refused, still serving %s: %s",
                    pointer,
                    self.current.version or "the fallback (degraded)",
                    exc,
                )
                return False
            previous = self.current.version
            self.current = Serving(model=model, fallback=self.current.fallback)
            log.info("now serving model %s (was %s)", model.version, previous or "none")
            return True

    async def watch(self, interval: float) -> None:
        """Poll the pointer forever (cancelled at shutdown); loading runs in a thread."""
        while True:
            await asyncio.sleep(interval)
            try:
                if await asyncio.to_thread(self.refresh):
                    # The new model lives as long as the old one did.
                    freeze_startup_objects(collect=False)
            except Exception:  # the watcher must outlive any one failure
                log.exception("model reload check failed")
