"""Evaluation metrics over scored units (cell-hours or road points), pure numpy and vectorised.

Every function takes aligned 1-D arrays (or arrays that are flattened): `scores` (any monotone risk
score, higher = riskier), `counts` (observed accidents per unit) and, for the probabilistic metrics,
`prob` (the predicted probability / expected count per unit). They are written for ~13 M cell-hours:
one stable sort per score array (reusable through `descending_order`) and no Python loops over rows.

Hit rate and PAI (predictive accuracy index, Chainey et al.): flag the top `fraction` of units by
score; hit rate = share of all accidents that fall in flagged units; PAI = hit rate / fraction of
units flagged. A random ranking has PAI 1. Ties at the cut are split fractionally: when the cut
falls inside a group of equal scores, the group's accidents count in proportion to the share of the
group that is flagged (the expected hit count of a random tie-break), never by index order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

CELL_FRACTIONS = (0.01, 0.05, 0.10)
POINT_FRACTIONS = (0.05, 0.10)


def fraction_label(fraction: float) -> str:
    """0.05 -> '5pct' (metric names must stay valid MLflow names: no '%' or '@')."""
    return f"{fraction * 100:g}pct"


def _flat(values, dtype=None) -> np.ndarray:
    array = np.asarray(values)
    array = array.reshape(-1)
    return array.astype(dtype, copy=False) if dtype is not None else array


def descending_order(scores) -> np.ndarray:
    """Indices that sort `scores` from highest to lowest; ties keep index order (deterministic)."""
    s = _flat(scores)
    # argsort of the negation with a stable sort = descending with earlier indices first on ties.
    return np.argsort(-s, kind="stable")


def n_flagged(n_units: int, fraction: float) -> int:
    """Number of units flagged at `fraction`: rounded, at least one."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    return max(1, min(n_units, int(round(fraction * n_units))))


def fractional_hits(sorted_scores: np.ndarray, cumulative: np.ndarray, ks: np.ndarray) -> np.ndarray:
    """Accidents in the top `k` units for each k, splitting the tie group at the cut fractionally.

    sorted_scores: scores in descending order; cumulative: running sum of the counts in that order."""
    ascending = -sorted_scores  # non-decreasing, for searchsorted
    at_cut = ascending[ks - 1]
    start = np.searchsorted(ascending, at_cut, side="left")  # first unit of the cut's tie group
    end = np.searchsorted(ascending, at_cut, side="right")  # one past its last unit
    before = np.where(start > 0, cumulative[np.maximum(start - 1, 0)], 0.0)
    group = cumulative[end - 1] - before
    return before + group * (ks - start) / (end - start)


def hit_rate_curve(scores, counts, fractions: Sequence[float], order: np.ndarray | None = None) -> np.ndarray:
    """Hit rate at each fraction of flagged units (one sort for all fractions; ties split fractionally).

    `counts` may be expected counts (e.g. the true intensity): the result is then the expected hit rate."""
    c = _flat(counts, np.float64)
    if order is None:
        order = descending_order(scores)
    total = c.sum()
    if total <= 0:
        return np.full(len(fractions), np.nan)
    cumulative = np.cumsum(c[order])
    ks = np.array([n_flagged(c.size, f) for f in fractions], dtype=np.int64)
    return fractional_hits(_flat(scores)[order], cumulative, ks) / total


def hit_rate_and_pai(
    scores, counts, fractions: Sequence[float] = CELL_FRACTIONS, order: np.ndarray | None = None
) -> dict[str, float]:
    """{'hit_rate_5pct': .., 'pai_5pct': ..} for each fraction; PAI uses the share actually flagged."""
    c = _flat(counts)
    if c.size == 0:
        raise ValueError("no units to rank")
    hits = hit_rate_curve(scores, c, fractions, order)
    out: dict[str, float] = {}
    for fraction, hit in zip(fractions, hits, strict=True):
        share = n_flagged(c.size, fraction) / c.size
        label = fraction_label(fraction)
        out[f"hit_rate_{label}"] = float(hit)
        out[f"pai_{label}"] = float(hit / share)
    return out


def spatial_hit_rate(point_scores, point_counts, fractions: Sequence[float] = POINT_FRACTIONS) -> dict[str, float]:
    """Hit rate and PAI over road points (score summed over the year, counts = accidents per point)."""
    return hit_rate_and_pai(point_scores, point_counts, fractions)


