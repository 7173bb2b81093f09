"""Seeded demo data: the demo restaurant's customer table and its transaction log.

``generate_customers(n, seed=...)`` returns one row per customer as a CRM export would
hold it on ``DEMO_AS_OF`` (2026-06-30); ``examples/demo.toml``, ``binary.toml`` and
``value.toml`` describe it. Everything is vectorised numpy (a million customers take a
few seconds) and the same seed always gives the same frame.

Columns
-------
- ``customer_id``: opaque 8-digit text with leading zeros ("00000017"), numbered in signup
  order; downstream code must keep it as text.
- ``signup_date``: entry into the CRM, over the four years before ``DEMO_AS_OF``, more of
  them recent (a growing business); datetime64 at midnight.
- Acquisition (lead heat): ``campaign`` (none, spring_menu, student_night, loyalty_push,
  brand_search, gift_season, summer_terrace, happy_hour), ``landing_page`` (/, /menu, /book,
  /students, /gift-cards, /events, /offers) and ``channel`` (search, social, email, direct,
  referral, display), both depending on the campaign; ``device`` (mobile, desktop,
  tablet); ``region`` (eight districts, each with its usual distance).
- ``car_brand``: seen by the valet, so missing for ~80 %; ten brands, of which porsche,
  mercedes, bmw, audi and tesla (premium) go with well-off customers.
- History as of ``DEMO_AS_OF``, every window capped by the customer's tenure:
  ``visits_365d`` >= ``visits_90d``; ``spend_365d`` (their bills); ``avg_ticket`` (spend
  per visit, missing without a visit in the year); ``days_since_last_visit`` (missing for
  customers who never came); ``party_size`` (1-8); ``booking_lead_days`` (~5 % missing);
  ``reviews_left``; ``distance_km`` (~3 % missing); ``email_open_rate`` (0-1, ~7 %
  missing); ``cancellations_365d``.
- Flags: ``loyalty_member``, ``student_verified`` (~10 %) and ``gift_card_buyer`` are
  numpy bool; ``newsletter_opt_in`` (~3 % unknown) and ``app_installed`` (~4 % unknown)
  are pandas' nullable ``boolean``.
- ``last_call_minutes``: the last phone call's length, drawn from the tier itself (VIPs
  get long calls), so known only after the fact: leakage that every spec drops.
- Protected: ``age_band`` (18-24 ... 65+) and ``gender``, drawn last so that nothing depends
  on them. Students skew young, so a fairness report sees an age gap the model never used.
- Targets: ``tier`` (vip, standard, student), ``returned_90d`` (bool), ``spend_next_90d``
  (>= 0, zero unless the customer returned).

How labels arise
----------------
A hidden affluence score drives the signals (visit rate, ticket, loyalty, car, lead time,
...); students are poorer but come often. The customer's latent value is then computed
from the *observed* signals alone (``_signal_value``: logs of visits and ticket, loyalty
and its interaction with the app, campaign and landing-page heat, car brand, planned group
bookings, lead time, cancellations, distance, gift cards, email engagement, recency) plus
Gaussian noise, so a model can learn it but never perfectly. ``tier`` is ``vip`` above a
fixed latent threshold (~12 % of customers, fewer among recent signups), else ``student``
for verified students, else ``standard``; about 97 % of verified students end up
``student``, so the hard rule that runs before the model is nearly always right.
``returned_90d`` ~ Bernoulli(sigmoid(latent - centre)); ``spend_next_90d`` is zero for
those who did not return and lognormal, scaled by the latent value, for those who did (a
tweedie-like target).

The transaction log
-------------------
``generate_transactions`` draws one row per purchase (``customer_id``, ``ts``, ``amount``
and the per-customer ``campaign``, ``channel``, ``student_verified``), about ten per
customer, dated from signup through ``as_of + horizon_days``; rows are grouped by customer
(in the table's order) and in time order within each customer. A customer buys at the
yearly rate their ``visits_365d`` shows, bills scatter around their ``avg_ticket``, and
they lapse at some point after their last recorded visit (valuable customers later), so
recency, frequency and spend in the history predict the spend in the horizon. The log is
a fresh draw from each customer's habits, not a replay of the table: its last-year counts
match ``visits_365d`` roughly, on average. ``examples/transactions.toml`` describes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any, TypeAlias

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["DEMO_AS_OF", "generate_customers", "generate_transactions"]

DEMO_AS_OF: date = date(2026, 6, 30)

# The generated frame, or the column dict it is built from.
_Columns: TypeAlias = pd.DataFrame | Mapping[str, Any]

_ID_WIDTH = 8
_SIGNUP_DAYS = 4 * 365
# A fixed latent threshold rather than a quantile, so that a customer's tier does not
# depend on how many customers were generated; it gives ~12 % vip.
_VIP_THRESHOLD = 3.75
# Noise on the latent value: sets how far a model can get (macro-F1 ~0.87 at 200k rows).
_LATENT_NOISE = 0.75
# A typical latent value; return odds are even here.
_VALUE_CENTRE = 2.0

# (category, heat): the lead temperature a salesperson reads from how the customer arrived.
_CAMPAIGNS = (
    ("none", 0.0), ("spring_menu", 0.15), ("student_night", -0.25), ("loyalty_push", 0.25),
    ("brand_search", 0.40), ("gift_season", 0.30), ("summer_terrace", 0.05),
    ("happy_hour", -0.20),
)  # fmt: skip
_PAGES = (
    ("/", 0.0), ("/menu", 0.05), ("/book", 0.35), ("/students", -0.20),
    ("/gift-cards", 0.15), ("/events", 0.25), ("/offers", -0.10),
)  # fmt: skip
_CHANNELS = ("search", "social", "email", "direct", "referral", "display")
_DEVICES = ("mobile", "desktop", "tablet")
_REGIONS = (  # (district, median distance in km)
    ("old_town", 2.0), ("harbour", 4.0), ("university", 3.0), ("riverside", 5.0),
    ("north", 9.0), ("south", 8.0), ("east", 12.0), ("west", 10.0),
)  # fmt: skip
_PREMIUM_BRANDS = ("porsche", "mercedes", "bmw", "audi", "tesla")
_BRANDS = (*_PREMIUM_BRANDS, "volkswagen", "toyota", "ford", "renault", "skoda")
_AGE_BANDS = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")
_GENDERS = ("female", "male", "nonbinary", "undisclosed")
_TIERS = ("vip", "standard", "student")

# Probability tables. Rows "by group" are [everyone else, students]; rows "by campaign"
# follow _CAMPAIGNS. Columns follow the category tuple named.
_CAMPAIGN_BY_GROUP = np.array([
    [0.30, 0.12, 0.02, 0.12, 0.14, 0.10, 0.10, 0.10],
    [0.15, 0.06, 0.45, 0.02, 0.06, 0.02, 0.06, 0.18],
])  # fmt: skip
_PAGE_BY_CAMPAIGN = np.array([
    [0.40, 0.25, 0.20, 0.02, 0.04, 0.06, 0.03],
    [0.15, 0.55, 0.20, 0.01, 0.02, 0.04, 0.03],
    [0.10, 0.08, 0.05, 0.65, 0.01, 0.06, 0.05],
    [0.20, 0.10, 0.45, 0.01, 0.04, 0.10, 0.10],
    [0.50, 0.15, 0.25, 0.01, 0.03, 0.05, 0.01],
    [0.10, 0.05, 0.10, 0.01, 0.65, 0.07, 0.02],
    [0.20, 0.40, 0.25, 0.02, 0.02, 0.06, 0.05],
    [0.15, 0.20, 0.05, 0.05, 0.01, 0.04, 0.50],
])  # fmt: skip
_CHANNEL_BY_CAMPAIGN = np.array([
    [0.25, 0.10, 0.05, 0.40, 0.18, 0.02],
    [0.25, 0.30, 0.20, 0.05, 0.05, 0.15],
    [0.05, 0.70, 0.05, 0.02, 0.15, 0.03],
    [0.05, 0.05, 0.80, 0.05, 0.03, 0.02],
    [0.90, 0.02, 0.01, 0.05, 0.01, 0.01],
    [0.20, 0.25, 0.30, 0.05, 0.05, 0.15],
    [0.20, 0.40, 0.10, 0.05, 0.05, 0.20],
    [0.10, 0.55, 0.10, 0.05, 0.05, 0.15],
])  # fmt: skip
_DEVICE_BY_GROUP = np.array([[0.60, 0.32, 0.08], [0.80, 0.15, 0.05]])
_REGION_BY_GROUP = np.array([
    [0.10, 0.12, 0.05, 0.13, 0.15, 0.15, 0.15, 0.15],
    [0.05, 0.05, 0.55, 0.05, 0.08, 0.07, 0.08, 0.07],
])  # fmt: skip
_AGE_BY_GROUP = np.array([
    [0.08, 0.24, 0.22, 0.19, 0.15, 0.12],
    [0.80, 0.17, 0.03, 0.00, 0.00, 0.00],
])  # fmt: skip

_COLUMN_ORDER = (
    "customer_id", "signup_date", "campaign", "landing_page", "channel", "device", "region",
    "car_brand", "visits_90d", "visits_365d", "spend_365d", "avg_ticket",
    "days_since_last_visit", "party_size", "booking_lead_days", "reviews_left", "distance_km",
    "email_open_rate", "cancellations_365d", "loyalty_member", "student_verified",
    "newsletter_opt_in", "gift_card_buyer", "app_installed", "last_call_minutes", "age_band",
    "gender", "tier", "returned_90d", "spend_next_90d",
)  # fmt: skip


def generate_customers(n: int, *, seed: int = 7) -> pd.DataFrame:
    """``n`` demo customers as of ``DEMO_AS_OF`` (columns and labels: see the module doc)."""
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"the number of customers must be a whole number >= 1, got {n!r}")
    n = int(n)
    rng = np.random.default_rng(seed)
    student = rng.random(n) < 0.10
    # Hidden affluence: drives the signals but is never a column; students are poorer.
    z = rng.standard_normal(n) - 0.7 * student
    # Oldest first; u ** 1.3 crowds signups towards the present (a growing business).
    tenure = np.sort((_SIGNUP_DAYS * rng.random(n) ** 1.3).astype(np.int64))[::-1]
    cols: dict[str, Any] = {
        "customer_id": _ids(np.arange(1, n + 1)),
        "signup_date": (np.datetime64(DEMO_AS_OF, "D") - tenure).astype("datetime64[us]"),
    }
    codes = _acquisition(rng, cols, student=student, z=z)
    _flags(rng, cols, student=student, z=z, codes=codes)
    _history(rng, cols, student=student, z=z, tenure=tenure, codes=codes)
    latent = _signal_value(cols) + _LATENT_NOISE * rng.standard_normal(n)
    _targets(rng, cols, student=student, latent=latent)
    # Drawn last, from the student flag only: nothing above can depend on them.
    cols["age_band"] = _text(_pick(rng, _AGE_BY_GROUP[student.astype(np.intp)]), _AGE_BANDS)
    gender = rng.choice(len(_GENDERS), size=n, p=[0.48, 0.47, 0.02, 0.03])
    cols["gender"] = _text(gender, _GENDERS)
    return pd.DataFrame({name: cols[name] for name in _COLUMN_ORDER})


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _ids(numbers: np.ndarray) -> pd.Series:
    width = max(_ID_WIDTH, len(str(int(numbers.max()))))
    return pd.Series(pc.utf8_lpad(pa.array(numbers).cast(pa.string()), width, "0"), dtype="str")


def _text(codes: np.ndarray, names: tuple[str, ...], *, missing: Any = None) -> pd.Series:
    """A pandas ``str`` column from codes: one dictionary cast, not a million Python strings."""
    indices = pa.array(codes.astype(np.int8), mask=missing)
    text = pa.DictionaryArray.from_arrays(indices, pa.array(names)).cast(pa.large_string())
    return pd.Series(text, dtype="str")


def _pick(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One category code per row, drawn from that row's probabilities (an n x k array)."""
    cum = np.cumsum(probs, axis=1)
    u = rng.random(len(probs)) * cum[:, -1]
    return (u[:, None] >= cum[:, :-1]).sum(axis=1).astype(np.int8)


