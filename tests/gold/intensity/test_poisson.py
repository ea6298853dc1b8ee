"""The factorised Newton solver gives the estimates a maintained GLM library gives on the expanded grid."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.gold.intensity.poisson import PoissonProblem, fit_poisson


def small_problem(seed: int = 0, *, rain_effect: float = 0.4):
    rng = np.random.default_rng(seed)
    n_points, n_groups, n_series, n_keys = 30, 2, 2, 40
    point_design = np.column_stack([np.ones(n_points), rng.normal(size=n_points), rng.random(n_points) < 0.3])
    time_design = np.stack([np.column_stack([rng.random(n_keys) < 0.5, (rng.random(n_keys) < 0.2) * (g + 1.0),
                                             rng.normal(size=n_keys)]) for g in range(n_groups)]).astype(float)
    group = rng.integers(0, n_groups, n_points)
    series = rng.integers(0, n_series, n_points)
    exposure = rng.integers(0, 60, (n_series, n_keys)).astype(float)
    alpha = np.array([-3.0, 0.5, -0.4])
    beta = np.array([0.3, rain_effect, -0.2])
    mu = exposure[series] * np.exp(point_design @ alpha)[:, None] * np.exp(time_design[group] @ beta)
    counts = rng.poisson(mu)
    n_group_key = np.zeros((n_groups, n_keys))
    np.add.at(n_group_key, group, counts)
    precision = np.array([0.0, 0.5, 0.5, 0.5, 0.5, 0.5])
    lower = np.array([-np.inf] * 4 + [0.0, -np.inf])
    problem = PoissonProblem(point_design, time_design, group, series, exposure, counts.sum(axis=1).astype(float),
                             n_group_key, precision, lower)
    return problem, counts


def expanded(problem: PoissonProblem, counts: np.ndarray):
    """One row per (point, key) with hours: the grid a GLM library needs."""
    rows, offsets, ys = [], [], []
    for p in range(len(problem.point_design)):
        for k in range(problem.exposure.shape[1]):
            hours = problem.exposure[problem.series[p], k]
            if hours > 0:
                rows.append(np.concatenate([problem.point_design[p], problem.time_design[problem.group[p], k]]))
                offsets.append(np.log(hours))
                ys.append(counts[p, k])
    return np.array(rows), np.array(offsets), np.array(ys, dtype=float)


@pytest.mark.parametrize("rain_effect", [0.4, -0.5])  # the second pushes a bounded coefficient onto its bound
def test_the_factorised_fit_equals_glum_on_the_expanded_grid(rain_effect):
    from glum import GeneralizedLinearRegressor

    problem, counts = small_problem(rain_effect=rain_effect)
    fit = fit_poisson(problem)
    X, offset, y = expanded(problem, counts)
    # glum minimises deviance / (2 n) + alpha / 2 * w' P2 w: alpha = 1 / n makes it our penalised likelihood
    reference = GeneralizedLinearRegressor(family="poisson", alpha=1.0 / len(y), l1_ratio=0.0, P2=problem.precision,
                                           lower_bounds=problem.lower, fit_intercept=False, gradient_tol=1e-10,
                                           max_iter=500).fit(X, y, offset=offset)
    ours = np.concatenate([fit.alpha, fit.beta])
    assert np.allclose(ours, reference.coef_, atol=2e-4), (ours, reference.coef_)
    if rain_effect < 0:
        assert fit.beta[1] == 0.0  # held at its bound: rain never lowers risk
        assert fit.covariance[4, 4] == 0.0  # and it gets no variance


def test_the_covariance_is_the_inverse_penalised_hessian():
    problem, counts = small_problem(seed=3)
    fit = fit_poisson(problem)
    X, offset, y = expanded(problem, counts)
    theta = np.concatenate([fit.alpha, fit.beta])
    mu = np.exp(X @ theta + offset)
    hessian = (X * mu[:, None]).T @ X + np.diag(problem.precision)
    assert np.allclose(np.linalg.inv(hessian), fit.covariance, rtol=1e-4, atol=1e-8)


def test_a_warm_start_reaches_the_same_optimum_in_fewer_iterations():
    problem, _ = small_problem(seed=5)
    cold = fit_poisson(problem)
    warm = fit_poisson(problem, np.concatenate([cold.alpha, cold.beta]) + 0.01)
    assert warm.iterations < cold.iterations
    assert np.allclose(np.concatenate([cold.alpha, cold.beta]), np.concatenate([warm.alpha, warm.beta]), atol=1e-5)
