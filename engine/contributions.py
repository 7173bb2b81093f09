"""Per-feature contributions (TreeSHAP) of one output of a LightGBM model, for the reasons.

Kept whole (over 400 lines): building the leaf tables and walking them are one algorithm.

Why: ``Booster.predict(pred_contrib=True)`` computes TreeSHAP for every output of a
multiclass model (every class's trees) while a reason needs only the tier given, and its
cost per tree and row (it re-derives the weights of every leaf's path for each row) is
many times a prediction's.

How: in one tree, path-dependent TreeSHAP (LightGBM's ``TreeSHAP`` in ``tree.cpp``) is the
sum over leaves of the Shapley values of a small game. For leaf ``l`` with value ``v`` and
``d`` distinct features on its path: ``f(S) = v * prod_{k in S} o_k * prod_{k not in S} z_k``,
where ``z_k`` is the share of training rows (the nodes' counts) that followed the path
through ``k``'s splits, and ``o_k`` is 1 when the row takes every one of ``k``'s splits the
path's way. The leaf's Shapley values depend on the row only through the bits ``o``, its
pattern; so each leaf's values are computed once per pattern (``2^d x d`` numbers) when the
model loads. For a row, one pass over a tree's nodes decides each split once
(LightGBM's rules: ``engine.tree_kernels.goes_left``) and carries every leaf's pattern
down; each leaf then adds its table row. Summed over the chosen class's trees, it
is ``pred_contrib``'s block for that class up to rounding (the sums run in another
order); ``checked_contributions`` compares the two on probe rows before it is trusted.

A model ``engine.forest`` does not compile, without node counts, or whose tables would be
too large (a path with many distinct features) is not tabled: the caller is told why and
keeps LightGBM's own ``pred_contrib``.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

import lightgbm as lgb
import numpy as np
from joblib import Parallel, delayed

from tierline.engine.forest import Forest, as_read, compile_forest, parse_model
from tierline.engine.forest_probe import probe_rows

__all__ = ["Contributions", "checked_contributions", "compile_contributions"]

# A leaf's table has 2^d rows; these bound one leaf's and the model's tables (float64s).
_MAX_PATH_FEATURES = 12
_MAX_TABLE = 1 << 25
_PROBE_ROWS = 128
_CHUNKS_PER_THREAD = 4  # a few chunks a thread, so a thread slowed by a neighbour waits less


@functools.cache  # one lookup per process; numba caches the loops on disk
def _compiled() -> tuple[Callable[..., None], Callable[..., None]]:
    """The loop that fills the leaves' tables, and the loop that sums a matrix's rows'
    contributions: ``engine.tree_kernels``."""
    from tierline.engine import tree_kernels  # imports numba: when a model is loaded

    return tree_kernels.fill_tables, tree_kernels.contributions_rows


@dataclass(frozen=True)
class Contributions:
    """One output's TreeSHAP contributions of a compiled model, from per-leaf tables."""

    n_features: int
    per_iteration: int  # trees per boosting round: the number of classes, or 1
    widest: int  # the most leaves a tree has
    arrays: tuple[np.ndarray, ...] = field(repr=False)  # bias, tables, the forest's arrays
    kernel: Callable[..., None]

    def compute(self, X: np.ndarray, classes: np.ndarray, *, threads: int = 1) -> np.ndarray:
        """``pred_contrib``'s columns for each row's class (``classes[r]``; zeros for one
        output): n x (F + 1), the last column the bias. Rows split over ``threads``."""
        X = as_read(np.ascontiguousarray(X, dtype=np.float64))
        classes = np.ascontiguousarray(classes, dtype=np.int64)
        if len(classes) != len(X) or (
            len(classes) and not 0 <= classes.min() <= classes.max() < self.per_iteration
        ):
            raise ValueError("one class index per row, each below the number of outputs")
        out = np.empty((len(X), self.n_features + 1), dtype=np.float64)
        if threads <= 1 or len(X) < 2 * threads:
            self._run(X, classes, out)
            return out
        bounds = np.linspace(0, len(X), threads * _CHUNKS_PER_THREAD + 1).astype(np.int64)
        # The compiled loop releases the GIL, so threads use every core; each fills its rows.
        Parallel(n_jobs=threads, prefer="threads")(
            delayed(self._run)(X[a:b], classes[a:b], out[a:b])
            for a, b in itertools.pairwise(bounds)
            if b > a
        )
        return out

    def _run(self, X: np.ndarray, classes: np.ndarray, out: np.ndarray) -> None:
        masks = np.empty(2 * self.widest, dtype=np.int64)
        self.kernel(X, classes, out, self.per_iteration, masks, *self.arrays)


