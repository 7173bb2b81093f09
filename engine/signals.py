"""Which signal names mean something to a model, and which a request sent for nothing.

A POS that misspells ``visits_90d`` would otherwise get a confident answer from a model
that saw nothing. Each loaded model keeps one frozenset of the names anything uses
(``known_signals``, built at load); a decision lists the names of its request that are
not in it (``ignored_signals``), and a spec with ``[features] unknown_signals = "refuse"``
turns them into an ``UnknownSignals`` refusal instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tierline.engine.errors import UnknownSignals

if TYPE_CHECKING:
    from tierline.engine.playbook import Playbook
    from tierline.engine.spec import Spec

__all__ = [
    "CHECK_IN_SIGNALS",
    "SOURCE_SIGNALS",
    "ignored_signals",
    "known_signals",
    "refuse_unknown",
]

# Signals that say where a customer came from: a visit keeps them so staff can read how
# warm the lead is and the manager can total spend by campaign.
SOURCE_SIGNALS = ("campaign", "landing_page", "channel", "utm_source", "utm_medium", "referrer")

# A check-in reads these from the signals too (the request's own field wins).
CHECK_IN_SIGNALS = ("party_size",)


def known_signals(*, spec: Spec, playbook: Playbook) -> frozenset[str]:
    """Every name that means something for a model: the columns its spec declares (a
    dropped or protected column is known, not misspelt), the columns and text fields of
    the playbook's personal cues, the source signals and the check-in's."""
    return frozenset(
        (
            *spec.declared_columns,
            *playbook.signal_names,
            *SOURCE_SIGNALS,
            *CHECK_IN_SIGNALS,
        )
    )


def ignored_signals(signals: Mapping[str, Any] | None, known: frozenset[str]) -> list[str]:
    """The names in ``signals`` that ``known`` lacks, sorted; the one allocation is the list."""
    if not signals:
        return []
    ignored = [name for name in signals if name not in known]
    if len(ignored) > 1:
        ignored.sort()
    return ignored


def refuse_unknown(ignored: Sequence[list[str]], *, version: str, batch: bool) -> None:
    """Raise ``UnknownSignals`` naming each request's unknown signals, if any has one."""
    offenders = [(i, names) for i, names in enumerate(ignored) if names]
    if not offenders:
        return
    every = sorted({name for _, names in offenders for name in names})
    quoted = ", ".join(f"'{name}'" for name in every)
    where = (
        f"items {', '.join(str(i) for i, _ in offenders)} send" if batch else "the request sends"
    )
    details: dict[str, Any] = {"signals": every}
    if batch:
        details["items"] = [{"index": i, "signals": names} for i, names in offenders]
    raise UnknownSignals(
        f"Model {version} refuses unknown signals and {where} {quoted}, which nothing uses; "
        "correct their names or leave them out",
        details=details,
    )
