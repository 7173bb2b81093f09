"""A generated customer table whose market shifts: the ground truth for model selection.

Customers sign up over two years. Before the shift (the first 65 % of that time) the
return probability rests on three signals linearly and on an interaction and a wave that
later vanish; after it only the linear part stays. A model that learns the interaction
does well on the old customers and worse on the new ones, which the time-ordered split
holds out, as on real marketing data with drift.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["SPEC", "drifting_customers"]

SPEC = """
[data]
id = "customer_id"
time = "signup_date"

[features]
categorical = ["channel"]
numeric = ["x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11"]

[target]
kind = "binary"
column = "returned"
positive = true

[tiers]
names = ["vip", "standard"]
default = "standard"
cuts = [{ tier = "vip", top_fraction = 0.2 }]
"""


def drifting_customers(n: int = 30_000, *, seed: int = 1) -> pd.DataFrame:
    """``n`` customers, oldest first, with the shift at 65 % of the signup period."""
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(0, 1, n))
    x = rng.normal(size=(n, 12))
    channel = rng.integers(0, 8, n)
    shifted = t > 0.65
    logit = (
        0.9 * x[:, 0]
        + 0.6 * x[:, 1]
        - 0.5 * x[:, 2]
        + np.where(shifted, -0.2 * x[:, 3] * x[:, 4], 1.6 * x[:, 3] * x[:, 4])
        + np.where(shifted, 0.0, 0.8 * np.sin(3 * x[:, 5]))
        + (channel - 3.5) * 0.15
        - 0.5
    )
    returned = rng.uniform(size=n) < 1 / (1 + np.exp(-logit))
    frame = pd.DataFrame({f"x{i}": x[:, i].round(4) for i in range(12)})
    frame.insert(0, "channel", [f"ch{c}" for c in channel])
    signup = pd.Timestamp("2024-01-01") + pd.to_timedelta(t * 730, unit="D")
    frame.insert(0, "signup_date", signup.floor("s"))
    frame.insert(0, "customer_id", [f"{i:06d}" for i in range(n)])
    frame["returned"] = returned
    return frame