def compile_contributions(model_text: str, *, n_features: int) -> Contributions | str:
    """The tabled contributions of a LightGBM text model, or why not (a sentence for the
    log; the caller then keeps LightGBM's ``pred_contrib``)."""
    forest = compile_forest(model_text, n_features=n_features)
    if isinstance(forest, str):
        return forest
    _, trees = parse_model(model_text)
    if any(t.get("num_leaves") != "1" and "internal_count" not in t for t in trees):
        return "the model's trees have no node counts"
    paths = _paths(trees, forest)
    if isinstance(paths, str):
        return paths
    fill_tables, kernel = _compiled()
    (
        set_bit,
        clear_bit,
        left_slot,
        right_slot,
        leaf_d,
        leaf_path,
        path_feature,
        path_z,
        leaf_table,
    ) = paths
    table = np.zeros(int(leaf_table[-1]) if len(leaf_table) else 0, dtype=np.float64)
    leaf_value = forest.arrays[-1]
    fill_tables(leaf_d, leaf_path, path_z, leaf_value, leaf_table[:-1], table)
    return Contributions(
        n_features=n_features,
        per_iteration=forest.per_iteration,
        widest=int(forest.arrays[0].max(initial=1)),
        arrays=(
            _bias(trees, forest.per_iteration),
            set_bit,
            clear_bit,
            left_slot,
            right_slot,
            leaf_d,
            leaf_path,
            path_feature,
            leaf_table[:-1],
            table,
            *forest.arrays,
        ),
        kernel=kernel,
    )


def checked_contributions(
    booster: lgb.Booster, *, n_features: int, model_text: str | None = None
) -> Contributions | str:
    """``compile_contributions`` if it gives ``pred_contrib``'s values, to rounding, on
    probe rows for every output; else why not (a sentence for the log)."""
    text = booster.model_to_string() if model_text is None else model_text
    try:
        tabled = compile_contributions(text, n_features=n_features)
        if isinstance(tabled, str):
            return tabled
        rows = probe_rows(text, n_features=n_features)
        rng = np.random.default_rng(0)
        keep = rng.choice(len(rows), min(len(rows), _PROBE_ROWS), replace=False)
        rows = np.ascontiguousarray(np.vstack([rows[:2], rows[np.sort(keep)]]))
        expected = np.asarray(booster.predict(rows, pred_contrib=True))
        width = n_features + 1
        for k in range(tabled.per_iteration):
            got = tabled.compute(rows, np.full(len(rows), k))
            want = expected[:, k * width : (k + 1) * width]
            scale = max(1.0, float(np.abs(want).max()))
            if not np.allclose(got, want, rtol=1e-9, atol=1e-9 * scale):
                return f"the tabled contributions differ from LightGBM's for output {k}"
        return tabled
    except Exception as exc:  # numba's compile or run errors, a malformed model: any doubt
        message = (str(exc).strip().splitlines() or [""])[0][:200]
        return f"the tabled contributions failed ({type(exc).__name__}: {message})"