def brier_score(prob, counts) -> float:
    """Mean squared error of the probability against the event indicator (count clipped to 1)."""
    p = _flat(prob, np.float64)
    y = _flat(counts) > 0
    if p.size == 0:
        raise ValueError("no units to score")
    # sum((p - y)^2) = sum(p^2) - 2 sum(p over events) + n_events, without a 13 M temporary for y.
    total = float(np.dot(p, p)) - 2.0 * float(p[y].sum()) + float(y.sum())
    return total / p.size


def _tie_group_ends(sorted_scores: np.ndarray) -> np.ndarray:
    """Index of the last element of each run of equal values in a sorted array."""
    change = np.flatnonzero(sorted_scores[1:] != sorted_scores[:-1])
    return np.append(change, sorted_scores.size - 1)


def roc_auc(scores, counts, order: np.ndarray | None = None) -> float:
    """Area under the ROC curve (event = count > 0); ties count one half, as in sklearn."""
    s = _flat(scores)
    y = _flat(counts) > 0
    if order is None:
        order = descending_order(s)
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ends = _tie_group_ends(s[order])
    tps = np.cumsum(y[order], dtype=np.int64)[ends]
    fps = (ends + 1) - tps
    tpr = np.concatenate([[0.0], tps / n_pos])
    fpr = np.concatenate([[0.0], fps / n_neg])
    return float(np.trapezoid(tpr, fpr))


def pr_auc(scores, counts, order: np.ndarray | None = None) -> float:
    """Average precision (step-wise area under precision-recall, sklearn's definition)."""
    s = _flat(scores)
    y = _flat(counts) > 0
    if order is None:
        order = descending_order(s)
    n_pos = int(y.sum())
    if n_pos == 0:
        return float("nan")
    ends = _tie_group_ends(s[order])
    tps = np.cumsum(y[order], dtype=np.int64)[ends]
    precision = tps / (ends + 1)
    recall = tps / n_pos
    return float(np.sum(np.diff(recall, prepend=0.0) * precision))


@dataclass(frozen=True)
class CalibrationRow:
    grouping: str
    key: int
    expected: float
    observed: float

    @property
    def ratio(self) -> float:
        return self.expected / self.observed if self.observed else float("nan")


@dataclass(frozen=True)
class CalibrationSummary:
    expected: float
    observed: float
    rows: list[CalibrationRow]

    @property
    def ratio(self) -> float:
        """Expected / observed accidents; 1.0 is perfect, the target is within 0.8-1.2."""
        return self.expected / self.observed if self.observed else float("nan")

    def by(self, grouping: str) -> list[CalibrationRow]:
        return [r for r in self.rows if r.grouping == grouping]


def calibration_summary(prob, counts, groups: Mapping[str, np.ndarray]) -> CalibrationSummary:
    """Expected (sum of probabilities) vs observed accidents, overall and per key of each grouping.

    `groups` maps a grouping name ('month', 'hour') to an integer key per unit, aligned with `prob`.
    Callers with a (points x hours) matrix can pass per-hour sums instead of 13 M cells.
    """
    p = _flat(prob, np.float64)
    c = _flat(counts, np.float64)
    rows: list[CalibrationRow] = []
    for name, keys in groups.items():
        k = _flat(keys)
        if k.size != p.size:
            raise ValueError(f"grouping {name!r} has {k.size} keys for {p.size} units")
        uniques, inverse = np.unique(k, return_inverse=True)
        expected = np.bincount(inverse, weights=p, minlength=uniques.size)
        observed = np.bincount(inverse, weights=c, minlength=uniques.size)
        rows.extend(
            CalibrationRow(name, int(key), float(e), float(o))
            for key, e, o in zip(uniques, expected, observed, strict=True)
        )
    return CalibrationSummary(float(p.sum()), float(c.sum()), rows)


def poisson_event_probability(expected_counts) -> np.ndarray:
    """P(at least one accident) for a Poisson expected count: turns count baselines into probabilities."""
    lam = np.asarray(expected_counts, dtype=np.float64)
    return (-np.expm1(-lam)).astype(np.float32)


# --- full grids: one sorted copy of the scores and the units with an accident -------------------
# A year at 0.005 deg is ~180 M cell-hours: an index order (int64) and cumulative sums in that order
# would cost several GB per method. Everything a grid metric needs is the sorted scores (one float32
# copy) and the few units with an accident; the ranking of a unit is a binary search.
BLOCK_CELLS = 4_000_000  # cells of a matrix turned into float64 at once (32 MB)