def _code(names: tuple[Any, ...], name: str) -> int:
    """Position of ``name`` in a category tuple (of names or of (name, number) pairs)."""
    return [n if isinstance(n, str) else n[0] for n in names].index(name)


def _acquisition(
    rng: np.random.Generator, cols: dict[str, Any], *, student: np.ndarray, z: np.ndarray
) -> dict[str, np.ndarray]:
    """Add campaign, landing page, channel, device, region and car brand; return codes."""
    n = len(z)
    group = student.astype(np.intp)
    codes = {"campaign": _pick(rng, _CAMPAIGN_BY_GROUP[group])}
    codes["landing_page"] = _pick(rng, _PAGE_BY_CAMPAIGN[codes["campaign"]])
    codes["channel"] = _pick(rng, _CHANNEL_BY_CAMPAIGN[codes["campaign"]])
    codes["device"] = _pick(rng, _DEVICE_BY_GROUP[group])
    codes["region"] = _pick(rng, _REGION_BY_GROUP[group])
    for name, table in (("campaign", _CAMPAIGNS), ("landing_page", _PAGES), ("region", _REGIONS)):
        cols[name] = _text(codes[name], tuple(key for key, _ in table))
    cols["channel"] = _text(codes["channel"], _CHANNELS)
    cols["device"] = _text(codes["device"], _DEVICES)
    # The valet sees some guests' cars; the well-off drive the premium brands.
    seen = rng.random(n) < _sigmoid(-1.5 + 0.6 * z)
    premium = rng.random(n) < _sigmoid(-0.6 + 1.1 * z)
    brand = rng.integers(0, len(_PREMIUM_BRANDS), n) + len(_PREMIUM_BRANDS) * ~premium
    cols["car_brand"] = _text(brand, _BRANDS, missing=~seen)
    return codes