def _bias(trees: list[dict[str, str]], per_iteration: int) -> np.ndarray:
    """Each output's expected value: its trees' leaves weighted by their counts
    (LightGBM's ``Tree::ExpectedValue``), summed."""
    bias = np.zeros(per_iteration)
    for t, tree in enumerate(trees):
        values = [float(v) for v in tree["leaf_value"].split()]
        if len(values) == 1:
            bias[t % per_iteration] += values[0]
            continue
        counts = [float(c) for c in tree["leaf_count"].split()]
        total = float(tree["internal_count"].split()[0])
        bias[t % per_iteration] += sum(v * c / total for v, c in zip(values, counts, strict=True))
    return bias


def _paths(trees: list[dict[str, str]], forest: Forest) -> tuple[np.ndarray, ...] | str:
    """Per node: the bit of its feature in its path's pattern, as ``set_bit`` if the
    feature is new on the path there, else as ``clear_bit``, and where its children's
    patterns go (a tree's nodes, then its leaves); per leaf: its path's distinct features
    with their shares (``z``) and its table's start."""
    set_bit: list[int] = []
    clear_bit: list[int] = []
    left_slot: list[int] = []
    right_slot: list[int] = []
    leaf_d: list[int] = []
    leaf_path: list[int] = []
    path_feature: list[int] = []
    path_z: list[float] = []
    leaf_table = [0]
    for tree in trees:
        leaves = int(tree["num_leaves"])
        if leaves <= 1:
            leaf_d.append(0)
            leaf_path.append(len(path_feature))
            leaf_table.append(leaf_table[-1])
            continue
        feature = [int(v) for v in tree["split_feature"].split()]
        left = [int(v) for v in tree["left_child"].split()]
        right = [int(v) for v in tree["right_child"].split()]
        internal = [float(v) for v in tree["internal_count"].split()]
        leaf_count = [float(v) for v in tree["leaf_count"].split()]
        base = len(set_bit)
        set_bit.extend([0] * len(feature))
        clear_bit.extend([0] * len(feature))
        left_slot.extend(k if k >= 0 else leaves - 1 + ~k for k in left)
        right_slot.extend(k if k >= 0 else leaves - 1 + ~k for k in right)
        found: dict[int, tuple[list[int], list[float]]] = {}
        # Depth first, each node with its path's distinct features and their shares so far.
        stack: list[tuple[int, list[int], list[float]]] = [(0, [], [])]
        while stack:
            node, features, shares = stack.pop()
            if node < 0:
                found[~node] = (features, shares)
                continue
            f = feature[node]
            seen = f in features
            if seen:
                clear_bit[base + node] = 1 << features.index(f)
            else:
                set_bit[base + node] = 1 << len(features)
            for kid in (left[node], right[node]):
                share = (internal[kid] if kid >= 0 else leaf_count[~kid]) / internal[node]
                if seen:
                    s = features.index(f)
                    stack.append(
                        (kid, features, [*shares[:s], shares[s] * share, *shares[s + 1 :]])
                    )
                else:
                    stack.append((kid, [*features, f], [*shares, share]))
        for leaf in range(leaves):
            features, shares = found[leaf]
            if len(features) > _MAX_PATH_FEATURES:
                return f"a leaf's path has {len(features)} distinct features (tabled up to {_MAX_PATH_FEATURES})"
            leaf_d.append(len(features))
            leaf_path.append(len(path_feature))
            path_feature.extend(features)
            path_z.extend(shares)
            leaf_table.append(leaf_table[-1] + (1 << len(features)) * len(features))
        if leaf_table[-1] > _MAX_TABLE:
            return f"the tables would hold more than {_MAX_TABLE:,} numbers"
    return (
        np.asarray(set_bit, dtype=np.int64),
        np.asarray(clear_bit, dtype=np.int64),
        np.asarray(left_slot, dtype=np.int64),
        np.asarray(right_slot, dtype=np.int64),
        np.asarray(leaf_d, dtype=np.int64),
        np.asarray(leaf_path, dtype=np.int64),
        np.asarray(path_feature, dtype=np.int64),
        np.asarray(path_z, dtype=np.float64),
        np.asarray(leaf_table, dtype=np.int64),
    )
