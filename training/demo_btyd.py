"""Seeded transaction logs drawn from a known BG/NBD and Gamma-Gamma process.

``generate_btyd_log(customers, seed=...)`` draws, per customer, a first purchase day, a
purchase rate lambda ~ Gamma(r, alpha) (per day), a drop-out probability p ~ Beta(a, b) and
a spend scale nu ~ Gamma(q, gamma); then purchases as a Poisson process at rate lambda
that stops, after each repeat purchase, with probability p; each bill is Gamma(p_spend, nu).
The default parameters are Fader, Hardie & Lee's CDNOW estimates (alpha turned from weeks
into days). The log (``customer_id``, ``ts``, ``amount``) runs from the first purchases,
spread over the two years before the training cut-off (``as_of`` minus ``horizon_days``),
through ``as_of + horizon_days``, so both the backtest's horizon and the scoring horizon
hold purchases. It lets a test know what the right answer is; it is not real data.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from tierline.training.btyd import BgNbd, GammaGamma

__all__ = ["CDNOW_BGNBD", "CDNOW_GAMMA_GAMMA", "generate_btyd_log", "simulate_bgnbd"]

# Fader, Hardie & Lee (2005) on CDNOW: r, alpha (4.414 weeks), a, b; and the Gamma-Gamma
# spend model's p, q, gamma (in dollars).
CDNOW_BGNBD = BgNbd(r=0.243, alpha=4.414 * 7, a=0.793, b=2.426)
CDNOW_GAMMA_GAMMA = GammaGamma(p=6.25, q=3.74, gamma=15.44)
_COHORT_DAYS = 730


def simulate_bgnbd(
    rng: np.random.Generator, params: BgNbd, *, ends: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Repeat purchase times (days after the first purchase) of customers observed ``ends`` days.

    Returns the owner of each purchase and its time, grouped by owner and in time order.
    """
    n = len(ends)
    rate = rng.gamma(params.r, 1.0 / params.alpha, n)
    drop = rng.beta(params.a, params.b, n)
    clock = np.zeros(n)
    owners, times = [], []
    active = np.arange(n)
    # One round per purchase: each round draws the next gap of every customer still buying.
    while active.size:
        clock[active] += rng.exponential(1.0 / rate[active])
        active = active[clock[active] <= ends[active]]
        owners.append(active)
        times.append(clock[active])
        active = active[rng.random(active.size) >= drop[active]]
    owner = np.concatenate(owners) if owners else np.empty(0, dtype=np.intp)
    time = np.concatenate(times) if times else np.empty(0)
    order = np.lexsort((time, owner))
    return owner[order], time[order]


def generate_btyd_log(
    customers: int,
    *,
    seed: int = 7,
    as_of: date = date(2026, 6, 30),
    horizon_days: int = 90,
    bgnbd: BgNbd = CDNOW_BGNBD,
    gamma_gamma: GammaGamma = CDNOW_GAMMA_GAMMA,
) -> pd.DataFrame:
    """A purchase log of ``customers`` customers from the BG/NBD + Gamma-Gamma process."""
    if customers < 1:
        raise ValueError(f"customers must be at least 1, got {customers}")
    rng = np.random.default_rng([seed, 15])
    cut = np.datetime64(as_of, "D") - np.timedelta64(horizon_days - 1, "D")
    end = np.datetime64(as_of, "D") + np.timedelta64(horizon_days + 1, "D")
    first = cut - rng.integers(1, _COHORT_DAYS + 1, customers)
    observed = (end - first).astype(np.float64)
    # The first purchase happens at a random time of its day; repeats follow from there.
    start = rng.random(customers)
    owner, after = simulate_bgnbd(rng, bgnbd, ends=observed - start)
    owner = np.concatenate([np.arange(customers), owner])
    days = np.concatenate([start, start[owner[customers:]] + after])
    order = np.lexsort((days, owner))
    owner, days = owner[order], days[order]
    scale = rng.gamma(gamma_gamma.q, 1.0 / gamma_gamma.gamma, customers)
    amount = rng.gamma(gamma_gamma.p, 1.0 / scale[owner])
    seconds = np.round(days * 86_400).astype(np.int64)
    ts = first[owner].astype("datetime64[s]") + seconds.astype("timedelta64[s]")
    ids = np.char.add("C", np.char.zfill(np.arange(customers).astype(str), 6))
    return pd.DataFrame(
        {
            "customer_id": pd.array(ids[owner], dtype="str"),
            "ts": ts.astype("datetime64[us]"),
            "amount": np.round(amount, 2),
        }
    )
