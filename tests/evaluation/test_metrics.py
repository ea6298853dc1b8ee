"""Metric functions on toy examples computed by hand, and against sklearn on random data."""

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from pipeline.evaluation.metrics import (
    brier_score,
    calibration_summary,
    descending_order,
    fraction_label,
    hit_rate_and_pai,
    poisson_event_probability,
    pr_auc,
    roc_auc,
    spatial_hit_rate,
)


def test_hit_rate_and_pai_toy():
    # 10 units, 6 accidents; the top unit (10 %) holds 3 of them -> hit 0.5, PAI 0.5 / 0.1 = 5.
    scores = np.array([0.1, 0.9, 0.3, 0.2, 0.5, 0.05, 0.4, 0.0, 0.6, 0.15])
    counts = np.array([0, 3, 0, 1, 1, 0, 0, 0, 1, 0])
    out = hit_rate_and_pai(scores, counts, fractions=(0.1, 0.3, 1.0))
    assert out["hit_rate_10pct"] == pytest.approx(0.5)
    assert out["pai_10pct"] == pytest.approx(5.0)
    # top 3 = units 1 (3), 8 (1), 4 (1) -> 5/6; PAI = (5/6) / 0.3
    assert out["hit_rate_30pct"] == pytest.approx(5 / 6)
    assert out["pai_30pct"] == pytest.approx((5 / 6) / 0.3)
    assert out["hit_rate_100pct"] == pytest.approx(1.0)
    assert out["pai_100pct"] == pytest.approx(1.0)


def test_a_tie_group_at_the_cut_gives_the_fractional_hit_count():
    scores = np.array([1.0, 1.0, 1.0, 1.0])
    counts = np.array([0, 2, 0, 0])
    assert list(descending_order(scores)) == [0, 1, 2, 3]
    # one of four tied units flagged: a quarter of the group's 2 accidents, whatever the index order
    assert hit_rate_and_pai(scores, counts, (0.25,))["hit_rate_25pct"] == pytest.approx(0.25)
    assert hit_rate_and_pai(scores, counts[::-1], (0.25,))["hit_rate_25pct"] == pytest.approx(0.25)
    assert hit_rate_and_pai(scores, counts, (0.5,))["hit_rate_50pct"] == pytest.approx(0.5)
    # 10 units: one clear top unit (1 accident), a tie group of 4 units (3 accidents) straddling the
    # 30 % cut (2 of its 4 units flagged), the rest below: hits = 1 + 3 x 2/4 = 2.5 of 5
    scores = np.array([0.9, 0.5, 0.5, 0.5, 0.5, 0.1, 0.1, 0.0, 0.0, 0.0])
    counts = np.array([1, 0, 3, 0, 0, 1, 0, 0, 0, 0])
    out = hit_rate_and_pai(scores, counts, (0.1, 0.3, 0.5))
    assert out["hit_rate_10pct"] == pytest.approx(1 / 5)
    assert out["hit_rate_30pct"] == pytest.approx(2.5 / 5)
    assert out["pai_30pct"] == pytest.approx((2.5 / 5) / 0.3)
    assert out["hit_rate_50pct"] == pytest.approx(4 / 5)  # the cut ends exactly with the group


def test_spatial_hit_rate_toy():
    # 20 points, 8 accidents; top 5 % = the best point (3 accidents); top 10 % = two best points (4).
    point_scores = np.arange(20, dtype=float)
    point_counts = np.zeros(20)
    point_counts[19] = 3
    point_counts[18] = 1
    point_counts[:4] = 1
    out = spatial_hit_rate(point_scores, point_counts)
    assert out["hit_rate_5pct"] == pytest.approx(3 / 8)
    assert out["pai_5pct"] == pytest.approx((3 / 8) / 0.05)
    assert out["hit_rate_10pct"] == pytest.approx(4 / 8)
    assert out["pai_10pct"] == pytest.approx((4 / 8) / 0.10)


def test_calibration_summary_toy():
    prob = np.array([0.1, 0.2, 0.3, 0.4])
    counts = np.array([0, 1, 0, 2])
    month = np.array([1, 1, 2, 2])
    hour = np.array([0, 5, 0, 5])
    summary = calibration_summary(prob, counts, {"month": month, "hour": hour})
    assert summary.expected == pytest.approx(1.0)
    assert summary.observed == 3
    assert summary.ratio == pytest.approx(1 / 3)
    by_month = {r.key: (r.expected, r.observed) for r in summary.by("month")}
    assert by_month[1] == pytest.approx((0.3, 1.0))
    assert by_month[2] == pytest.approx((0.7, 2.0))
    by_hour = {r.key: r for r in summary.by("hour")}
    assert by_hour[5].expected == pytest.approx(0.6)
    assert by_hour[5].ratio == pytest.approx(0.2)
    assert by_hour[0].observed == 0 and np.isnan(by_hour[0].ratio)


