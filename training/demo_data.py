"""Seeded demo data: the demo restaurant's customer table.

Kept whole (over 400 lines): the demo columns are drawn from each other, in one order.

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
- ``car_brand``: seen by the valet, so missing for ~80 %; ten brands, written as the
  makers write them (a cue reads "Dessert with the Porsche logo"), of which Porsche,
  Mercedes, BMW, Audi and Tesla (premium) go with well-off customers.
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
from the *observed* signals alone (``_signal_value``) plus Gaussian noise, so a model can
learn it but never perfectly. Like a real customer's worth it is no weighted sum:

- Habits saturate: visits count (on a log scale) up to eight a year, the bill up to ~60;
  four or more visits in the last 90 days make a *regular*, a step up.
- A loyalty card counts only while it is used: a member seen in the last two weeks is
  worth much more than a non-member, one not seen for two months (or never) less.
- Lead heat lies in the pairing of campaign and landing page (``_HOT_LEADS``): a brand
  search landing on /book is hot, on / (looking up the address) cold; happy_hour or
  loyalty_push on /offers are deal hunters.
- Booking lead time is U-shaped: same-day bookers (regulars) and planners two weeks out
  beat the ordinary three-to-eight-day booking; four or more booked ten days ahead is a
  celebration. A premium car counts when it brings a party of four or more.
- Distance works with frequency: twice in 90 days from over 15 km is devotion, far away
  and not lately a one-off visitor. Small additive touches: cancellations (two or
  more), reviews, gift cards, email opens, the student discount.

A linear model on the same columns explains about two thirds of the noise-free value, so
on demo.toml LightGBM reaches macro-F1 ~0.94 where the logistic baseline gets ~0.86 and
rules + majority ~0.65. ``tier`` is ``vip`` above a fixed latent threshold (~12 % of
customers, fewer among recent signups), else ``student`` for verified students, else
``standard``; about 97 % of verified students end up ``student``, so the hard rule that
runs before the model is nearly always right. ``returned_90d`` ~
Bernoulli(sigmoid(latent - centre)); ``spend_next_90d`` is zero for those who did not
return and lognormal, scaled by the latent value, for those who did (a tweedie-like
target). The matching purchase log is ``training.demo_transactions``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any, TypeAlias

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["DEMO_AS_OF", "VIP_REGULAR", "generate_customers"]

DEMO_AS_OF: date = date(2026, 6, 30)
# A regular's signals, as a till sends them, that a model trained on these customers places
# in vip (whose cues include the coffee perk): the tests' and benchmarks' vip guest.
VIP_REGULAR: dict[str, Any] = {
    "visits_90d": 9,
    "visits_365d": 30,
    "spend_365d": 4200.0,
    "avg_ticket": 140.0,
    "loyalty_member": True,
    "days_since_last_visit": 3,
    "party_size": 5,
    "booking_lead_days": 15,
}

# The generated frame, or the column dict it is built from.
_Columns: TypeAlias = pd.DataFrame | Mapping[str, Any]

_ID_WIDTH = 8
_SIGNUP_DAYS = 4 * 365
# A fixed latent threshold rather than a quantile, so that a customer's tier does not
# depend on how many customers were generated; it gives ~12 % vip.
_VIP_THRESHOLD = 2.62
# Noise on the latent value: sets how far a model can get (macro-F1 ~0.95 at 200k rows).
_LATENT_NOISE = 0.3
# A typical latent value; return odds are even here.
_VALUE_CENTRE = 1.2

_CAMPAIGNS = (
    "none", "spring_menu", "student_night", "loyalty_push", "brand_search", "gift_season",
    "summer_terrace", "happy_hour",
)  # fmt: skip
_PAGES = ("/", "/menu", "/book", "/students", "/gift-cards", "/events", "/offers")
# (campaign, landing page, heat): the lead temperature a salesperson reads from how the
# customer arrived. It lies in the pairing: the campaign that lands on the page which
# closes it. Every other pairing is lukewarm (0).
_HOT_LEADS = (
    ("brand_search", "/book", 1.4), ("loyalty_push", "/book", 1.0),
    ("gift_season", "/gift-cards", 1.0), ("summer_terrace", "/events", 0.9),
    ("spring_menu", "/menu", 0.5), ("brand_search", "/", -0.4),
    ("happy_hour", "/offers", -0.5), ("loyalty_push", "/offers", -0.5),
)  # fmt: skip
_CHANNELS = ("search", "social", "email", "direct", "referral", "display")
_DEVICES = ("mobile", "desktop", "tablet")
_REGIONS = (  # (district, median distance in km)
    ("old_town", 2.0), ("harbour", 4.0), ("university", 3.0), ("riverside", 5.0),
    ("north", 9.0), ("south", 8.0), ("east", 12.0), ("west", 10.0),
)  # fmt: skip
_PREMIUM_BRANDS = ("Porsche", "Mercedes", "BMW", "Audi", "Tesla")
_BRANDS = (*_PREMIUM_BRANDS, "Volkswagen", "Toyota", "Ford", "Renault", "Skoda")
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
    cols["campaign"] = _text(codes["campaign"], _CAMPAIGNS)
    cols["landing_page"] = _text(codes["landing_page"], _PAGES)
    cols["channel"] = _text(codes["channel"], _CHANNELS)
    cols["region"] = _text(codes["region"], tuple(name for name, _ in _REGIONS))
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
        -1.0 + 0.7 * z + 1.2 * (campaign == _CAMPAIGNS.index("loyalty_push")) - 0.3 * student
    )
    email = codes["channel"] == _CHANNELS.index("email")
    newsletter = rng.random(n) < _sigmoid(-0.4 + 0.4 * z + 0.9 * email)
    gift_buyer = rng.random(n) < _sigmoid(
        -2.4
        + 0.5 * z
        + 1.6 * (campaign == _CAMPAIGNS.index("gift_season"))
        + 0.9 * (page == _PAGES.index("/gift-cards"))
    )
    mobile = codes["device"] == _DEVICES.index("mobile")
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
    events = page == _PAGES.index("/events")
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

    planned = np.isin(page, [_PAGES.index("/book"), _PAGES.index("/events")])
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
    the tests read the same value the labels came from. Its shape (saturation, steps, a
    U, interactions) is described in the module doc, "How labels arise".
    """
    v90 = _num(cols, "visits_90d")
    value = _habit_value(cols) + _occasion_value(cols) + _lead_heat(cols)
    # Coming from far away often is devotion; from far away and not lately, a one-off.
    far = np.nan_to_num(_num(cols, "distance_km"), nan=6.0) > 15
    value += far * (0.9 * (v90 >= 2) - 0.6 * (v90 == 0))
    value -= 0.5 * (_num(cols, "cancellations_365d") >= 2)
    value += 0.08 * np.minimum(_num(cols, "reviews_left"), 5)
    value += 0.3 * _flag(cols, "gift_card_buyer")
    value += 0.4 * (np.nan_to_num(_num(cols, "email_open_rate"), nan=0.3) - 0.3)
    value -= 0.5 * _flag(cols, "student_verified")
    return value


