"""The model's trees as flat arrays, and one customer's prediction from them by a compiled
loop: the single-row path (``engine.predictors``).

Why: on the decision route LightGBM's own cheapest one-row call
(``PredictForMatSingleRowFast``) was the largest single cost of the server's CPU per
request (figures: benchmarks/README.md, "Figures behind design choices"). Its trees are
objects scattered over the heap, and each call converts the row and walks them one by
one. Here every tree's nodes sit in a few contiguous arrays, and a loop compiled once
by numba (``engine.tree_kernels``; generic: the arrays are its data, so its compilation
does not grow with the model, and numba caches it on disk) walks them; measured,
several times faster on the same model.

Exactness: the answer must be LightGBM's, to the last bit, because a customer scored
alone and in a batch (``Booster.predict``) must get the same answer. The loop follows
LightGBM's own code (``include/LightGBM/tree.h``: ``NumericalDecision``,
``CategoricalDecision``; ``gbdt_prediction.cpp``: trees summed in their order, per
class), including how a dense row is read (values within ``kZeroThreshold`` of zero
count as zero) and the output conversions of a whitelist of objectives (``_EXACT``:
multiclass softmax, binary sigmoid, tweedie's exp, the identity of plain regressions),
computed with the same operations in the same order. Tests compare it bit for bit with
LightGBM on rows with missing, zero, negative, huge and unseen values. A model this does
not know (linear trees, random-forest averaging, another objective or none) is not
compiled: ``compile_forest`` says why and the caller keeps LightGBM's own call. Before
a compiled forest serves, ``engine.forest_probe`` checks it against LightGBM on probe rows.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from joblib import Parallel, delayed

__all__ = [
    "CATEGORICAL",
    "DEFAULT_LEFT",
    "EXP",
    "IDENTITY",
    "INT_LIMIT",
    "NAN_LEFT",
    "NODE_SHIFT",
    "SIGMOID",
    "SOFTMAX",
    "ZERO",
    "ZERO_MISSING",
    "Forest",
    "as_read",
    "compile_forest",
    "parse_model",
]

# LightGBM's kZeroThreshold is written 1e-35f: a float32 constant stored in a double.
ZERO = float(np.float32(1e-35))
INT_LIMIT = 2147483648.0  # static_cast<int> of a double at or beyond +-2^31 is INT_MIN on x86
# The objectives' output conversions, as the compiled loops (``engine.tree_kernels``) know them.
IDENTITY, SOFTMAX, SIGMOID, EXP = 0, 1, 2, 3
# A node's code: its feature shifted left, then what its decision needs (``_node_codes``).
NODE_SHIFT = 4
CATEGORICAL, DEFAULT_LEFT, NAN_LEFT, ZERO_MISSING = 1, 2, 4, 8
_CHUNKS_PER_THREAD = 4  # a few pieces a thread, so a thread slowed by a neighbour waits less


@functools.cache  # one lookup per process; numba caches the loops on disk
def _compiled() -> tuple[Callable[..., None], Callable[..., None]]:
    """The loop that scores one row, and the loop that scores the rows of a matrix (tree
    by tree over blocks of rows, so that a tree stays in the cache while a block walks
    it; each row still sums its trees in LightGBM's order): ``engine.tree_kernels``."""
    from tierline.engine import tree_kernels  # imports numba: when a model is loaded

    return tree_kernels.raw_scores, tree_kernels.raw_scores_many


@dataclass(frozen=True)
class Forest:
    """A LightGBM model's trees, flattened; ``predict(row)`` is ``Booster.predict`` of one row."""

    n_features: int
    per_iteration: int  # trees per boosting round: the number of classes, or 1
    conversion: int  # the objective's output conversion (IDENTITY, SOFTMAX, ...)
    sigmoid: float
    arrays: tuple[np.ndarray, ...]
    kernel: Callable[..., None]  # the compiled loop (``_compiled``)
    rows_kernel: Callable[..., None]  # the same loop over a matrix's rows

    def predict(self, row: np.ndarray) -> np.ndarray:
        """The model's output for one prepared feature row (float64, length n_features)."""
        out = np.empty(self.per_iteration, dtype=np.float64)
        row = as_read(row)
        self.kernel(row, out, self.per_iteration, self.conversion, self.sigmoid, *self.arrays)
        return out

    def predict_rows(self, rows: np.ndarray, *, threads: int = 1) -> np.ndarray:
        """``predict`` of each row of a C-contiguous float64 matrix: n x per_iteration.
        Rows split over ``threads`` (the compiled loop releases the GIL)."""
        out = np.empty((len(rows), self.per_iteration), dtype=np.float64)
        rows = as_read(rows)
        if threads <= 1 or len(rows) < 2 * threads:
            self._run(rows, out)
            return out
        bounds = np.linspace(0, len(rows), threads * _CHUNKS_PER_THREAD + 1).astype(np.int64)
        Parallel(n_jobs=threads, prefer="threads")(
            delayed(self._run)(rows[a:b], out[a:b]) for a, b in itertools.pairwise(bounds) if b > a
        )
        return out

    def _run(self, rows: np.ndarray, out: np.ndarray) -> None:
        self.rows_kernel(rows, out, self.per_iteration, self.conversion, self.sigmoid, *self.arrays)


def as_read(rows: np.ndarray) -> np.ndarray:
    """Rows as LightGBM reads a dense row: a value within kZeroThreshold of zero is zero
    (NaN stays NaN). The compiled loops take rows so read; done once for the matrix
    rather than at every node (the loops' decisions then test for zero with one compare)."""
    return np.where(np.abs(rows) <= ZERO, 0.0, rows)


def compile_forest(model_text: str, *, n_features: int) -> Forest | str:
    """The flattened trees of a LightGBM text model, or why this module does not evaluate
    it exactly (a sentence for the log; the caller then keeps LightGBM's own prediction).
    ``engine.forest_probe.checked_forest`` also checks the answers before trusting them."""
    header, trees = parse_model(model_text)
    if header is None:
        return "the text is not a LightGBM model"
    if "average_output" in header:
        return "the model averages its trees (random-forest mode)"
    if any(t.get("is_linear") == "1" for t in trees):
        return "the model has linear trees"
    objective = header.get("objective")
    if objective is None:
        return "the model names no objective (a custom objective, or none)"
    per_iteration = int(header.get("num_tree_per_iteration", "1"))
    conversion = _conversion(objective, per_iteration=per_iteration)
    if conversion is None:
        return f"the objective {objective!r} is not one the forest computes exactly"
    if not trees or len(trees) % per_iteration:
        return "the model has no trees, or a last boosting round cut short"
    if int(header.get("max_feature_idx", "-1")) + 1 != n_features:
        return "the model's feature count differs from the feature builder's"
    kernel, rows_kernel = _compiled()
    return Forest(
        n_features=n_features,
        per_iteration=per_iteration,
        conversion=conversion[0],
        sigmoid=conversion[1],
        arrays=_flatten(trees),
        kernel=kernel,
        rows_kernel=rows_kernel,
    )


def parse_model(text: str) -> tuple[dict[str, str] | None, list[dict[str, str]]]:
    """A LightGBM text model's header and trees as ``key -> value`` text (header None if
    the text is not a model)."""
    header: dict[str, str] = {}
    trees: list[dict[str, str]] = []
    current = header
    for line in text.splitlines():
        if line.startswith("Tree="):
            current = {}
            trees.append(current)
        elif line == "end of trees":
            break
        elif line:
            key, _, value = line.partition("=")  # some header flags have no value
            current[key] = value
    if header.get("version") is None:
        return None, []
    return header, trees


def _ints(tree: dict[str, str], key: str) -> list[int]:
    value = tree.get(key, "")
    return [int(v) for v in value.split()] if value else []


def _floats(tree: dict[str, str], key: str) -> list[float]:
    value = tree.get(key, "")
    return [float(v) for v in value.split()] if value else []


def _flatten(trees: list[dict[str, str]]) -> tuple[np.ndarray, ...]:
    num_leaves, node_base, leaf_base, cat_base = [], [], [], []
    feature: list[int] = []
    threshold: list[float] = []
    decision: list[int] = []
    children: list[int] = []
    cat_bounds: list[int] = []
    cat_words: list[int] = []
    leaf_value: list[float] = []
    for tree in trees:
        leaves = int(tree["num_leaves"])
        num_leaves.append(leaves)
        node_base.append(len(feature))
        leaf_base.append(len(leaf_value))
        cat_base.append(len(cat_bounds))
        values = _floats(tree, "leaf_value")
        if len(values) != leaves:
            raise ValueError(f"a tree has {len(values)} leaf values for {leaves} leaves")
        leaf_value.extend(values)
        if leaves <= 1:
            continue
        feature.extend(_ints(tree, "split_feature"))
        threshold.extend(_floats(tree, "threshold"))
        decision.extend(_ints(tree, "decision_type"))
        left, right = _ints(tree, "left_child"), _ints(tree, "right_child")
        if not len(left) == len(right) == leaves - 1:
            raise ValueError("a tree's child lists do not fit its leaves")
        children.extend(itertools.chain.from_iterable(zip(right, left, strict=True)))
        # A tree's bounds index its own words; shift them to the concatenated array.
        words = len(cat_words)
        cat_bounds.extend(words + b for b in _ints(tree, "cat_boundaries"))
        cat_words.extend(_ints(tree, "cat_threshold"))
        if not len(feature) == len(threshold) == len(decision) == len(children) // 2:
            raise ValueError("a tree's node arrays differ in length")
    return (  # the compiled loops (``_compiled``, ``engine.contributions``) unpack by position
        np.asarray(num_leaves, dtype=np.int32),
        np.asarray(node_base, dtype=np.int64),
        np.asarray(leaf_base, dtype=np.int64),
        np.asarray(cat_base, dtype=np.int64),
        _node_codes(np.asarray(feature), np.asarray(decision), np.asarray(threshold)),
        np.asarray(threshold, dtype=np.float64),
        np.asarray(children, dtype=np.int32),
        np.asarray(cat_bounds, dtype=np.int64),
        np.asarray(cat_words, dtype=np.uint32),
        np.asarray(leaf_value, dtype=np.float64),
    )


def _node_codes(feature: np.ndarray, decision: np.ndarray, threshold: np.ndarray) -> np.ndarray:
    """Each node's feature and decision in one int32 (``NODE_SHIFT`` and the flags).

    LightGBM's ``decision_type``: bit 0 categorical, bit 1 default left, bits 2-3 the
    missing type (0 none, 1 zero, 2 NaN). In ``NumericalDecision`` a NaN becomes 0.0
    unless the missing type is NaN, then a zero (or that NaN) under missing type zero,
    or a NaN under missing type NaN, goes the default way; every other value compares
    with the threshold. So a NaN goes left (``NAN_LEFT``) by the default under missing
    types zero and NaN and as 0.0 would otherwise, and only missing type zero sends a
    zero the default way (``ZERO_MISSING``)."""
    decision = decision.astype(np.int64)
    categorical = (decision & 1) == 1
    default_left = (decision & 2) != 0
    missing = (decision >> 2) & 3
    nan_left = np.where((missing == 1) | (missing == 2), default_left, threshold >= 0.0)
    code = (
        categorical * CATEGORICAL
        + default_left * DEFAULT_LEFT
        + (~categorical & nan_left) * NAN_LEFT
        + (~categorical & (missing == 1)) * ZERO_MISSING
    )
    return ((feature.astype(np.int64) << NODE_SHIFT) | code).astype(np.int32)


# The objectives whose ConvertOutput the loop reproduces operation for operation, and the
# options their model-file line may carry. A whitelist: anything else (``sqrt``, poisson,
# gamma, cross-entropy, one-vs-all, ranking, custom) is left to LightGBM.
_EXACT: dict[str, tuple[int, frozenset[str]]] = {
    "multiclass": (SOFTMAX, frozenset({"num_class"})),
    "binary": (SIGMOID, frozenset({"sigmoid"})),
    "tweedie": (EXP, frozenset()),  # what tierline trains for value targets
    "regression": (IDENTITY, frozenset()),
    "regression_l1": (IDENTITY, frozenset()),
    "huber": (IDENTITY, frozenset()),
    "fair": (IDENTITY, frozenset()),
    "quantile": (IDENTITY, frozenset()),
    "mape": (IDENTITY, frozenset()),
}


def _conversion(objective: str, *, per_iteration: int) -> tuple[int, float] | None:
    """How LightGBM's ConvertOutput turns raw scores into the output for ``objective``
    (the model file's line) and the sigmoid parameter, or None for one not known exact."""
    name, *options = objective.split() or [""]
    if name not in _EXACT:
        return None
    conversion, allowed = _EXACT[name]
    params = dict(o.partition(":")[::2] for o in options)
    if any(":" not in o for o in options) or not set(params) <= allowed:
        return None  # e.g. ``regression sqrt``: its output is squared back
    classes = int(params.get("num_class", "1"))
    if per_iteration != (classes if conversion == SOFTMAX else 1):
        return None
    return conversion, float(params.get("sigmoid", "1"))
