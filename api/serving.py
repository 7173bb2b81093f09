"""The serving model: the champion (or the fallback), swapped live when the pointer moves.

Handlers read ``ServingModel.current`` once per request: a frozen snapshot replaced by a
single attribute assignment, so a request never sees half a swap. A background task
looks at the pointer every ``reload_seconds`` (one ``stat``); when it moved, ``refresh``
swaps in the new champion, verified (every digest, on every swap), loaded and warmed (its
compiled forest checked) before the swap. A tampered or corrupt one is refused while the
old one keeps serving. Each process keeps the last few versions it served loaded and
warm, and prepares the rollback target at start, so a rollback or a second promotion of
a version swaps without loading it again.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
from collections import OrderedDict
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
# Versions kept loaded and warm per process: the champion, the one it replaced (the
# rollback target) and one more; each holds its booster and compiled forest in memory.
KEEP_READY = 3


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
    garbage collector's full passes, which otherwise walk all of it and stall every request
    in flight on that worker (benchmarks/README.md, "Figures behind design choices").
    Frozen objects are still freed by reference counting when nothing refers to them; only
    those in reference cycles stay. ``collect=False`` skips the collection before freezing,
    which is itself a pause on the event loop."""
    if collect:
        gc.collect()
    gc.freeze()


class ServingModel:
    """Holds the current ``Serving`` and reloads it when the ``champion`` pointer changes."""

    def __init__(
        self, *, registry: Registry, store: Store, default_tier: str, keep: int = KEEP_READY
    ) -> None:
        self.registry = registry
        self._store = store
        tiers = list(dict.fromkeys([default_tier, *_DEFAULT_TIERS]))
        fallback = Fallback(default_tier, Playbook.default(tiers=tiers))
        # Degraded cues may name perks too; a model's playbook declares their stock.
        store.sync_perks(fallback.playbook.perks, declare=False)
        self.current = Serving(model=None, fallback=fallback)
        self._seen: str | None = None  # the pointer text last acted on
        self._stamp: tuple[int, int, int] | None = None  # the pointer's stat when last read
        self._lock = threading.Lock()
        self._ready: OrderedDict[str, TierModel] = OrderedDict()  # least recently served first
        self._keep = max(1, keep)
        self._listed = set(registry.versions())  # versions seen in the folder so far
        self._versions_stamp = registry.versions_stamp()
        self.refused: list[tuple[str, str]] = []  # (version, reason), newest last

    def pointer_moved(self) -> bool:
        """Whether the pointer file was replaced since ``refresh`` last read it (one stat)."""
        return self.registry.champion_stamp() != self._stamp

    def refresh(self, *, force: bool = False) -> bool:
        """Swap to the champion if the pointer moved (or ``force``); True if a swap happened."""
        with self._lock:
            stamp = self.registry.champion_stamp()
            try:
                pointer = self.registry.champion()
            except OSError as exc:
                log.warning("cannot read the champion pointer: %s", exc)
                return False
            self._stamp = stamp
            if pointer == self._seen and not force:
                return False
            self._seen = pointer
            if pointer is None or pointer == self.current.version:
                return False
            try:
                model = self._ready_model(pointer)
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

    def versions_changed(self) -> bool:
        """Whether the models folder changed (a version written) since last asked (one stat)."""
        stamp = self.registry.versions_stamp()
        changed, self._versions_stamp = stamp != self._versions_stamp, stamp
        return changed

    def prepare_ahead(self) -> bool:
        """Load and warm before anyone asks: the newest version written since this process
        started (the likely next champion) and the rollback target, unless kept already, so
        that promoting or rolling back to them is only a swap. True if it loaded any."""
        try:
            written = [v for v in self.registry.versions() if v not in self._listed]
            self._listed.update(written)
            wanted = [*written[-1:], self.registry.rollback_target()]
        except OSError as exc:
            log.warning("cannot list the models folder: %s", exc)
            return False
        loaded = False
        for version in wanted:
            if version is None or version in self._ready or version == self.current.version:
                continue
            try:
                with self._lock:
                    self._ready_model(version)
                loaded = True
            except TierlineError as exc:  # promoting it is refused then, as without this
                log.warning("model %s could not be prepared ahead: %s", version, exc)
        return loaded

    def _ready_model(self, version: str) -> TierModel:
        """The version verified, loaded and warm: loaded once, then kept while recently used.
        The digests are checked again each time (files on disk may change; a kept model is
        served only while they still match)."""
        model = self._ready.get(version)
        if model is None:
            model = self.registry.load(version)  # verifies the digests first
            model.warm()  # here, in the loader's thread, not on the first decision
        else:
            self.registry.verify(version)
        self._ready[version] = model
        self._ready.move_to_end(version)
        while len(self._ready) > self._keep:
            self._ready.popitem(last=False)
        return model

    async def watch(self, interval: float) -> None:
        """Look at the pointer and the folder forever (cancelled at shutdown); loading runs
        in a thread."""
        prepare = True
        while True:
            try:
                if prepare and await asyncio.to_thread(self.prepare_ahead):
                    freeze_startup_objects(collect=False)  # kept models live long, too
                await asyncio.sleep(interval)
                moved = self.pointer_moved()
                if moved and await asyncio.to_thread(self.refresh):
                    # The new model lives as long as the old one did.
                    freeze_startup_objects(collect=False)
                prepare = self.versions_changed() or moved
            except Exception:  # the watcher must outlive any one failure
                log.exception("model reload check failed")