def _flags(
    rng: np.random.Generator,
    cols: dict[str, Any],
    *,
    student: np.ndarray,
    z: np.ndarray,
    codes: dict[str, np.ndarray],
) -> None:
    """Add the boolean signals; two of them are sometimes unknown in the CRM."""
    n = len(z)
    campaign, page = codes["campaign"], codes["landing_page"]
    loyal = rng.random(n) < _sigmoid(
        -1.0 + 0.7 * z + 1.2 * (campaign == _code(_CAMPAIGNS, "loyalty_push")) - 0.3 * student
    )
    email = codes["channel"] == _code(_CHANNELS, "email")
    newsletter = rng.random(n) < _sigmoid(-0.4 + 0.4 * z + 0.9 * email)
    gift_buyer = rng.random(n) < _sigmoid(
        -2.4
        + 0.5 * z
        + 1.6 * (campaign == _code(_CAMPAIGNS, "gift_season"))
        + 0.9 * (page == _code(_PAGES, "/gift-cards"))
    )
    mobile = codes["device"] == _code(_DEVICES, "mobile")
    app = rng.random(n) < _sigmoid(-1.1 + 0.9 * loyal + 0.5 * mobile + 0.25 * z + 0.3 * student)
    cols["loyalty_member"] = loyal
    cols["student_verified"] = student
    cols["newsletter_opt_in"] = pd.arrays.BooleanArray(newsletter, rng.random(n) < 0.03)
    cols["gift_card_buyer"] = gift_buyer
    cols["app_installed"] = pd.arrays.BooleanArray(app, rng.random(n) < 0.04)