def _habit_value(cols: _Columns) -> np.ndarray:
    """Frequency and bill, both saturating, the regulars' step, and loyalty x recency."""
    v365, v90 = _num(cols, "visits_365d"), _num(cols, "visits_90d")
    ticket = np.nan_to_num(_num(cols, "avg_ticket"), nan=25.0)
    value = 0.5 * np.log1p(np.minimum(v365, 8)) + 0.6 * (v90 >= 4)
    value += 0.8 * np.clip(np.log(ticket / 30.0), -1.0, 0.7)
    # A loyalty card is worth something only while it is used. NaN recency (never came)
    # compares False, so it counts as lapsed through the explicit isnan.
    recency = _num(cols, "days_since_last_visit")
    lapsed = (recency > 60) | np.isnan(recency)
    used = 1.2 * (recency <= 14) - 1.2 * lapsed + 0.2 * _flag(cols, "app_installed")
    return value + _flag(cols, "loyalty_member") * used


def _occasion_value(cols: _Columns) -> np.ndarray:
    """Booking lead time (a U), celebrations, and a premium car bringing a party."""
    party, lead = _num(cols, "party_size"), _num(cols, "booking_lead_days")
    # Same-day regulars and planners beat the ordinary booking; unknown lead (NaN)
    # compares False everywhere and so counts for nothing.
    value = 0.7 * (lead <= 0) + 0.9 * (lead >= 14) - 0.3 * ((lead >= 3) & (lead <= 8))
    value += 0.7 * ((party >= 4) & (lead >= 10))
    premium = _index_in(cols["car_brand"], _BRANDS) < len(_PREMIUM_BRANDS)
    return value + premium * (0.1 + 1.2 * (party >= 4))


def _lead_heat(cols: _Columns) -> np.ndarray:
    """Each row's heat from its (campaign, landing page) pairing; see ``_HOT_LEADS``."""
    table = np.zeros((len(_CAMPAIGNS) + 1, len(_PAGES) + 1))  # last row/column: unknown
    for campaign, page, heat in _HOT_LEADS:
        table[_CAMPAIGNS.index(campaign), _PAGES.index(page)] = heat
    return table[_index_in(cols["campaign"], _CAMPAIGNS), _index_in(cols["landing_page"], _PAGES)]


def _num(cols: _Columns, name: str) -> np.ndarray:
    return np.asarray(cols[name], dtype=np.float64)


def _flag(cols: _Columns, name: str) -> np.ndarray:
    """A boolean column as 1.0/0.0, unknown counted as no."""
    flags = pd.Series(cols[name]).astype("boolean")
    return flags.fillna(False).to_numpy(np.float64)


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