def test_brier_clips_counts_to_event_indicator():
    prob = np.array([0.0, 0.5, 1.0, 0.2])
    counts = np.array([0, 2, 1, 0])  # 2 accidents in a cell-hour is still one event
    expected = ((0 - 0) ** 2 + (0.5 - 1) ** 2 + (1 - 1) ** 2 + (0.2 - 0) ** 2) / 4
    assert brier_score(prob, counts) == pytest.approx(expected)


def test_auc_toy_and_sklearn_agreement_with_ties():
    assert roc_auc([0.9, 0.8, 0.1, 0.2], [1, 1, 0, 0]) == pytest.approx(1.0)
    assert roc_auc([0.5, 0.5], [1, 0]) == pytest.approx(0.5)
    rng = np.random.default_rng(0)
    scores = np.round(rng.random(5000), 2).astype(np.float32)  # many ties
    counts = rng.poisson(scores * 0.3)
    events = counts > 0
    assert roc_auc(scores, counts) == pytest.approx(roc_auc_score(events, scores), abs=1e-9)
    assert pr_auc(scores, counts) == pytest.approx(average_precision_score(events, scores), abs=1e-9)
    # a shared order gives the same answer
    order = descending_order(scores)
    assert roc_auc(scores, counts, order) == roc_auc(scores, counts)


def test_metrics_accept_matrices_and_degenerate_inputs():
    scores = np.array([[0.1, 0.9], [0.2, 0.3]], dtype=np.float32)
    counts = np.array([[0, 1], [0, 0]])
    assert roc_auc(scores, counts) == pytest.approx(1.0)
    assert np.isnan(roc_auc(scores, np.zeros((2, 2))))
    assert np.isnan(hit_rate_and_pai(scores, np.zeros((2, 2)), (0.5,))["hit_rate_50pct"])


def test_fraction_label_and_poisson_probability():
    assert fraction_label(0.01) == "1pct"
    assert fraction_label(0.005) == "0.5pct"
    assert poisson_event_probability([0.0, 1.0])[1] == pytest.approx(1 - np.exp(-1), rel=1e-6)


def test_ranked_grid_metrics_equal_the_index_order_ones_with_ties():
    from pipeline.evaluation.metrics import (
        Ranking,
        grid_brier_score,
        hit_rate_curve,
        pr_auc,
        ranked_hit_rate_curve,
        ranked_pr_auc,
        ranked_roc_auc,
        roc_auc,
    )

    rng = np.random.default_rng(3)
    scores = np.round(rng.random((50, 400)), 2).astype(np.float32)  # many tie groups, some cut inside one
    counts = rng.poisson(0.01 + 0.05 * scores).astype(np.float32)
    truth = rng.gamma(1.0, 0.02, scores.shape).astype(np.float32)
    ranking = Ranking(scores)
    fractions = (0.001, 0.0137, 0.05, 0.1, 0.5, 1.0)
    assert ranked_roc_auc(ranking, scores, counts) == pytest.approx(roc_auc(scores, counts), rel=1e-12)
    assert ranked_pr_auc(ranking, scores, counts) == pytest.approx(pr_auc(scores, counts), rel=1e-12)
    np.testing.assert_allclose(ranked_hit_rate_curve(ranking, scores, counts, fractions),
                               hit_rate_curve(scores, counts, fractions), rtol=1e-12)
    np.testing.assert_allclose(ranked_hit_rate_curve(ranking, scores, truth, fractions, sparse=False),
                               hit_rate_curve(scores, truth, fractions), rtol=1e-9)
    assert grid_brier_score(lambda block: block, scores, counts) == pytest.approx(
        brier_score(scores, counts), rel=1e-12)


def test_grid_metrics_hold_one_sorted_copy_not_an_index_order(monkeypatch):
    """A method's metrics over a full grid allocate about one extra matrix (the sorted scores), not
    the int64 order and float64 running sums that made a 0.005 deg year cost several GB per method."""
    import tracemalloc

    from pipeline.evaluation import metrics
    from pipeline.evaluation.evaluation import method_metrics
    from pipeline.gold.intensity.cells import year_hours

    monkeypatch.setattr(metrics, "BLOCK_CELLS", 100_000)  # float64 blocks far smaller than the grid

    hours = year_hours([2023])
    rng = np.random.default_rng(0)
    expected = (rng.random((120, len(hours))) * 1e-3).astype(np.float32)
    counts = np.zeros(expected.shape, dtype=np.float32)
    counts[rng.integers(0, 120, 300), rng.integers(0, len(hours), 300)] = 1
    tracemalloc.start()
    method_metrics(expected, counts, hours, truth=expected)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 2 * expected.nbytes