def _history(
    rng: np.random.Generator,
    cols: dict[str, Any],
    *,
    student: np.ndarray,
    z: np.ndarray,
    tenure: np.ndarray,
    codes: dict[str, np.ndarray],
) -> None:
    """Add visit counts, spend, recency and habits."""
    n = len(z)
    noise = rng.standard_normal((6, n))
    page = codes["landing_page"]
    events = page == _code(_PAGES, "/events")
    party = 1 + rng.poisson(np.exp(0.1 + 0.2 * z + 0.5 * events + 0.3 * student + 0.4 * noise[0]))
    party = np.minimum(party, 8)
    # Students come often and spend little: frequency alone does not make a vip.
    rate = np.exp(1.4 + 0.5 * z + 0.4 * cols["loyalty_member"] + 0.5 * student + 0.6 * noise[1])
    lapsed = rng.random(n) < _sigmoid(-1.2 - 0.6 * z)
    win365, win90 = np.minimum(tenure, 365), np.minimum(tenure, 90)
    v365 = rng.poisson(rate * win365 / 365 * np.where(lapsed, 0.08, 1.0))
    # A lapsing customer's visits sit early in the year, so fewer fall in the last 90 days.
    p90 = np.where(tenure <= 90, 1.0, win90 / np.maximum(win365, 1) * np.where(lapsed, 0.5, 1.0))
    v90 = rng.binomial(v365, p90)
    cols["visits_90d"], cols["visits_365d"] = v90, v365
    cols["days_since_last_visit"] = _recency(rng, v90=v90, v365=v365, tenure=tenure, rate=rate)

    ticket = np.exp(3.3 + 0.3 * z + 0.3 * np.log(party) - 0.35 * student + 0.25 * noise[2])
    spend = np.round(v365 * ticket * np.exp(0.3 / np.sqrt(np.maximum(v365, 1)) * noise[3]), 2)
    cols["spend_365d"] = spend
    cols["avg_ticket"] = np.where(v365 > 0, np.round(spend / np.maximum(v365, 1), 2), np.nan)
    cols["party_size"] = party

    planned = np.isin(page, [_code(_PAGES, "/book"), _code(_PAGES, "/events")])
    lead = np.exp(1.0 + 0.35 * z + 0.6 * planned + 0.3 * (party >= 5) + 0.9 * noise[4]) - 1
    lead = np.minimum(np.floor(np.maximum(lead, 0)), 180)
    cols["booking_lead_days"] = np.where(rng.random(n) < 0.05, np.nan, lead)
    cols["reviews_left"] = rng.poisson(0.06 * v365 + 0.15 * np.exp(0.3 * z))
    km = np.array([median for _, median in _REGIONS])[codes["region"]] * np.exp(0.6 * noise[5])
    cols["distance_km"] = np.where(rng.random(n) < 0.03, np.nan, np.round(km, 1))
    newsletter = cols["newsletter_opt_in"].fillna(False).to_numpy(bool)
    opens = _sigmoid(-1.1 + 0.5 * z + 0.9 * newsletter + 0.7 * rng.standard_normal(n))
    cols["email_open_rate"] = np.where(rng.random(n) < 0.07, np.nan, np.round(opens, 3))
    cols["cancellations_365d"] = rng.poisson(0.05 * v365 + 0.12 * np.exp(-0.3 * z))


