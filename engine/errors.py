"""Domain errors of tierline. They know nothing of HTTP or exit codes.

The tree::

    TierlineError                 anything tierline refuses, with a message for a person
    ├── SpecError                 the spec file is unreadable, malformed or inconsistent
    ├── DataError                 a data file is missing, unreadable or does not fit the spec
    │   ├── UnknownSignals        a request sends signals nothing uses (the spec refuses them)
    │   └── CuesNotOffered        an outcome marks cues its decision never offered
    ├── PlaybookError             the playbook file is malformed or does not fit the tiers
    ├── ArtifactError             a model version is incomplete, tampered or unloadable
    ├── NotFound                  a named thing (model version, customer, ...) does not exist
    ├── Gone                      it existed but can no longer be used (a spent or expired code)
    ├── Conflict                  the action clashes with the current state (a lock is held, ...)
    │   └── IdempotencyKeyReused  an idempotency key comes again with a different request
    └── StoreError                the database is unreachable, misconfigured or newer than this code

The CLI maps every TierlineError to its message (one line, or a data file's problems one
per line) and exit code 2; the API maps them
to 4xx statuses in one table. An error may carry ``details`` (plain data, such as the
names at fault) that the API answers with.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ArtifactError",
    "Conflict",
    "CuesNotOffered",
    "DataError",
    "Gone",
    "IdempotencyKeyReused",
    "NotFound",
    "PlaybookError",
    "SpecError",
    "StoreError",
    "TierlineError",
    "UnknownSignals",
]


class TierlineError(Exception):
    """Base of every error tierline raises on purpose."""

    details: Any = None


class SpecError(TierlineError):
    """The spec file is unreadable, malformed or inconsistent with itself or the data."""


class DataError(TierlineError):
    """A data file is missing, unreadable or does not fit the spec."""


class UnknownSignals(DataError):
    """A request sends signal names that nothing uses, under a spec that refuses them."""

    def __init__(self, message: str, *, details: Any) -> None:
        super().__init__(message)
        self.details = details


class CuesNotOffered(DataError):
    """An outcome marks cue codes that its decision (or the visit's override) never offered."""

    def __init__(self, message: str, *, details: Any) -> None:
        super().__init__(message)
        self.details = details


class PlaybookError(TierlineError):
    """The playbook file is malformed or does not cover the spec's tiers."""


class ArtifactError(TierlineError):
    """A model version folder is incomplete, tampered with or cannot be loaded."""


class NotFound(TierlineError):
    """A named thing (a model version, a customer, a ticket) does not exist."""


class Gone(TierlineError):
    """A thing that existed can no longer be used: a pairing code already spent or expired."""


class Conflict(TierlineError):
    """The action clashes with the current state, e.g. another retrain holds the lock."""


class IdempotencyKeyReused(Conflict):
    """An idempotency key already used at this site comes with a different request."""


class StoreError(TierlineError):
    """The database cannot be reached, its URL is unusable, or its schema is newer than tierline."""
