"""The compiled loops over a LightGBM model's flattened trees (``engine.forest``'s
arrays): one row's prediction, a matrix's, and the TreeSHAP tables and sums of
``engine.contributions``. Imported when a model is loaded (numba's import is not free).

Why one module, every loop at its top level: numba's disk cache keys a compiled loop on
its own source file and on what its closure holds. A loop defined inside a function
that calls another compiled function through the closure never matches its cache entry
(the dispatcher it holds is a new object in every process), so every process compiled
again, about 3 s per loop; and a loop that inlines a function from another file would
not see that file change. Here the loops call each other as module globals, and an edit
anywhere in this file invalidates every cached loop.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from tierline.engine.forest import (
    CATEGORICAL,
    DEFAULT_LEFT,
    EXP,
    INT_LIMIT,
    NAN_LEFT,
    NODE_SHIFT,
    SIGMOID,
    SOFTMAX,
    ZERO_MISSING,
)

__all__ = [
    "FOREST_BLOCK_ROWS",
    "TABLE_BLOCK_ROWS",
    "contributions_rows",
    "fill_tables",
    "goes_left",
    "leaf",
    "raw_scores",
    "raw_scores_many",
]

# Rows that walk one tree before the next, so that the tree stays in the cache: for the
# forest's nodes alone, and for the contributions' leaf tables (larger).
FOREST_BLOCK_ROWS = 1024
TABLE_BLOCK_ROWS = 256


@njit(inline="always", nogil=True, cache=True)
def goes_left(  # pragma: no cover - compiled; tested bit for bit against LightGBM
    x: np.ndarray,
    i: int,
    cats: int,
    node: np.ndarray,
    threshold: np.ndarray,
    cat_bounds: np.ndarray,
    cat_words: np.ndarray,
) -> int:
    """LightGBM's decision at node ``i`` (``cats``: its tree's first bitset): 1 if the
    row ``x`` goes left, else 0. Inlined into every loop over the trees, the one copy
    of the rule. ``x`` is read as LightGBM reads a dense row, its values within
    kZeroThreshold of zero already zero (``engine.forest.as_read``)."""
    code = node[i]
    fval = x[code >> NODE_SHIFT]
    if code & CATEGORICAL:  # CategoricalDecision
        if fval != fval or fval >= INT_LIMIT or fval <= -INT_LIMIT - 1.0:
            return 0
        value = int(fval)  # truncates toward zero, as static_cast<int>
        if value < 0:
            return 0
        c = cats + int(threshold[i])
        first = cat_bounds[c]
        word = value // 32
        if word < cat_bounds[c + 1] - first and (cat_words[first + word] >> (value % 32)) & 1:
            return 1
        return 0
    # NumericalDecision, with where a missing value and a zero go worked out at build
    if fval != fval:
        return 1 if code & NAN_LEFT else 0
    if code & ZERO_MISSING and fval == 0.0:
        return 1 if code & DEFAULT_LEFT else 0
    return 1 if fval <= threshold[i] else 0


@njit(inline="always", nogil=True, cache=True)
def leaf(  # pragma: no cover - compiled; tested bit for bit against LightGBM
    x: np.ndarray,
    t: int,
    node_base: np.ndarray,
    cat_base: np.ndarray,
    node: np.ndarray,
    threshold: np.ndarray,
    children: np.ndarray,
    cat_bounds: np.ndarray,
    cat_words: np.ndarray,
) -> int:
    """The leaf ``x`` reaches in tree ``t``, over ``Forest.arrays``: node ``i``'s
    children sit at ``children[2 i]`` (right) and ``children[2 i + 1]`` (left), so the
    decision indexes the next node instead of branching on it."""
    base = node_base[t]
    cats = cat_base[t]
    at = 0
    while at >= 0:
        i = base + at
        at = children[2 * i + goes_left(x, i, cats, node, threshold, cat_bounds, cat_words)]
    return ~at


@njit(inline="always", nogil=True, cache=True)
def convert(  # pragma: no cover - compiled; the objective's ConvertOutput, op for op
    out: np.ndarray, per_iteration: int, conversion: int, sigmoid: float
) -> None:
    if conversion == SOFTMAX:  # Common::Softmax
        top = out[0]
        for k in range(1, per_iteration):
            top = max(out[k], top)
        total = 0.0
        for k in range(per_iteration):
            out[k] = math.exp(out[k] - top)
            total += out[k]
        for k in range(per_iteration):
            out[k] /= total
    elif conversion == SIGMOID:  # BinaryLogloss: 1.0f / (1.0f + exp(-sigmoid_ * x))
        out[0] = 1.0 / (1.0 + math.exp(-sigmoid * out[0]))
    elif conversion == EXP:  # tweedie: std::exp
        out[0] = math.exp(out[0])


# Without numba's reference counting (``_nrt=False``, a private option; these loops
# allocate nothing): it would count the arrays' at each node's inlined ``goes_left``.
@njit(cache=True, nogil=True, _nrt=False)  # type: ignore[call-overload]
def raw_scores(  # pragma: no cover - compiled; its answers are what the tests compare
    x: np.ndarray,
    out: np.ndarray,
    per_iteration: int,
    conversion: int,
    sigmoid: float,
    *forest: np.ndarray,
) -> None:
    num_leaves, node_base, leaf_base, cat_base, node, threshold = forest[:6]
    children, cat_bounds, cat_words, leaf_value = forest[6:]
    for k in range(per_iteration):
        out[k] = 0.0
    for t in range(num_leaves.shape[0]):
        at = 0
        if num_leaves[t] > 1:
            at = leaf(x, t, node_base, cat_base, node, threshold, children, cat_bounds, cat_words)
        out[t % per_iteration] += leaf_value[leaf_base[t] + at]
    convert(out, per_iteration, conversion, sigmoid)


@njit(cache=True, nogil=True, _nrt=False)  # type: ignore[call-overload]
def raw_scores_many(  # pragma: no cover - compiled; ``raw_scores`` for each row
    rows: np.ndarray,
    out: np.ndarray,
    per_iteration: int,
    conversion: int,
    sigmoid: float,
    *forest: np.ndarray,
) -> None:
    num_leaves, node_base, leaf_base, cat_base, node, threshold = forest[:6]
    children, cat_bounds, cat_words, leaf_value = forest[6:]
    n = rows.shape[0]
    for start in range(0, n, FOREST_BLOCK_ROWS):
        stop = min(start + FOREST_BLOCK_ROWS, n)
        out[start:stop, :] = 0.0
        for t in range(num_leaves.shape[0]):
            k = t % per_iteration
            if num_leaves[t] <= 1:
                for r in range(start, stop):
                    out[r, k] += leaf_value[leaf_base[t]]
                continue
            for r in range(start, stop):
                at = leaf(
                    rows[r], t, node_base, cat_base, node, threshold, children, cat_bounds,
                    cat_words,
                )  # fmt: skip
                out[r, k] += leaf_value[leaf_base[t] + at]
        for r in range(start, stop):
            convert(out[r], per_iteration, conversion, sigmoid)


@njit(cache=True, nogil=True)
def subset_sum(  # pragma: no cover - compiled; tested against LightGBM
    mask: int, skip: int, z: np.ndarray, weight: np.ndarray, coef: np.ndarray
) -> float:
    """``sum_{S within T} weight[|S|] prod_{k in T, not in S} z_k`` for T the bits of
    ``mask`` but ``skip``: the polynomial ``prod_{k in T} (z_k + t)``'s coefficients
    (the coefficient of ``t^s`` sums over the subsets of size s), weighted."""
    coef[0] = 1.0
    m = 0
    for k in range(z.shape[0]):
        if k == skip or not (mask >> k) & 1:
            continue
        coef[m + 1] = coef[m]
        for s in range(m, 0, -1):
            coef[s] = coef[s] * z[k] + coef[s - 1]
        coef[0] *= z[k]
        m += 1
    total = 0.0
    for s in range(m + 1):
        total += weight[s] * coef[s]
    return total


@njit(cache=True, nogil=True)
def fill_tables(  # pragma: no cover - compiled; tested against LightGBM
    leaf_d: np.ndarray,
    leaf_path: np.ndarray,
    path_z: np.ndarray,
    leaf_value: np.ndarray,
    leaf_table: np.ndarray,
    table: np.ndarray,
) -> None:
    for leaf in range(leaf_d.shape[0]):
        d = leaf_d[leaf]
        if d == 0:
            continue
        z = path_z[leaf_path[leaf] : leaf_path[leaf] + d]
        v = leaf_value[leaf]
        weight = np.empty(d)  # Shapley's s! (d - 1 - s)! / d!, as 1 / (d C(d-1, s))
        choose = 1.0
        for s in range(d):
            weight[s] = 1.0 / (d * choose)
            choose = choose * (d - 1 - s) / (s + 1)
        coef = np.empty(d + 1)
        for mask in range(1 << d):
            outside = 1.0  # the z of the features the row does not follow
            for k in range(d):
                if not (mask >> k) & 1:
                    outside *= z[k]
            against = -v * outside * subset_sum(mask, -1, z, weight, coef)
            cell = leaf_table[leaf] + mask * d
            for j in range(d):
                if (mask >> j) & 1:
                    table[cell + j] = (
                        v * (1.0 - z[j]) * outside * subset_sum(mask, j, z, weight, coef)
                    )
                else:
                    table[cell + j] = against


# No reference counting (``_nrt=False``: see ``raw_scores``), so the
# scratch ``masks`` (2 x a tree's most leaves) comes from the caller.
@njit(cache=True, nogil=True, _nrt=False)  # type: ignore[call-overload]
def contributions_rows(  # pragma: no cover - compiled; tested against LightGBM
    rows: np.ndarray,
    classes: np.ndarray,
    out: np.ndarray,
    per_iteration: int,
    masks: np.ndarray,
    bias: np.ndarray,
    set_bit: np.ndarray,
    clear_bit: np.ndarray,
    left_slot: np.ndarray,
    right_slot: np.ndarray,
    leaf_d: np.ndarray,
    leaf_path: np.ndarray,
    path_feature: np.ndarray,
    leaf_table: np.ndarray,
    table: np.ndarray,
    *forest: np.ndarray,
) -> None:
    num_leaves, node_base, leaf_base, cat_base, node, threshold = forest[:6]
    cat_bounds, cat_words = forest[7:9]
    n_features = out.shape[1] - 1
    for r in range(rows.shape[0]):
        for f in range(n_features):
            out[r, f] = 0.0
        out[r, n_features] = bias[classes[r]]
    # Tree by tree over a block of rows, so that a tree's tables stay in the cache
    # while its rows use them (row by row, nearly every leaf's table row is a miss).
    for start in range(0, rows.shape[0], TABLE_BLOCK_ROWS):
        stop = min(start + TABLE_BLOCK_ROWS, rows.shape[0])
        for t in range(num_leaves.shape[0]):
            leaves = num_leaves[t]
            if leaves <= 1:
                continue  # a constant tree moves only the bias
            k = t % per_iteration
            base = node_base[t]
            cats = cat_base[t]
            for r in range(start, stop):
                if classes[r] != k:
                    continue
                x = rows[r]
                # Each node's pattern from its parent's, in node order (LightGBM numbers
                # a split after its parent): a feature new on the path counts as
                # followed on the row's side only, one seen before stays followed on
                # the row's side only. Masks: nodes first, then leaves.
                masks[0] = 0
                for n in range(leaves - 1):
                    i = base + n
                    went = goes_left(x, i, cats, node, threshold, cat_bounds, cat_words)
                    mask = masks[n]
                    masks[left_slot[i]] = (mask | (set_bit[i] * went)) & ~(
                        clear_bit[i] * (1 - went)
                    )
                    masks[right_slot[i]] = (mask | (set_bit[i] * (1 - went))) & ~(
                        clear_bit[i] * went
                    )
                for n in range(leaves):
                    leaf = leaf_base[t] + n
                    d = leaf_d[leaf]
                    cell = leaf_table[leaf] + masks[leaves - 1 + n] * d
                    first = leaf_path[leaf]
                    for s in range(d):
                        out[r, path_feature[first + s]] += table[cell + s]
