"""The compiled forest (``engine.forest``) checks itself against LightGBM before it serves.

An optimized re-implementation of a library call is trusted only once it agrees with the
library: ``checked_forest`` compiles a model's trees, predicts probe rows with both the
compiled loop (one row at a time, as a decision does, run over all rows in one compiled
call) and ``Booster.predict`` (the batch path), and keeps the forest only if every output
is the same to the last bit.

The probe rows come from the model's own splits, read from its text apart from the
flattening (so a flattening mistake cannot hide itself): all zeros, all missing; for each
feature every numerical threshold and the next double either side, every category code of
a categorical split with its fraction and neighbour and the first code past its bitset,
and values at and around zero, past int's range and infinite. Each value is tried once
with the other features at zero and once among other features' probe values, and seeded
random rows mix them further. Any disagreement, and any error while compiling or running
the loop, leaves the model to LightGBM's own call; the reason given names no customer data.
"""

from __future__ import annotations

import math

import lightgbm as lgb
import numpy as np

from tierline.engine.forest import ZERO, Forest, compile_forest

__all__ = ["checked_forest", "probe_rows"]

_EDGES = (
    0.0,
    1e-36,
    -1e-36,
    ZERO,
    -ZERO,
    math.nextafter(ZERO, math.inf),
    -math.nextafter(ZERO, math.inf),
    0.5,
    -0.5,
    1.0,
    -1.0,
    1e300,
    -1e300,
    math.inf,
    -math.inf,
    2147483647.0,
    2147483648.0,
    -2147483648.0,
    -2147483649.0,
)
_SPLIT_KEYS = frozenset(
    {"split_feature", "threshold", "decision_type", "cat_boundaries", "cat_threshold"}
)
_RANDOM_ROWS = 256


def checked_forest(
    booster: lgb.Booster, *, n_features: int, model_text: str | None = None
) -> Forest | str:
    """The compiled forest of ``booster`` if it gives ``Booster.predict``'s answer bit for
    bit on every probe row, else why not (a sentence for the log). ``model_text``: the
    text ``booster`` was built from, if at hand (else the booster writes it out again)."""
    text = booster.model_to_string() if model_text is None else model_text
    try:
        forest = compile_forest(text, n_features=n_features)
        if isinstance(forest, str):
            return forest
        rows = probe_rows(text, n_features=n_features)
        return _disagreement(forest, booster, rows) or forest
    except Exception as exc:  # numba's compile or run errors, a malformed model: any doubt
        message = (str(exc).strip().splitlines() or [""])[0][:200]
        return f"the compiled forest failed ({type(exc).__name__}: {message})"


def probe_rows(model_text: str, *, n_features: int, seed: int = 0) -> np.ndarray:
    """Rows that take every split of the model both ways (see the module's docstring)."""
    columns = [np.array([*sorted(v), math.nan]) for v in _split_values(model_text, n_features)]
    rng = np.random.default_rng(seed)
    sizes = [len(c) for c in columns]
    # One value at a time, the other features at zero.
    sweep = np.zeros((sum(sizes), n_features))
    sweep[np.arange(sum(sizes)), np.repeat(np.arange(n_features), sizes)] = np.concatenate(columns)
    # Every value once again, each column shuffled on its own.
    mixed = np.column_stack([np.resize(rng.permutation(c), max(sizes)) for c in columns])
    random = np.column_stack([rng.choice(c, _RANDOM_ROWS) for c in columns])
    extremes = np.array([np.zeros(n_features), np.full(n_features, np.nan)])
    return np.ascontiguousarray(np.vstack([extremes, sweep, mixed, random]), dtype=np.float64)


def _split_values(model_text: str, n_features: int) -> list[set[float]]:
    """Per feature, the values on and just past each of the model's splits on it."""
    values = [set(_EDGES) for _ in range(n_features)]
    tree: dict[str, list[str]] = {}
    for line in model_text.splitlines():
        if line.startswith("Tree=") or line == "end of trees":
            _add_splits(values, tree)
            tree = {}
            if line == "end of trees":
                break
        key, sep, value = line.partition("=")
        if sep and key in _SPLIT_KEYS:
            tree[key] = value.split()
    return values


def _add_splits(values: list[set[float]], tree: dict[str, list[str]]) -> None:
    bounds = [int(b) for b in tree.get("cat_boundaries", [])]
    words = [int(w) for w in tree.get("cat_threshold", [])]
    for feature, threshold, kind in zip(
        tree.get("split_feature", []),
        tree.get("threshold", []),
        tree.get("decision_type", []),
        strict=True,
    ):
        column = values[int(feature)]
        if int(kind) & 1:  # categorical: the threshold indexes the tree's bitsets
            split = int(float(threshold))
            bitset = words[bounds[split] : bounds[split + 1]]
            codes = [
                32 * w + b for w, word in enumerate(bitset) for b in range(32) if word >> b & 1
            ]
            column.update(c + d for c in codes for d in (0.0, 0.5, 1.0, -1.0))
            column.add(32.0 * len(bitset))
        else:
            t = float(threshold)
            column.update((t, math.nextafter(t, -math.inf), math.nextafter(t, math.inf)))


def _disagreement(forest: Forest, booster: lgb.Booster, rows: np.ndarray) -> str | None:
    """Why the forest cannot serve, if any probe row's output differs in any bit."""
    predicted = booster.predict(rows, num_threads=1)
    expected = np.ascontiguousarray(predicted, dtype=np.float64).reshape(len(rows), -1)
    got = forest.predict_rows(rows)
    # Bit for bit: the doubles compared as integers (NaN equals itself, -0.0 differs from 0.0).
    differs = np.flatnonzero((got.view(np.int64) != expected.view(np.int64)).any(axis=1))
    if len(differs):
        return f"the compiled forest differs from LightGBM on probe row {differs[0]} of {len(rows)}"
    return None
