"""The model bundle: one trained version's booster, feature builder, policy and playbook.

``TierModel.score_record`` is the single-customer path (signals dict -> row -> the one-row
predictor of ``engine.predictors`` -> policy -> cues); ``TierModel.score_frame`` is the batch path
(vectorised over a DataFrame). Both use the same feature, policy and playbook code, so a
customer scored alone and in a batch gets the same answer.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from tierline.engine.contributions import Contributions, checked_contributions
from tierline.engine.features import FeatureBuilder
from tierline.engine.forest import Forest
from tierline.engine.linear import LinearModel
from tierline.engine.perk_offer import PerkGate, PerkOffer, offered_and
from tierline.engine.playbook import Cue, Playbook
from tierline.engine.predictors import LinearRow, SingleRowPredictor, one_row_predictor, threads_for
from tierline.engine.reasons import Reason, join_texts, supporting_reasons, top_contributions
from tierline.engine.signals import known_signals
from tierline.engine.spec import Spec
from tierline.engine.tiers import TierPolicy
from tierline.engine.uplift_model import UpliftModel, uplift_columns

__all__ = ["Scored", "TierModel"]

log = logging.getLogger("tierline.model")
# Below this many rows a batch keeps ``Booster.predict`` rather than build the compiled
# forest first (building and checking it costs about what it saves on these rows).
_COMPILED_BATCH_ROWS = 50_000


@dataclass
class Scored:
    """One customer's scoring: the policy's decision, the cues and (optionally) reasons."""

    tier: str
    confidence: float
    score: float
    rule: str | None
    holdout: bool
    cues: list[Cue]
    model_version: str
    reasons: list[Reason] = field(default_factory=list)
    # The model's raw output per tier (class models), kept for ``probabilities``.
    outputs: tuple[tuple[str, ...], np.ndarray] | None = None
    # Whether each give = "uplift" perk may be offered (None when the playbook has none).
    offer: PerkOffer | None = None

    @property
    def probabilities(self) -> dict[str, float]:
        """Each tier's probability (class models; empty for a binary score). Built when
        asked for: the decision route never reads it."""
        if self.outputs is None:
            return {}
        tiers, out = self.outputs
        return {t: float(p) for t, p in zip(tiers, out, strict=True)}


class TierModel:
    """A loaded, verified model version. Load it with ``engine.registry.Registry.load``."""

    def __init__(
        self,
        *,
        version: str,
        spec: Spec,
        features: FeatureBuilder,
        policy: TierPolicy,
        playbook: Playbook,
        booster: lgb.Booster | None,
        metadata: Mapping[str, Any],
        model_text: str | None = None,
        linear: LinearModel | None = None,
        uplift: UpliftModel | None = None,
    ) -> None:
        """The model is a LightGBM ``booster`` or a ``linear`` one (``engine.linear``),
        exactly one. ``model_text``: the LightGBM text ``booster`` was built from, if at
        hand; the compiled forest is built from it (and then let go). ``uplift``: a
        [treatment] spec's uplift model, whose best arm's net value the tier cuts apply to."""
        if (booster is None) == (linear is None):
            raise ValueError("a TierModel has exactly one of booster and linear")
        self.version = version
        self.spec = spec
        self.features = features
        self.policy = policy
        self.playbook = playbook
        self.booster = booster
        self.linear = linear
        self.metadata = dict(metadata)
        self.uplift = uplift
        # give = "uplift" perks bound to their uplift models (``Registry.load`` sets them).
        self.perk_gates: dict[str, PerkGate] = {}
        self.n_outputs = len(spec.tiers) if spec.target_kind == "class" else 1
        # Built once here: a decision's ignored signals are its names missing from it.
        self.known_signals = known_signals(spec=spec, playbook=playbook)
        self._single: Forest | SingleRowPredictor | LinearRow | None = None  # on first use
        self._uplift_single: list[Callable[[np.ndarray], np.ndarray]] | None = None
        self._contributions: Contributions | str | None = None  # on first use
        self._model_text = model_text
        self._single_lock = threading.Lock()

    def single_row_predictor(self) -> Forest | SingleRowPredictor | LinearRow:
        """What scores one customer: the model's trees compiled flat (``engine.forest``: the
        same answers for less CPU per decision) where they apply and agree with LightGBM on probe rows, else LightGBM's own cheapest
        one-row call (logged once, with why). Built on first use, so batch scoring never
        pays for it; ``warm`` builds it ahead."""
        single = self._single
        if single is None:
            with self._single_lock:
                single = self._single
                if single is None:
                    single = self._build_single()
                    self._single = single
        return single

    def _build_single(self) -> Forest | SingleRowPredictor | LinearRow:
        if self.linear is not None:
            return LinearRow(self.linear)
        assert self.booster is not None
        model_text, self._model_text = self._model_text, None
        return self._one_row(self.booster, self.features.n_features_out_, model_text, "model")

    def _one_row(
        self, booster: lgb.Booster, n: int, model_text: str | None, what: str
    ) -> Forest | SingleRowPredictor:
        return one_row_predictor(
            booster,
            n_features=n,
            n_outputs=self.n_outputs if what == "model" else 1,
            model_text=model_text,
            what=f"{what} {self.version}",
        )

    def uplift_row_predictors(self) -> list[Callable[[np.ndarray], np.ndarray]]:
        """One-row predictors of the uplift model's boosters, built as the tier model's
        (compiled and checked, else LightGBM's one-row call) on first use."""
        assert self.uplift is not None
        single = self._uplift_single
        if single is None:
            with self._single_lock:
                single = self._uplift_single
                if single is None:
                    n = self.uplift.n_inputs(self.features.n_features_out_)
                    single = [
                        self._one_row(b, n, None, f"uplift model {i} of").predict
                        for i, b in enumerate(self.uplift.boosters)
                    ]
                    self._uplift_single = single
        return single

    def warm(self) -> None:
        """Prepare the one-customer path now (compiling and checking the forest, and the
        reasons' tables), so that the first decision after a load or a swap does not wait
        for it."""
        self.single_row_predictor()
        if self.booster is not None:
            self.contributions()
        if self.uplift is not None:
            self.uplift_row_predictors()
        for gate in self.perk_gates.values():
            gate.model.warm()
        # One customer with no signals, reasons included: what is still prepared on first
        # use down that path (numba's one-row specialisations) is prepared now.
        self.score_record({}, explain=True)

    # -- raw model output ----------------------------------------------------------
    def predict_matrix(self, X: np.ndarray, *, threads: int | None = None) -> np.ndarray:
        """Model output for a prepared matrix: n x tiers (class) or n (binary, value), on
        ``threads`` cores (default: one for a few rows, every core for a batch).

        A batch large enough to repay building it goes through the compiled forest (the
        one-customer path's: ``Booster.predict``'s answer bit for bit, checked at build),
        else, or on any error of it, through ``Booster.predict``."""
        threads = threads_for(len(X)) if threads is None else threads
        if self.linear is not None:
            return self.linear.predict(X)
        assert self.booster is not None
        if len(X) >= _COMPILED_BATCH_ROWS or self._single is not None:
            forest = self.single_row_predictor()
            if isinstance(forest, Forest):
                try:
                    out = forest.predict_rows(np.ascontiguousarray(X, np.float64), threads=threads)
                    return out if self.n_outputs > 1 else out[:, 0]
                except Exception as exc:  # numba's run errors: LightGBM's own call serves
                    log.warning(
                        "model %s: the compiled forest failed on a batch: %s", self.version, exc
                    )
        return np.asarray(self.booster.predict(X, num_threads=threads))

    def _explain_target(self, tier: str) -> str:
        return tier if self.spec.target_kind == "class" else "the score"

    # -- one customer ------------------------------------------------------------------
    def score_record(
        self,
        signals: Mapping[str, Any],
        *,
        customer_id: str | None = None,
        explain: bool = False,
        perk_available: Callable[[str], bool] | None = None,
    ) -> Scored:
        """Score one customer from a plain dict of signals (no pandas on this path).

        ``perk_available(perk)`` (the store's stock and budget check) is asked before a
        perk cue is shown; without it every perk counts as available (batch scoring).
        """
        row = self.features.transform_record(signals)
        out = self.policy.calibrate(self.single_row_predictor().predict(row))
        if self.uplift is not None:
            lift = self.uplift.predict_uplift_row(row, self.uplift_row_predictors())
            _, best_net = self.uplift.choose(self.uplift.net(lift))
            decision = self.policy.place(scores=best_net[0], signals=signals)
            decision = dataclasses.replace(decision, score=float(out[0]))
        else:
            decision = self.policy.place(
                scores=out if self.n_outputs > 1 else out[0], signals=signals
            )
        holdout = self.playbook.is_holdout(customer_id)
        offer = PerkOffer(self.perk_gates, signals, holdout) if self.perk_gates else None
        available = perk_available
        if offer is not None:
            available = offer if perk_available is None else offered_and(offer, perk_available)
        cues = self.playbook.cues_for(
            tier=decision.tier,
            signals=signals,
            holdout=holdout,
            default_tier=self.spec.default_tier,
            available=available,
        )
        scored = Scored(
            tier=decision.tier,
            confidence=decision.confidence,
            score=decision.score,
            rule=decision.rule,
            holdout=holdout,
            cues=cues,
            model_version=self.version,
            outputs=(self.spec.tiers, out) if self.n_outputs > 1 else None,
            offer=offer,
        )
        if explain:
            scored.reasons = self._reasons(
                row[None, :], [signals.get], np.array([decision.tier], dtype=object)
            )[0]
        return scored

    # -- many customers ----------------------------------------------------------------
    def score_frame(
        self, frame: pd.DataFrame, *, explain: bool = False, threads: int | None = None
    ) -> pd.DataFrame:
        """The scored output for a batch: one row per input row, same order (see README).
        ``threads``: cores to use (default: one for a few rows, every core for a batch)."""
        threads = threads_for(len(frame)) if threads is None else threads
        X = self.features.transform(frame)
        out = self.policy.calibrate(self.predict_matrix(X, threads=threads))
        uplift: dict[str, Any] = {}
        if self.uplift is not None:
            # The tiers cut on the best arm's net value; ``score`` stays the response model's.
            lift = self.uplift.predict_uplift(X, threads=threads)
            net = self.uplift.net(lift)
            chosen, best_net = self.uplift.choose(net)
            uplift = uplift_columns(self.uplift, lift, net, chosen)
            decided = self.policy.place_many(scores=best_net, frame=frame)
            decided["score"] = np.asarray(out, dtype=np.float64)
        else:
            decided = self.policy.place_many(scores=out, frame=frame)
        ids = (
            frame[self.spec.id].astype(str).tolist()
            if self.spec.id in frame.columns
            else [None] * len(frame)
        )
        holdout = self.playbook.holdout_many(ids)
        cues = self.playbook.cue_codes_many(
            tiers=decided["tier"], holdout=holdout, frame=frame, default_tier=self.spec.default_tier
        )
        result: dict[str, Any] = {self.spec.id: ids}
        result["tier"] = decided["tier"]
        result["confidence"] = decided["confidence"]
        result["score"] = decided["score"]
        if self.n_outputs > 1:
            for j, tier in enumerate(self.spec.tiers):
                result[f"p_{tier}"] = out[:, j]
        result["rule"] = decided["rule"]
        result["cues"] = cues
        result["model_version"] = self.version
        result["holdout"] = holdout
        result.update(uplift)
        if explain:
            reasons = self._reasons_frame(X, frame, decided["tier"], threads=threads)
            result["reasons"] = [join_texts(r) for r in reasons]
        return pd.DataFrame(result, index=frame.index).reset_index(drop=True)

    # -- reasons ---------------------------------------------------------------------------
    def contributions(self) -> Contributions | str:
        """What gives the reasons' per-feature contributions of a LightGBM model: the
        tabled TreeSHAP of ``engine.contributions`` (the chosen tier's trees only) when it
        agrees with ``pred_contrib`` on probe rows, else why not (logged once; LightGBM's
        own ``pred_contrib`` then serves). Built on first use: scoring without reasons
        never pays for it."""
        tabled = self._contributions
        if tabled is None:
            with self._single_lock:
                tabled = self._contributions
                if tabled is None:
                    assert self.booster is not None
                    tabled = checked_contributions(
                        self.booster, n_features=self.features.n_features_out_
                    )
                    if isinstance(tabled, str):
                        log.warning(
                            "model %s explains with LightGBM's pred_contrib, not the tabled "
                            "contributions: %s",
                            self.version,
                            tabled,
                        )
                    self._contributions = tabled
        return tabled

    def _contrib_top(
        self, X: np.ndarray, tiers: np.ndarray, *, threads: int
    ) -> tuple[np.ndarray, np.ndarray]:
        class_index = None
        if self.n_outputs > 1:
            lookup = {t: i for i, t in enumerate(self.spec.tiers)}
            class_index = np.fromiter((lookup[t] for t in tiers), dtype=np.int64, count=len(tiers))
        tabled = self.contributions() if self.booster is not None else None
        if isinstance(tabled, Contributions):
            chosen = np.zeros(len(X), dtype=np.int64) if class_index is None else class_index
            contrib = tabled.compute(X, chosen, threads=threads)
            class_index = None  # one block: the chosen class's
        elif self.linear is not None:
            contrib = self.linear.contributions(X)
        else:
            assert self.booster is not None
            contrib = np.asarray(self.booster.predict(X, pred_contrib=True, num_threads=threads))
        return top_contributions(
            contrib=contrib,
            n_features=X.shape[1],
            class_index=class_index,
            direction=self._directions(tiers),
        )

    def _directions(self, tiers: np.ndarray) -> np.ndarray:
        """Which way a reason must push to support each row's tier: a class's own
        probability up; a cut tier's score up, the default tier's down; a tier only a rule
        gives, either way."""
        if self.n_outputs > 1:
            return np.ones(len(tiers))
        cut = {name for name, _ in self.policy.thresholds}
        default = self.spec.default_tier
        return np.array([1.0 if t in cut else (-1.0 if t == default else 0.0) for t in tiers])

    def _reasons(
        self, X: np.ndarray, getters: list[Any], tiers: np.ndarray, *, threads: int = 1
    ) -> list[list[Reason]]:
        idx, vals = self._contrib_top(X, tiers, threads=threads)
        direction = self._directions(tiers)
        names = self.features.feature_names_out_
        boolean = set(self.features.boolean)
        numeric = set(self.spec.numeric)
        return [
            supporting_reasons(
                top=[(names[int(j)], e) for j, e in zip(idx[r], vals[r], strict=True)],
                direction=direction[r],
                value_of=getters[r],
                target=self._explain_target(str(tiers[r])),
                labels=self.spec.labels,
                numeric=numeric,
                boolean=boolean,
            )
            for r in range(len(X))
        ]

    def _reasons_frame(
        self, X: np.ndarray, frame: pd.DataFrame, tiers: np.ndarray, *, threads: int
    ) -> list[list[Reason]]:
        columns = {
            c: frame[c].to_numpy(dtype=object)
            for c in self.features.feature_names_out_
            if c in frame.columns
        }
        getters = [
            (lambda name, r=r: columns[name][r] if name in columns else None)
            for r in range(len(frame))
        ]
        return self._reasons(X, getters, tiers, threads=threads)
