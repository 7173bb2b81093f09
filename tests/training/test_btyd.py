"""BG/NBD and Gamma-Gamma by maximum likelihood (training.btyd), and their generator."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.special import betaln, gammaln, hyp2f1

from tierline.engine.errors import ArtifactError
from tierline.engine.spec import TRANSACTION_FEATURES
from tierline.training.btyd import (
    BTYD_MODEL_FEATURES,
    BgNbd,
    BtydFit,
    GammaGamma,
    fit_bgnbd,
    fit_btyd,
    fit_gamma_gamma,
)
from tierline.training.demo_btyd import CDNOW_GAMMA_GAMMA, generate_btyd_log, simulate_bgnbd
from tierline.training.purchase_days import PURCHASE_DAY_FEATURES

# Fader, Hardie & Lee's CDNOW estimates, time in weeks.
CDNOW = BgNbd(r=0.243, alpha=4.414, a=0.793, b=2.426)


def simulated_summary(params: BgNbd, n: int, seed: int) -> tuple[np.ndarray, ...]:
    """(x, t_x, T) of ``n`` customers drawn from a BG/NBD process, ages 30 to 80."""
    rng = np.random.default_rng(seed)
    T = rng.uniform(30.0, 80.0, n)
    owner, times = simulate_bgnbd(rng, params, ends=T)
    x = np.bincount(owner, minlength=n).astype(np.float64)
    t_x = np.zeros(n)
    np.maximum.at(t_x, owner, times)
    return x, t_x, T


def integrated(params: BgNbd, t: float, x: float, t_x: float, T: float) -> tuple[float, float]:
    """E[X(t) | x, t_x, T] and P(alive) by integrating the posterior over p numerically.

    The rate integrates in closed form for a fixed p (a gamma integral); p = s^(1/a)
    removes Beta's singularity at 0. No hypergeometric function takes part.
    """
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    lam = math.exp(gammaln(r + x) - gammaln(r) + r * math.log(alpha))

    def density(s: float) -> float:  # Beta(a, b) density times dp/ds
        return (1 - s ** (1 / a)) ** (b - 1) / a / math.exp(betaln(a, b))

    def alive(s: float) -> float:
        p = s ** (1 / a)
        return (1 - p) ** x * lam * (alpha + T) ** -(r + x) * density(s)

    def gone(s: float) -> float:
        p = s ** (1 / a)
        if x == 0:
            return 0.0
        return p * (1 - p) ** (x - 1) * lam * (alpha + t_x) ** -(r + x) * density(s)

    def bought(s: float) -> float:
        p = s ** (1 / a)
        # 1 - ((alpha + T) / (alpha + T + p t))^(r + x) without cancellation as p -> 0.
        ahead = (alpha + T) ** -(r + x) * -math.expm1(-(r + x) * math.log1p(p * t / (alpha + T)))
        return (1 - p) ** x * lam * ahead / p * density(s)

    def integral(f: Callable[[float], float]) -> float:
        return float(quad(f, 0, 1, limit=200, epsabs=0, epsrel=1e-10)[0])

    whole = integral(alive) + integral(gone)
    return integral(bought) / whole, integral(alive) / whole


def test_bgnbd_fit_recovers_the_parameters_it_was_simulated_with() -> None:
    """A seeded BG/NBD process with the CDNOW parameters is fitted back to within 10 %."""
    x, t_x, T = simulated_summary(CDNOW, 20_000, seed=3)
    fitted = fit_bgnbd(x, t_x, T)
    for name in ("r", "alpha", "a", "b"):
        truth, got = getattr(CDNOW, name), getattr(fitted, name)
        assert abs(got / truth - 1) < 0.10, (name, truth, got)


def test_bgnbd_fit_maximises_the_likelihood() -> None:
    """The fitted parameters score a higher likelihood than the truth and nearby points."""
    x, t_x, T = simulated_summary(CDNOW, 5_000, seed=4)
    fitted = fit_bgnbd(x, t_x, T)
    best = fitted.log_likelihood(x, t_x, T).sum()
    assert best >= CDNOW.log_likelihood(x, t_x, T).sum()
    for name in ("r", "alpha", "a", "b"):
        for factor in (0.9, 1.1):
            moved = BgNbd(**{**fitted.__dict__, name: getattr(fitted, name) * factor})
            assert moved.log_likelihood(x, t_x, T).sum() < best


def test_analytic_gradients_match_finite_differences() -> None:
    """The gradients the fits use agree with central differences of the log-likelihoods."""
    x, t_x, T = simulated_summary(CDNOW, 300, seed=7)
    m = np.where(x > 0, 20.0 + 3.0 * x, 1.0)
    cases = [
        (CDNOW, lambda mdl: mdl.log_likelihood(x, t_x, T), CDNOW.gradient(x, t_x, T)),
        (
            CDNOW_GAMMA_GAMMA,
            lambda mdl: mdl.log_likelihood(x[x > 0], m[x > 0]),
            CDNOW_GAMMA_GAMMA.gradient(x[x > 0], m[x > 0]),
        ),
    ]
    for model, ll, gradient in cases:
        for row, name in enumerate(model.__dataclass_fields__):
            step = 1e-6 * getattr(model, name)
            up = dataclasses.replace(model, **{name: getattr(model, name) + step})
            down = dataclasses.replace(model, **{name: getattr(model, name) - step})
            numeric = (ll(up) - ll(down)) / (2 * step)
            np.testing.assert_allclose(gradient[row], numeric, rtol=1e-5, atol=1e-7, err_msg=name)


@pytest.mark.parametrize(
    "params",
    [CDNOW, BgNbd(r=2.0, alpha=10.0, a=1.5, b=3.0)],
    ids=["cdnow-a-below-1", "a-above-1"],
)
@pytest.mark.parametrize(
    ("x", "t_x", "T"), [(0, 0, 38), (1, 2, 38), (4, 30, 38), (12, 35, 40), (3, 5, 60)]
)
def test_conditional_expectation_and_p_alive_match_numeric_integration(
    params: BgNbd, x: float, t_x: float, T: float
) -> None:
    """E[X(t) | x, t_x, T] (the 2F1 closed form) and P(alive) agree with a posterior integral."""
    want_purchases, want_alive = integrated(params, 39.0, x, t_x, T)
    arrays = (np.array([x], float), np.array([t_x], float), np.array([T], float))
    assert params.expected_purchases(39.0, *arrays)[0] == pytest.approx(want_purchases, rel=1e-6)
    assert params.p_alive(*arrays)[0] == pytest.approx(want_alive, rel=1e-6)


def test_expected_purchases_of_a_new_customer_is_the_unconditional_formula() -> None:
    """Someone seen only today (x = t_x = T = 0) is expected to buy as the population does
    (Fader, Hardie & Lee 2005, eq. 9)."""
    r, alpha, a, b = CDNOW.r, CDNOW.alpha, CDNOW.a, CDNOW.b
    t = 52.0
    z = t / (alpha + t)
    unconditional = (
        (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, z))
    )
    zero = np.zeros(1)
    assert CDNOW.expected_purchases(t, zero, zero, zero)[0] == pytest.approx(unconditional)


def test_gamma_gamma_fit_recovers_the_spend_process() -> None:
    """Spends drawn from Gamma-Gamma with CDNOW's parameters give back its mean spend
    within 3 % and each parameter within 25 %."""
    rng = np.random.default_rng(5)
    truth = CDNOW_GAMMA_GAMMA
    n = 20_000
    x = rng.integers(1, 12, n).astype(np.float64)
    nu = rng.gamma(truth.q, 1.0 / truth.gamma, n)
    owner = np.repeat(np.arange(n), x.astype(np.int64))
    spend = rng.gamma(truth.p, 1.0 / nu[owner])
    m = np.bincount(owner, weights=spend) / x
    fitted = fit_gamma_gamma(x, m)
    assert fitted.mean_spend == pytest.approx(truth.mean_spend, rel=0.03)
    for name in ("p", "q", "gamma"):
        assert abs(getattr(fitted, name) / getattr(truth, name) - 1) < 0.25, name


def test_gamma_gamma_expected_spend_is_the_posterior_mean() -> None:
    """E[M | x, m] equals p (gamma + x m) / (p x + q - 1), the mean of nu's gamma posterior,
    and a customer without repeats gets the population's mean."""
    gg = CDNOW_GAMMA_GAMMA
    x, m = np.array([1.0, 3.0, 10.0, 0.0]), np.array([20.0, 55.5, 31.0, np.nan])
    posterior = gg.p * (gg.gamma + x * np.nan_to_num(m)) / (gg.p * x + gg.q - 1)
    np.testing.assert_allclose(gg.expected_spend(x, m), posterior, rtol=1e-12)
    assert gg.expected_spend(x, m)[3] == pytest.approx(gg.mean_spend)