def block_rows(n_columns: int) -> int:
    """Rows of a (points x hours) matrix per block of about BLOCK_CELLS cells."""
    return max(1, BLOCK_CELLS // max(n_columns, 1))


class Ranking:
    """The scores of every unit sorted ascending (no index array)."""

    def __init__(self, scores):
        self.ascending = np.sort(_flat(scores))
        self.size = self.ascending.size

    def above(self, values) -> np.ndarray:
        """Units scoring strictly higher than each value."""
        return self.size - np.searchsorted(self.ascending, values, side="right")

    def at_least(self, values) -> np.ndarray:
        return self.size - np.searchsorted(self.ascending, values, side="left")

    def cut(self, k: int) -> tuple[float, int, int]:
        """(score at the cut of the top-`k` units, units above it, units tied with it)."""
        value = self.ascending[self.size - k]
        above = int(self.above(value))
        return value, above, int(self.at_least(value)) - above


def _positive_units(scores, counts) -> tuple[np.ndarray, np.ndarray]:
    """(scores, counts) of the units with a non-zero count."""
    c = _flat(counts)
    where = np.flatnonzero(c)
    return _flat(scores)[where], c[where].astype(np.float64)


def ranked_hits(ranking: Ranking, scores, weights, ks: Sequence[int], *, sparse: bool = True) -> np.ndarray:
    """Sum of `weights` over the top `k` units for each k, the tie group at the cut split fractionally
    (as `fractional_hits`). sparse: weights are counts, mostly zero (only non-zero units are read);
    otherwise dense weights such as an expected intensity, read in one pass per k."""
    if sparse:
        s, w = _positive_units(scores, weights)
    else:
        s, w = _flat(scores), _flat(weights)
    out = np.empty(len(ks))
    for i, k in enumerate(ks):
        value, above, tied = ranking.cut(int(k))
        before = w[s > value].sum(dtype=np.float64)
        group = w[s == value].sum(dtype=np.float64)
        out[i] = before + group * (int(k) - above) / tied
    return out


def ranked_hit_rate_curve(ranking: Ranking, scores, counts, fractions: Sequence[float], *, sparse: bool = True) -> np.ndarray:
    """`hit_rate_curve` from a Ranking (counts may be dense expected counts with sparse=False)."""
    total = _flat(counts).sum(dtype=np.float64)
    if total <= 0:
        return np.full(len(fractions), np.nan)
    ks = [n_flagged(ranking.size, f) for f in fractions]
    return ranked_hits(ranking, scores, counts, ks, sparse=sparse) / total


def ranked_roc_auc(ranking: Ranking, scores, counts) -> float:
    """`roc_auc` from a Ranking: the Mann-Whitney statistic over the event units, ties counting one half."""
    positive, _ = _positive_units(scores, counts)
    n_pos = positive.size
    n_neg = ranking.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    below_all = ranking.size - ranking.at_least(positive)
    tied_all = ranking.at_least(positive) - ranking.above(positive)
    sorted_pos = np.sort(positive)
    below_pos = np.searchsorted(sorted_pos, positive, side="left")
    tied_pos = np.searchsorted(sorted_pos, positive, side="right") - below_pos
    wins = (below_all - below_pos).sum(dtype=np.float64) + 0.5 * (tied_all - tied_pos).sum(dtype=np.float64)
    return float(wins / (n_pos * n_neg))


def ranked_pr_auc(ranking: Ranking, scores, counts) -> float:
    """`pr_auc` (average precision) from a Ranking: only tie groups holding an event add area."""
    positive, _ = _positive_units(scores, counts)
    n_pos = positive.size
    if n_pos == 0:
        return float("nan")
    values, tp_group = np.unique(positive, return_counts=True)
    values, tp_group = values[::-1], tp_group[::-1]  # highest score first
    tps = np.cumsum(tp_group)
    precision = tps / ranking.at_least(values)
    return float(np.sum(tp_group / n_pos * precision))


def grid_brier_score(prob_of, matrix: np.ndarray, counts: np.ndarray) -> float:
    """`brier_score` of a (points x hours) matrix whose probabilities are `prob_of(rows)`, computed
    row block by row block (no full-size float64 copy)."""
    n_rows, n_cols = matrix.shape
    step = block_rows(n_cols)
    squares = 0.0
    for start in range(0, n_rows, step):
        p = np.asarray(prob_of(matrix[start:start + step]), dtype=np.float64).reshape(-1)
        squares += float(np.dot(p, p))
    rows, cols = np.nonzero(counts)
    at_events = np.asarray(prob_of(matrix[rows, cols]), dtype=np.float64)
    return (squares - 2.0 * float(at_events.sum()) + float(rows.size)) / matrix.size
