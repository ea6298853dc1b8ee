"""numba kernels of pipeline.gold.lightgbm_compiled (imported only when a model is compiled: numba
takes ~1 s to import). Compiled once per machine (numba's on-disk cache)."""

from __future__ import annotations

import math

from numba import njit

from pipeline.gold.lightgbm_compiled import NUMERIC_NEAR_ZERO


@njit(nogil=True, cache=True)
def _in_bitset(value, bitset, cat_bits, cat_start) -> bool:
    """LightGBM's CategoricalDecision: NaN, negative and out-of-int-range values are never in the set."""
    if value != value or value >= 2147483648.0 or value <= -2147483649.0:
        return False
    category = int(value)  # truncates toward zero, as static_cast<int>
    if category < 0:
        return False
    word = category >> 5
    if word >= cat_start[bitset + 1] - cat_start[bitset]:
        return False
    return (cat_bits[cat_start[bitset] + word] >> (category & 31)) & 1 == 1


@njit(nogil=True, cache=True)
def raw_scores(matrix, roots, feature, threshold, left, right, nan_child, categorical, leaf_value, cat_bits,
               cat_start, zero, out):
    """out[r] = sum of the trees' leaf values for row r, added in tree order to 0.0. One tree at a
    time over all rows: its nodes stay in the cache."""
    n_rows = matrix.shape[0]
    for r in range(n_rows):
        out[r] = 0.0
    for t in range(len(roots)):
        root = roots[t]
        for r in range(n_rows):
            node = root
            while node >= 0:
                value = matrix[r, feature[node]]
                kind = categorical[node]
                if kind < 0:
                    if kind == NUMERIC_NEAR_ZERO and abs(value) <= zero:
                        value = 0.0  # LightGBM reads |x| <= kZeroThreshold as 0
                    if value <= threshold[node]:
                        node = left[node]
                    elif value > threshold[node]:
                        node = right[node]
                    else:
                        node = nan_child[node]
                elif _in_bitset(value, kind, cat_bits, cat_start):
                    node = left[node]
                else:
                    node = right[node]
            out[r] += leaf_value[~node]


@njit(nogil=True, cache=True)
def sigmoid(raw, scale, out):
    """The binary objective's output, 1 / (1 + exp(-scale * raw)), with the C library's exp."""
    for i in range(len(raw)):
        out[i] = 1.0 / (1.0 + math.exp(-scale * raw[i]))
