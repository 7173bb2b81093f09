"""A trained uplift model: per customer, how much each arm changes the target, net of cost.

Two LightGBM meta-learners (Künzel et al., 2019, "Metalearners for estimating
heterogeneous treatment effects"):

* ``s``: one booster whose last input is the arm (0 = control, j = the j-th arm);
  uplift of arm j = f(x, j) - f(x, 0).
* ``t``: one booster per arm, the control's first; uplift of arm j = f_j(x) - f_0(x).

In the artifact the learner is ``uplift.json`` (learner, arms, control, model files) and
one LightGBM text file per booster (``uplift_0.txt`` ...), each listed in the manifest.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np

from tierline.engine.errors import ArtifactError
from tierline.engine.treatment import TreatmentSpec

__all__ = ["LEARNERS", "UPLIFT_FILE", "UpliftModel", "arm_codes", "uplift_columns"]

LEARNERS = ("s", "t")
UPLIFT_FILE = "uplift.json"


@dataclass(frozen=True)
class UpliftModel:
    """The chosen meta-learner with the experiment's arms, costs and value."""

    treatment: TreatmentSpec
    arms: tuple[str, ...]  # the treatment arms, control excluded, in model order
    learner: str
    boosters: tuple[lgb.Booster, ...]

    # -- scoring -----------------------------------------------------------------------
    def predict_uplift(self, X: np.ndarray, *, threads: int = 1) -> np.ndarray:
        """Uplift per customer and arm (n x arms), in the target's units."""
        n, k = len(X), len(self.arms)
        out = np.empty((n, k), dtype=np.float64)
        if self.learner == "s":
            booster = self.boosters[0]
            Xa = np.empty((n, X.shape[1] + 1), dtype=np.float64)
            Xa[:, :-1] = X
            Xa[:, -1] = 0.0
            base = np.asarray(booster.predict(Xa, num_threads=threads))
            for j in range(k):
                Xa[:, -1] = float(j + 1)
                out[:, j] = np.asarray(booster.predict(Xa, num_threads=threads)) - base
            return out
        base = np.asarray(self.boosters[0].predict(X, num_threads=threads))
        for j in range(k):
            out[:, j] = np.asarray(self.boosters[j + 1].predict(X, num_threads=threads)) - base
        return out

    def predict_uplift_row(
        self, row: np.ndarray, predictors: Sequence[Callable[[np.ndarray], np.ndarray]]
    ) -> np.ndarray:
        """One customer's uplift per arm (1 x arms), with a one-row predictor per booster
        (``boosters``' order): the same arithmetic as ``predict_uplift``."""
        k = len(self.arms)
        out = np.empty((1, k), dtype=np.float64)
        if self.learner == "s":
            xa = np.empty(len(row) + 1, dtype=np.float64)
            xa[:-1] = row
            xa[-1] = 0.0
            base = float(predictors[0](xa)[0])
            for j in range(k):
                xa[-1] = float(j + 1)
                out[0, j] = float(predictors[0](xa)[0]) - base
            return out
        base = float(predictors[0](row)[0])
        for j in range(k):
            out[0, j] = float(predictors[j + 1](row)[0]) - base
        return out

    def arm_net_row(
        self, row: np.ndarray, predictors: Sequence[Callable[[np.ndarray], np.ndarray]], arm: int
    ) -> float:
        """One customer's net value of one arm (index into ``arms``): the column of
        ``net(predict_uplift_row(...))``, with two predictions instead of one per arm."""
        if self.learner == "s":
            xa = np.empty(len(row) + 1, dtype=np.float64)
            xa[:-1] = row
            xa[-1] = 0.0
            base = float(predictors[0](xa)[0])
            xa[-1] = float(arm + 1)
            lift = float(predictors[0](xa)[0]) - base
        else:
            lift = float(predictors[arm + 1](row)[0]) - float(predictors[0](row)[0])
        return float(self.treatment.money(lift)) - self.treatment.cost_of(self.arms[arm])

    def n_inputs(self, n_features: int) -> int:
        """The width of the rows the boosters read (the S-learner's carries the arm too)."""
        return n_features + 1 if self.learner == "s" else n_features

    def net(self, uplift: np.ndarray) -> np.ndarray:
        """Net value per customer and arm: uplift as money less the arm's cost."""
        costs = np.array([self.treatment.cost_of(a) for a in self.arms], dtype=np.float64)
        return np.asarray(self.treatment.money(uplift)) - costs

    def choose(self, net: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The arm to give (index into ``arms``, -1 for the control: no arm pays) and the
        best arm's net value, per customer."""
        best = np.argmax(net, axis=1)
        best_net = net[np.arange(len(net)), best]
        return np.where(best_net > 0.0, best, -1), best_net

    def arm_names(self, chosen: np.ndarray) -> np.ndarray:
        names = np.array([*self.arms, self.treatment.control], dtype=object)
        return names[chosen]  # -1 picks the control, the last entry

    # -- artifact ----------------------------------------------------------------------
    def files(self) -> dict[str, str]:
        """The artifact files of this model: ``uplift.json`` and one text file per booster."""
        names = [f"uplift_{i}.txt" for i in range(len(self.boosters))]
        out = {name: b.model_to_string() for name, b in zip(names, self.boosters, strict=True)}
        out[UPLIFT_FILE] = json.dumps(
            {
                "learner": self.learner,
                "arms": list(self.arms),
                "control": self.treatment.control,
                "models": names,
            },
            indent=1,
        )
        return out

    @classmethod
    def load(
        cls, folder: Path, *, treatment: TreatmentSpec, listed: Mapping[str, Any], version: str
    ) -> UpliftModel:
        """Read a verified version's uplift files; every file must be in the manifest."""
        state = json.loads((folder / UPLIFT_FILE).read_text(encoding="utf-8"))
        learner, arms, models = state["learner"], tuple(state["arms"]), list(state["models"])
        if learner not in LEARNERS or state["control"] != treatment.control:
            raise ArtifactError(f"Model version {version}: {UPLIFT_FILE} does not fit its spec")
        expected = 1 if learner == "s" else len(arms) + 1
        if len(models) != expected:
            raise ArtifactError(
                f"Model version {version}: {UPLIFT_FILE} lists {len(models)} models, "
                f"the {learner}-learner needs {expected}"
            )
        for name in models:
            if name not in listed:
                raise ArtifactError(
                    f"Model version {version}: the manifest does not list {name}; it was not loaded"
                )
        boosters = tuple(
            lgb.Booster(model_str=(folder / name).read_text(encoding="utf-8")) for name in models
        )
        return cls(treatment=treatment, arms=arms, learner=learner, boosters=boosters)


def uplift_columns(
    model: UpliftModel, uplift: np.ndarray, net: np.ndarray, chosen: np.ndarray
) -> dict[str, Any]:
    """The scored output's uplift columns: ``uplift_<arm>``, ``net_<arm>`` and ``treat``."""
    out: dict[str, Any] = {}
    for j, arm in enumerate(model.arms):
        out[f"uplift_{arm}"] = uplift[:, j]
    for j, arm in enumerate(model.arms):
        out[f"net_{arm}"] = net[:, j]
    out["treat"] = model.arm_names(chosen)
    return out


def arm_codes(values: Sequence[Any], arms: Sequence[str], control: str) -> np.ndarray:
    """Arm column values as model codes: 0 the control, j the j-th arm, -1 anything else."""
    lookup = {control: 0, **{a: j + 1 for j, a in enumerate(arms)}}
    return np.fromiter((lookup.get(v, -1) for v in values), dtype=np.int64, count=len(values))