def test_fit_round_trips_through_json_and_refuses_a_model_without_it() -> None:
    """The fit survives to_dict/from_dict unchanged; a model that reads a BTYD feature but
    holds no parameters is refused rather than scored with NaN."""
    fit = BtydFit(bgnbd=CDNOW, gamma_gamma=CDNOW_GAMMA_GAMMA, horizon_days=90, customers=10)
    assert BtydFit.from_dict(fit.to_dict()) == fit
    assert BtydFit.of_model({"btyd": fit.to_dict()}, ["recency_days"]) == fit
    assert BtydFit.of_model({}, ["recency_days"]) is None
    with pytest.raises(ArtifactError, match="bgnbd_p_alive"):
        BtydFit.of_model({}, ["recency_days", "bgnbd_p_alive"])
    with pytest.raises(ArtifactError, match="unreadable"):
        BtydFit.from_dict({"bgnbd": {"r": 1.0}})


def test_fit_btyd_samples_at_most_the_cap_and_gives_finite_features() -> None:
    """Past the cap a seeded sample is fitted (the same twice); every feature is finite."""
    x, t_x, T = simulated_summary(CDNOW, 3_000, seed=6)
    m = np.where(x > 0, 30.0 + x, np.nan)
    summary = {
        "repeat_days": x,
        "repeat_span_days": t_x,
        "age_days": T,
        "repeat_spend_mean": m,
        "monetary_mean": np.full(len(x), 30.0),
    }
    fit = fit_btyd(summary, horizon_days=39, max_customers=1_000)
    assert fit.customers == 1_000 and fit == fit_btyd(summary, horizon_days=39, max_customers=1_000)
    features = fit.features(summary)
    assert list(features) == list(BTYD_MODEL_FEATURES)
    for name, values in features.items():
        assert np.isfinite(values).all(), name
    np.testing.assert_allclose(
        features["btyd_value"], features["bgnbd_purchases"] * features["gg_spend"]
    )


