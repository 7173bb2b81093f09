"""The classic buy-till-you-die pair, fitted by maximum likelihood: BG/NBD and Gamma-Gamma.

BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the easy way"): while alive, a
customer buys at a Poisson rate lambda ~ Gamma(r, alpha); after each repeat purchase they
drop out with probability p ~ Beta(a, b). Gamma-Gamma (Fader, Hardie & Lee 2005, "RFM and
CLV"): each purchase's spend is Gamma(p, nu) with nu ~ Gamma(q, gamma) per customer,
independent of the purchase process.

Both read each customer's summary in the calibration convention of the ``lifetimes`` and
``btyd`` libraries with daily periods (``training.purchase_days``): ``x`` repeat purchase
days, ``t_x`` days from the first to the last purchase day, ``T`` days from the first
purchase day to the cut-off day, ``m`` the mean spend of the repeat purchase days.

The parameters are fitted once, on the features at the training cut-off, kept in the
model's metadata (``BtydFit.to_dict``) and reused unchanged when the model scores: a
scoring log never refits them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import betaln, digamma, gammaln, hyp2f1, logsumexp

from tierline.engine.errors import ArtifactError

__all__ = [
    "BTYD_MODEL_FEATURES",
    "MAX_FIT_CUSTOMERS",
    "BgNbd",
    "BtydFit",
    "GammaGamma",
    "fit_bgnbd",
    "fit_btyd",
    "fit_gamma_gamma",
]

# The fitted models' expectations, as features (names also in engine.spec).
BTYD_MODEL_FEATURES = ("bgnbd_purchases", "bgnbd_p_alive", "gg_spend", "btyd_value")
# Four parameters settle long before this many customers; a seeded sample keeps the fit
# to seconds on any log.
MAX_FIT_CUSTOMERS = 50_000
# Per-customer columns by name: a frame, or a mapping of arrays.
Columns = pd.DataFrame | Mapping[str, Any]
# Gamma-Gamma needs repeat buyers with a positive mean spend; below this few it is noise.
_MIN_GG_CUSTOMERS = 20
_SEED = 42
# Gauss-Legendre nodes where the closed-form expectation has no value (see expected_purchases).
_QUADRATURE_NODES = 400
# Log-parameters stay within e^-20..e^20: wide enough for any unit of time or money once
# the data are rescaled, and finite so the optimiser cannot run off to infinity.
_BOUND = 20.0


@dataclass(frozen=True)
class BgNbd:
    """BG/NBD parameters; ``alpha`` is in days, the others have no unit."""

    r: float
    alpha: float
    a: float
    b: float

    def log_likelihood(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        """Each customer's log-likelihood of (x, t_x, T) (Fader, Hardie & Lee 2005, eq. 6)."""
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        head = gammaln(r + x) - gammaln(r) + r * math.log(alpha)
        head += betaln(a, b + x) - betaln(a, b)
        alive = -(r + x) * np.log(alpha + T)
        repeat = x > 0
        # The dropped-out branch exists only after a repeat purchase.
        gone = np.full(np.shape(x), -np.inf)
        gone[repeat] = (
            math.log(a) - np.log(b + x[repeat] - 1) - (r + x[repeat]) * np.log(alpha + t_x[repeat])
        )
        return np.asarray(head + np.logaddexp(alive, gone))

    def gradient(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        """d log-likelihood / d (r, alpha, a, b) per customer: a 4 x n array."""
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        gone = 1.0 - self.p_alive(x, t_x, T)  # each branch's share of the likelihood
        alive = 1.0 - gone
        log_T, log_tx = np.log(alpha + T), np.log(alpha + t_x)
        repeat = x > 0
        inverse_bx = np.zeros(np.shape(x))
        inverse_bx[repeat] = 1.0 / (b + x[repeat] - 1)
        return np.array(
            [
                digamma(r + x) - digamma(r) + math.log(alpha) - alive * log_T - gone * log_tx,
                r / alpha - (r + x) * (alive / (alpha + T) + gone / (alpha + t_x)),
                digamma(a + b) - digamma(a + b + x) + gone / a,
                digamma(b + x) - digamma(a + b + x) - digamma(b) + digamma(a + b)
                - gone * inverse_bx,
            ]
        )  # fmt: skip

    def p_alive(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        """P(still a customer at T | x, t_x, T)."""
        return 1.0 / (1.0 + self._odds_gone(x, t_x, T))

    def expected_purchases(
        self, t: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
    ) -> np.ndarray:
        """E[X(T, T + t) | x, t_x, T]: expected purchase days in the ``t`` days after T.

        Fader, Hardie & Lee 2005, eq. 10, with the Gaussian hypergeometric function.
        """
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        pa, pb, pc = r + x, b + x, a + b + x - 1
        z = t / (alpha + T + t)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            log_hyp = np.log(hyp2f1(pa, pb, pc, z))
            # Euler's transformation of 2F1 where the direct series overflows.
            alt = np.log(hyp2f1(pc - pa, pc - pb, pc, z)) + (pc - pa - pb) * np.log1p(-z)
            log_hyp = np.where(np.isfinite(log_hyp), log_hyp, alt)
            shrink = np.exp(log_hyp + (r + x) * np.log((alpha + T) / (alpha + T + t)))
            numerator = (a + b + x - 1) / (a - 1) * (1.0 - shrink)
            value = numerator / (1.0 + self._odds_gone(x, t_x, T))
        # The closed form has no value at a = 1, nor for 2F1 with c = a + b + x - 1 <= 0
        # (a + b < 1 and no repeats): integrate the posterior there instead.
        failed = ~np.isfinite(value)
        if failed.any():
            value = np.array(value, dtype=np.float64)
            value[failed] = self._by_quadrature(t, x[failed], t_x[failed], T[failed])
        return np.asarray(value)

    def _by_quadrature(self, t: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        """E[X(T, T + t) | x, t_x, T] by Gauss-Legendre quadrature over the drop-out p.

        The rate integrates in closed form for each p; p = s^(1/a) takes Beta's p^(a - 1)
        into the measure. Distinct (x, t_x, T) rows are integrated once.
        """
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        rows, inverse = np.unique(np.column_stack([x, t_x, T]), axis=0, return_inverse=True)
        xs, txs, Ts = (c[:, None] for c in rows.T)
        nodes, weights = np.polynomial.legendre.leggauss(_QUADRATURE_NODES)
        p = ((nodes + 1) / 2) ** (1 / a)
        log_w = np.log(weights) + (b - 1) * np.log1p(-p)
        stay = xs * np.log1p(-p)
        with np.errstate(divide="ignore", invalid="ignore"):
            gone = np.where(
                xs > 0,
                np.log(p)
                + (xs - 1) * np.log1p(-p)
                + (r + xs) * np.log((alpha + Ts) / (alpha + txs)),
                -np.inf,
            )
            bought = (
                stay + np.log(-np.expm1(-(r + xs) * np.log1p(p * t / (alpha + Ts)))) - np.log(p)
            )
        whole = np.logaddexp(logsumexp(stay + log_w, axis=1), logsumexp(gone + log_w, axis=1))
        return np.asarray(np.exp(logsumexp(bought + log_w, axis=1) - whole)[inverse.ravel()])

    def _odds_gone(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        """Posterior odds of having dropped out against being alive (0 without repeats)."""
        repeat = x > 0
        odds = np.zeros(np.shape(x))
        xr = x[repeat]
        log_odds = (
            math.log(self.a)
            - np.log(self.b + xr - 1)
            + (self.r + xr) * np.log((self.alpha + T[repeat]) / (self.alpha + t_x[repeat]))
        )
        odds[repeat] = np.exp(np.minimum(log_odds, 700.0))
        return odds


@dataclass(frozen=True)
class GammaGamma:
    """Gamma-Gamma spend parameters; ``gamma`` is in the log's unit of money."""

    p: float
    q: float
    gamma: float

    def log_likelihood(self, x: np.ndarray, m: np.ndarray) -> np.ndarray:
        """Each repeat buyer's log-likelihood of x purchases with mean spend m > 0."""
        p, q, g = self.p, self.q, self.gamma
        px = p * x
        return np.asarray(
            gammaln(px + q)
            - gammaln(px)
            - gammaln(q)
            + q * math.log(g)
            + (px - 1) * np.log(m)
            + px * np.log(x)
            - (px + q) * np.log(x * m + g)
        )

    def gradient(self, x: np.ndarray, m: np.ndarray) -> np.ndarray:
        """d log-likelihood / d (p, q, gamma) per repeat buyer: a 3 x n array."""
        p, q, g = self.p, self.q, self.gamma
        px, spent = p * x, np.log(x * m + g)
        both = digamma(px + q)
        return np.array(
            [
                x * (both - digamma(px) + np.log(m) + np.log(x) - spent),
                both - digamma(q) + math.log(g) - spent,
                q / g - (px + q) / (x * m + g),
            ]
        )

    @property
    def mean_spend(self) -> float:
        """The population's expected spend per purchase."""
        return self.p * self.gamma / (self.q - 1)

    def expected_spend(self, x: np.ndarray, m: np.ndarray) -> np.ndarray:
        """E[spend per purchase | x, m]: the customer's mean shrunk towards the population's.

        Without repeat purchases (x = 0, m missing) it is the population's mean; a refund-heavy
        mean below zero counts as zero spend.
        """
        own = np.where(x > 0, np.maximum(np.nan_to_num(m), 0.0), 0.0)
        weight = self.p * x / (self.p * x + self.q - 1)
        return np.asarray((1 - weight) * self.mean_spend + weight * own)


@dataclass(frozen=True)
class BtydFit:
    """Both fitted models and the horizon their expectations look ahead."""

    bgnbd: BgNbd
    gamma_gamma: GammaGamma | None
    horizon_days: int
    customers: int

    def features(self, summary: Columns) -> dict[str, np.ndarray]:
        """``BTYD_MODEL_FEATURES`` from the per-customer summary columns.

        Without a Gamma-Gamma fit (too few repeat buyers) the expected spend is the
        customer's own mean bill.
        """
        x, t_x, T = (np.asarray(summary[k], dtype=np.float64) for k in _SUMMARY)
        purchases = self.bgnbd.expected_purchases(float(self.horizon_days), x, t_x, T)
        if self.gamma_gamma is None:
            spend = np.asarray(summary["monetary_mean"], dtype=np.float64)
        else:
            spend = self.gamma_gamma.expected_spend(x, np.asarray(summary["repeat_spend_mean"]))
        return {
            "bgnbd_purchases": purchases,
            "bgnbd_p_alive": self.bgnbd.p_alive(x, t_x, T),
            "gg_spend": spend,
            "btyd_value": purchases * spend,
        }

    def applied(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` with its ``BTYD_MODEL_FEATURES`` computed by this fit."""
        return frame.assign(**self.features(frame))

    def to_dict(self) -> dict[str, Any]:
        return {
            "bgnbd": asdict(self.bgnbd),
            "gamma_gamma": None if self.gamma_gamma is None else asdict(self.gamma_gamma),
            "horizon_days": self.horizon_days,
            "customers": self.customers,
        }

    @classmethod
    def from_dict(cls, state: Mapping[str, Any]) -> BtydFit:
        try:
            gg = state["gamma_gamma"]
            return cls(
                bgnbd=BgNbd(**{k: float(v) for k, v in state["bgnbd"].items()}),
                gamma_gamma=None
                if gg is None
                else GammaGamma(**{k: float(v) for k, v in gg.items()}),
                horizon_days=int(state["horizon_days"]),
                customers=int(state["customers"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ArtifactError(
                f"The model's BG/NBD and Gamma-Gamma parameters are unreadable ({exc}); "
                f"retrain the model"
            ) from exc

    @classmethod
    def of_model(cls, metadata: Mapping[str, Any], inputs: list[str]) -> BtydFit | None:
        """The fit kept in a model's metadata; None if the model reads none of its features."""
        state = metadata.get("btyd")
        if state is None:
            used = [name for name in BTYD_MODEL_FEATURES if name in inputs]
            if used:
                raise ArtifactError(
                    f"The model reads '{used[0]}' but its metadata holds no BG/NBD parameters; "
                    f"retrain the model"
                )
            return None
        return cls.from_dict(state)


_SUMMARY = ("repeat_days", "repeat_span_days", "age_days")


def fit_btyd(
    summary: Columns, *, horizon_days: int, max_customers: int = MAX_FIT_CUSTOMERS
) -> BtydFit:
    """Fit BG/NBD and Gamma-Gamma on per-customer summary columns (a frame or a mapping).

    At most ``max_customers`` customers, a seeded sample, take part in each fit.
    """
    x, t_x, T = (np.asarray(summary[k], dtype=np.float64) for k in _SUMMARY)
    m = np.asarray(summary["repeat_spend_mean"], dtype=np.float64)
    pick = _sample(len(x), max_customers)
    bgnbd = fit_bgnbd(x[pick], t_x[pick], T[pick])
    buyers = np.flatnonzero((x > 0) & (m > 0))
    gg = None
    if len(buyers) >= _MIN_GG_CUSTOMERS:
        chosen = buyers[_sample(len(buyers), max_customers)]
        gg = fit_gamma_gamma(x[chosen], m[chosen])
    return BtydFit(bgnbd=bgnbd, gamma_gamma=gg, horizon_days=horizon_days, customers=len(pick))


def fit_bgnbd(x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> BgNbd:
    """Maximum-likelihood BG/NBD parameters for the customers' (x, t_x, T) in days."""
    # Time rescaled so the longest age is 10: r, a and b do not depend on the unit of
    # time and alpha scales with it, so the optimiser always starts near the answer's scale.
    scale = 10.0 / max(float(np.max(T)), 1.0)
    rows, weight = _distinct(x, t_x * scale, T * scale)
    xs, txs, Ts = rows.T

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        params = np.exp(theta)
        model = BgNbd(*params)
        value = -float(weight @ model.log_likelihood(xs, txs, Ts)) / weight.sum()
        # Chain rule through the log-parameters: d/d(log r) = r d/dr.
        grad = -(model.gradient(xs, txs, Ts) @ weight) * params / weight.sum()
        return value, grad

    theta = _minimise(loss, np.zeros(4))
    r, alpha, a, b = np.exp(theta)
    return BgNbd(r=float(r), alpha=float(alpha / scale), a=float(a), b=float(b))


def fit_gamma_gamma(x: np.ndarray, m: np.ndarray) -> GammaGamma:
    """Maximum-likelihood Gamma-Gamma parameters for repeat buyers (x > 0, m > 0)."""
    # Money rescaled to a median of 1 (gamma scales with the unit); q is kept above 1 so
    # the expected spend exists.
    scale = float(np.median(m))
    rows, weight = _distinct(x, m / scale)
    xs, ms = rows.T

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        p, q1, g = np.exp(theta)
        model = GammaGamma(p=p, q=1.0 + q1, gamma=g)
        value = -float(weight @ model.log_likelihood(xs, ms)) / weight.sum()
        # q = 1 + e^theta, so dq/dtheta = q - 1.
        grad = -(model.gradient(xs, ms) @ weight) * np.array([p, q1, g]) / weight.sum()
        return value, grad

    p, q1, g = np.exp(_minimise(loss, np.zeros(3)))
    return GammaGamma(p=float(p), q=float(1.0 + q1), gamma=float(g * scale))


def _minimise(loss: Any, start: np.ndarray) -> np.ndarray:
    """L-BFGS-B on the log-parameters with the analytic gradient."""
    result = minimize(
        lambda theta: _finite(*loss(theta)),
        start,
        jac=True,
        method="L-BFGS-B",
        bounds=[(-_BOUND, _BOUND)] * len(start),
    )
    return np.asarray(result.x)


def _finite(value: float, grad: np.ndarray) -> tuple[float, np.ndarray]:
    # A step into a region where the likelihood underflows must look bad, not crash the fit.
    if math.isfinite(value) and np.isfinite(grad).all():
        return value, grad
    return 1e300, np.zeros_like(grad)


def _distinct(*columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows and how often each occurs: day counts repeat, so this shrinks the fit."""
    rows, counts = np.unique(np.column_stack(columns), axis=0, return_counts=True)
    return rows, counts.astype(np.float64)


def _sample(size: int, cap: int) -> np.ndarray:
    if size <= cap:
        return np.arange(size)
    return np.sort(np.random.default_rng(_SEED).choice(size, cap, replace=False))