def _recency(
    rng: np.random.Generator,
    *,
    v90: np.ndarray,
    v365: np.ndarray,
    tenure: np.ndarray,
    rate: np.ndarray,
) -> np.ndarray:
    """Days since the last visit, consistent with the window counts; NaN if never visited."""
    u = rng.random(len(v90))
    # The latest of k uniform visit days in a window of w days lies w * (1 - u ** (1/k)) back.
    in_90 = np.minimum(tenure, 90) * (1 - u ** (1 / np.maximum(v90, 1)))
    older = np.maximum(np.minimum(tenure, 365) - 90, 0)
    in_365 = 90 + older * (1 - u ** (1 / np.maximum(v365 - v90, 1)))
    before = np.maximum(tenure - 365, 0)
    came_before = rng.random(len(v90)) < 1 - np.exp(-rate * before / 365)
    days = np.where(
        v90 > 0,
        in_90,
        np.where(v365 > 0, in_365, np.where(came_before, 365 + before * u, np.nan)),
    )
    return np.floor(days)


def _signal_value(cols: _Columns) -> np.ndarray:
    """A customer's value on a log scale from observable columns alone (before noise).

    Takes the generated frame or the column dict being built, so the transaction log and
    the tests read the same value the labels came from.
    """
    v365, v90 = _num(cols, "visits_365d"), _num(cols, "visits_90d")
    ticket = np.nan_to_num(_num(cols, "avg_ticket"), nan=25.0)
    loyal, app = _flag(cols, "loyalty_member"), _flag(cols, "app_installed")
    party, lead = _num(cols, "party_size"), np.nan_to_num(_num(cols, "booking_lead_days"))
    value = 0.9 * np.log1p(v365) + 0.4 * np.log1p(v90)
    value += 0.9 * np.clip(np.log(ticket / 30.0), -1.5, 1.5)
    value += 0.45 * loyal + 0.25 * loyal * app
    value += _heat(cols["campaign"], _CAMPAIGNS) + _heat(cols["landing_page"], _PAGES)
    brand = _index_in(cols["car_brand"], _BRANDS)
    value += np.where(brand < len(_PREMIUM_BRANDS), 0.6, np.where(brand < len(_BRANDS), 0.1, 0))
    # A big party booked well ahead is a celebration: worth more than its parts.
    value += 0.45 * ((party >= 5) & (lead >= 10)) + 0.1 * np.log1p(lead)
    value -= 0.25 * _num(cols, "cancellations_365d")
    value += 0.08 * np.minimum(_num(cols, "reviews_left"), 5)
    value -= 0.12 * np.log1p(np.nan_to_num(_num(cols, "distance_km"), nan=6.0))
    value += 0.35 * _flag(cols, "gift_card_buyer")
    value += 0.4 * (np.nan_to_num(_num(cols, "email_open_rate"), nan=0.3) - 0.3)
    recency = _num(cols, "days_since_last_visit")
    value -= 0.3 * ((recency > 180) | np.isnan(recency))
    value -= 0.5 * _flag(cols, "student_verified")
    return value