def test_generated_log_is_seeded_and_shaped_like_a_transaction_log() -> None:
    """The BG/NBD log is the same for the same seed, every customer has a first purchase,
    and amounts are positive."""
    log = generate_btyd_log(500, seed=2)
    again = generate_btyd_log(500, seed=2)
    assert log.equals(again)
    assert list(log.columns) == ["customer_id", "ts", "amount"]
    assert log["customer_id"].nunique() == 500 and (log["amount"] > 0).all()
    assert not log.equals(generate_btyd_log(500, seed=3))


def test_gamma_gamma_refuses_nothing_it_can_score() -> None:
    """A repeat buyer whose refunds outweigh purchases counts as zero spend, not a negative one."""
    gg = GammaGamma(p=2.0, q=3.0, gamma=10.0)
    spend = gg.expected_spend(np.array([2.0]), np.array([-15.0]))[0]
    assert 0 < spend < gg.mean_spend


@pytest.mark.parametrize(
    "params", [BgNbd(r=0.5, alpha=5.0, a=0.3, b=0.6), BgNbd(r=0.5, alpha=5.0, a=1.0, b=2.0)]
)
def test_expectation_is_integrated_where_the_closed_form_has_no_value(params: BgNbd) -> None:
    """With a + b < 1 (no repeats: 2F1's c <= 0) or a = 1 the expectation is still finite
    and matches the posterior integral."""
    x, t_x, T = np.array([0.0, 0.0, 2.0]), np.array([0.0, 0.0, 9.0]), np.array([0.0, 30.0, 40.0])
    got = params.expected_purchases(39.0, x, t_x, T)
    for i in range(3):
        want, _ = integrated(params, 39.0, x[i], t_x[i], T[i])
        assert got[i] == pytest.approx(want, rel=1e-3)


def test_the_spec_names_every_feature_the_log_modules_build() -> None:
    """engine.spec's TRANSACTION_FEATURES (which the engine cannot import from training)
    list the purchase-day and BTYD features in the order the modules build them."""
    built = (*PURCHASE_DAY_FEATURES, *BTYD_MODEL_FEATURES)
    assert TRANSACTION_FEATURES[-len(built) :] == built
