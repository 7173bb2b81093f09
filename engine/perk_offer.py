"""Perks given where they pay: a playbook perk with ``give = "uplift"`` is offered to a
customer only when its arm's net value (``engine.uplift_model``: uplift as money less the
arm's cost) under the named version's uplift model is positive.

``load_gates`` binds each such perk to its loaded version and arm once, when the serving
model is loaded; ``PerkOffer`` answers, for one decision, whether a perk may be offered
(never to the holdout), computing a perk's net value only when a pick asks about it, and
gives the reasons staff and the log read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from tierline.engine.errors import PlaybookError

if TYPE_CHECKING:
    from tierline.engine.model import TierModel
    from tierline.engine.playbook import Playbook

__all__ = ["PerkGate", "PerkOffer", "load_gates", "offered_and"]

# Reasons of this kind are named "perk:<name>", apart from the model's features.
REASON_PREFIX = "perk:"


@dataclass(frozen=True)
class PerkGate:
    """A perk bound to the uplift model that decides it and its arm's index there."""

    perk: str
    model: TierModel
    arm: int


def load_gates(
    playbook: Playbook,
    load: Callable[[str], TierModel],
    *,
    versions: list[str],
    source: str,
) -> dict[str, PerkGate]:
    """Each ``give = "uplift"`` perk bound to its version (loaded once per version with
    ``load``); a version that does not exist, holds no uplift model, or has no arm for the
    perk is refused."""
    loaded: dict[str, TierModel] = {}
    gates: dict[str, PerkGate] = {}
    for name, perk in playbook.uplift_perks.items():
        version = perk.uplift_model
        assert version is not None  # the playbook requires it with give = "uplift"
        if version not in loaded:
            if version not in versions:
                raise PlaybookError(
                    f"{source}: [perks.{name}] uplift_model '{version}' is not a model version "
                    f"in the registry (`tierline models` lists them)"
                )
            loaded[version] = load(version)
        model = loaded[version]
        if model.uplift is None:
            raise PlaybookError(
                f"{source}: [perks.{name}] uplift_model '{version}' holds no uplift model "
                f"(train it with a [treatment] spec)"
            )
        arms = model.uplift.arms
        if perk.uplift_arm not in arms:
            raise PlaybookError(
                f"{source}: [perks.{name}] the uplift model of {version} has no arm "
                f"'{perk.uplift_arm}' (its arms: {', '.join(arms)}); name it with arm = ..."
            )
        gates[name] = PerkGate(perk=name, model=model, arm=arms.index(perk.uplift_arm))
    return gates


@dataclass
class PerkOffer:
    """One decision's answer to "may this perk be offered?", with its reasons."""

    gates: Mapping[str, PerkGate]
    signals: Mapping[str, Any]
    holdout: bool
    _rows: dict[str, np.ndarray] = field(default_factory=dict)  # per uplift version
    _asked: dict[str, float] = field(default_factory=dict)

    def __call__(self, perk: str) -> bool:
        gate = self.gates.get(perk)
        if gate is None:
            return True
        if self.holdout:
            return False
        net = self._net(gate)
        self._asked[perk] = net
        return net > 0.0

    def _net(self, gate: PerkGate) -> float:
        model = gate.model
        assert model.uplift is not None
        row = self._rows.get(model.version)
        if row is None:
            row = self._rows[model.version] = model.features.transform_record(self.signals)
        return model.uplift.arm_net_row(row, model.uplift_row_predictors(), gate.arm)

    def reasons(self) -> list[dict[str, Any]]:
        """One reason per uplift perk a pick asked about, offered or not."""
        out = []
        for perk, net in self._asked.items():
            text = (
                f"{perk} offered: expected net value {net:+.2f} for this customer"
                if net > 0.0
                else f"{perk} not offered: it does not pay for this customer"
            )
            out.append(
                {"feature": REASON_PREFIX + perk, "value": perk, "effect": net, "text": text}
            )
        return out


def offered_and(
    offer: Callable[[str], bool], available: Callable[[str], bool]
) -> Callable[[str], bool]:
    """A perk that pays, then is in stock and budget: the stock is asked only for a perk
    that would be offered, so one that does not pay takes none."""
    return lambda perk: offer(perk) and available(perk)