def _num(cols: _Columns, name: str) -> np.ndarray:
    return np.asarray(cols[name], dtype=np.float64)


def _flag(cols: _Columns, name: str) -> np.ndarray:
    """A boolean column as 1.0/0.0, unknown counted as no."""
    flags = pd.Series(cols[name]).astype("boolean")
    return flags.fillna(False).to_numpy(np.float64)


def _heat(column: Any, table: tuple[tuple[str, float], ...]) -> np.ndarray:
    """Each row's heat from ``table``; unknown or missing categories are lukewarm (0)."""
    heats = np.array([heat for _, heat in table] + [0.0])
    return heats[_index_in(column, tuple(name for name, _ in table))]


def _index_in(column: Any, names: tuple[str, ...]) -> np.ndarray:
    """Each value's position in ``names``; ``len(names)`` for missing or unknown values."""
    values = pa.array(pd.Series(column), type=pa.large_string())
    found = pc.index_in(values, pa.array(names, pa.large_string()))
    return found.fill_null(len(names)).to_numpy(zero_copy_only=False)


def _targets(
    rng: np.random.Generator, cols: dict[str, Any], *, student: np.ndarray, latent: np.ndarray
) -> None:
    """Add tier, returned_90d, spend_next_90d and the leaky last_call_minutes."""
    n = len(latent)
    tier = np.where(latent >= _VIP_THRESHOLD, 0, np.where(student, 2, 1))
    cols["tier"] = _text(tier, _TIERS)
    centred = latent - _VALUE_CENTRE
    returned = rng.random(n) < _sigmoid(centred)
    spend = np.exp(3.4 + 0.55 * centred + 0.55 * rng.standard_normal(n))
    cols["returned_90d"] = returned
    cols["spend_next_90d"] = np.where(returned, np.round(np.maximum(spend, 1.0), 2), 0.0)
    # Staff spend longer on the phone with the guests they already treat as VIPs.
    minutes = np.array([14.0, 4.0, 3.0])[tier]
    cols["last_call_minutes"] = np.round(rng.gamma(4.0, minutes / 4.0), 1)


_TRANSACTION_INPUTS = (
    "customer_id", "signup_date", "campaign", "channel", "student_verified", "visits_365d",
    "visits_90d", "avg_ticket", "days_since_last_visit", "party_size", "booking_lead_days",
    "loyalty_member", "app_installed", "landing_page", "car_brand", "cancellations_365d",
    "reviews_left", "distance_km", "gift_card_buyer", "email_open_rate",
)  # fmt: skip


def generate_transactions(
    customers: pd.DataFrame,
    *,
    seed: int = 7,
    as_of: date = DEMO_AS_OF,
    horizon_days: int = 90,
) -> pd.DataFrame:
    """A purchase log for ``customers`` (a ``generate_customers`` frame).

    ``ts`` runs from each customer's signup through the day ``as_of + horizon_days``, so
    the horizon after ``as_of`` and the one before it (the backtest's) both hold purchases.
    """
    absent = [c for c in _TRANSACTION_INPUTS if c not in customers.columns]
    if absent:
        raise ValueError(
            f"column '{absent[0]}' is missing from the customers frame; "
            f"pass a frame made by generate_customers"
        )
    if isinstance(horizon_days, bool) or not isinstance(horizon_days, int) or horizon_days < 1:
        raise ValueError(f"horizon_days must be a whole number of days >= 1, got {horizon_days!r}")
    # A stream of its own, so the log does not replay the draws that made the table.
    rng = np.random.default_rng([seed, 1])
    signup = pd.to_datetime(customers["signup_date"]).to_numpy("datetime64[D]")
    table_day = np.datetime64(DEMO_AS_OF, "D")
    end = np.datetime64(as_of, "D") + np.timedelta64(horizon_days + 1, "D")
    value = _signal_value(customers) - _VALUE_CENTRE
    rate, ticket = _habits(rng, customers, value=value, tenure=(table_day - signup).astype(float))
    # Customers lapse some time after their last recorded visit; valuable ones later.
    recency = _num(customers, "days_since_last_visit")
    last_seen = np.where(np.isnan(recency), signup, table_day - np.nan_to_num(recency).astype(int))
    stay = 365 * 1.5 * np.exp(0.5 * value) * rng.exponential(size=len(value))
    lapse = last_seen + stay.astype(np.int64)
    active = np.maximum(np.minimum(lapse, end) - signup, 0).astype(np.int64)
    counts = rng.poisson(rate * active / 365)

    owner = np.repeat(np.arange(len(counts)), counts)
    position = _sorted_uniforms(rng, counts) * active[owner]
    day = np.floor(position)
    ts = (signup[owner] + day.astype(np.int64)).astype("datetime64[s]") + _clock(position - day)
    amount = ticket[owner] * np.exp(0.35 * rng.standard_normal(len(owner)))
    log = {
        "customer_id": _spread(customers["customer_id"], owner),
        "ts": ts.astype("datetime64[us]"),
        "amount": np.round(np.maximum(amount, 1.0), 2),
        "campaign": _spread(customers["campaign"], owner),
        "channel": _spread(customers["channel"], owner),
        "student_verified": _spread(customers["student_verified"], owner),
    }
    return pd.DataFrame(log, copy=False)


def _habits(
    rng: np.random.Generator, customers: pd.DataFrame, *, value: np.ndarray, tenure: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each customer's purchases per year and median bill, read from the table."""
    exposure = np.clip(tenure, 0, 365) / 365
    # Half a visit of prior per eighth of a year keeps brand-new customers' rates sane.
    rate = (_num(customers, "visits_365d") + 0.5) / (exposure + 0.125)
    rate *= rng.gamma(5.0, 0.2, len(value))
    ticket = _num(customers, "avg_ticket")
    ticket = np.where(np.isnan(ticket), 30.0 * np.exp(0.2 * np.clip(value, -3, 3)), ticket)
    # A lognormal bill with sigma 0.35 has mean exp(0.35**2 / 2) times its median.
    return rate, ticket * np.exp(-(0.35**2) / 2)


def _spread(column: pd.Series, owner: np.ndarray) -> Any:
    """The per-customer ``column`` repeated onto each of the customer's purchases."""
    if isinstance(column.dtype, pd.StringDtype) and column.dtype.storage == "pyarrow":
        # pyarrow's own take is several times faster than the pandas wrapper's here.
        return pd.Series(pa.array(column.array).take(pa.array(owner)), dtype=column.dtype)
    return column.array.take(owner)


def _sorted_uniforms(rng: np.random.Generator, counts: np.ndarray) -> np.ndarray:
    """``counts[i]`` uniforms on [0, 1) for each group i, ascending within each group.

    Running sums of k + 1 exponential gaps, divided by their total, are k sorted uniforms:
    each customer's purchases come out in time order without sorting 10M rows.
    """
    gaps = rng.exponential(size=int(counts.sum()) + len(counts))
    running = np.cumsum(gaps)
    ends = np.cumsum(counts + 1) - 1
    totals = running[ends]
    bases = np.concatenate(([0.0], totals[:-1]))
    keep = np.ones(len(gaps), dtype=bool)
    keep[ends] = False
    group = np.repeat(np.arange(len(counts)), counts)
    share = (running[keep] - bases[group]) / (totals - bases)[group]
    # Rounding can put a share a hair over 1.
    return np.minimum(share, np.nextafter(1.0, 0.0))


def _clock(fraction: np.ndarray) -> np.ndarray:
    """Map a uniform share of a day onto opening hours (11:00-23:30), keeping order.

    The quantile function of a lunch peak (~12:45) and a dinner peak (~19:30) is monotone,
    so purchases in order within a day stay in order; it is tabulated once and looked up,
    which is much faster than interpolating 10M values.
    """
    hours = np.linspace(11.0, 23.5, 501)
    density = 0.4 * np.exp(-0.5 * ((hours - 12.75) / 0.6) ** 2) / 0.6
    density += 0.6 * np.exp(-0.5 * ((hours - 19.5) / 1.2) ** 2) / 1.2
    cdf = np.concatenate(([0.0], np.cumsum((density[1:] + density[:-1]) / 2)))
    steps = 1 << 16
    table = np.interp(np.arange(steps) / steps, cdf / cdf[-1], hours * 3600).astype(np.int64)
    return table[(fraction * steps).astype(np.int64)].astype("timedelta64[s]")
