"""Penalised Poisson regression on the factorised point x time grid, by Newton's method.

    mu(p, k) = exposure[s(p), k] * exp(Xp[p] . alpha + XT[g(p), k] . beta)

with ridge penalties (prior precisions) on alpha and beta and lower bounds on some beta. The
likelihood and its derivatives need only sums over points and over time keys (see
pipeline.gold.intensity.cells), never the point x hour grid: the cross term of the Hessian is a sum
over (group, series) cells of outer products. A GLM library fitted on the expanded grid gives the same
estimates (tests/gold/intensity/test_poisson.py checks it against glum) but holds millions of rows.

Bounds: an active-set Newton step. Coefficients at their bound whose gradient pushes them below it
stay fixed for the step; the step is clipped to the bounds and halved until the penalised
log-likelihood does not decrease.

The penalised Hessian at the optimum is the precision of the Laplace (Gaussian) approximation of the
coefficients' posterior under the ridge prior: its inverse is the covariance used for intervals
(coefficients held at a bound get no variance).

The fit holds BLAS to one thread: its products are small (a few thousand rows by ~150 columns), and
two BLAS threads waiting on each other made a fit 2-6x slower on a busy 2-core machine (alternating
runs at load 4-7, bench/findings.md; not measured on a quiet one).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from pipeline.core.errors import AccidentsError


@dataclass(frozen=True)
class PoissonProblem:
    point_design: np.ndarray  # (P, dp); column 0 is the intercept
    time_design: np.ndarray  # (G, K, dt)
    group: np.ndarray  # (P,) road group of each point
    series: np.ndarray  # (P,) weather series of each point
    exposure: np.ndarray  # (S, K) hours
    n_point: np.ndarray  # (P,) accidents
    n_group_key: np.ndarray  # (G, K) accidents
    precision: np.ndarray  # (dp + dt,) ridge precision of each coefficient (0: free)
    lower: np.ndarray  # (dp + dt,) lower bounds (-inf: none)

    @property
    def sizes(self) -> tuple[int, int]:
        return self.point_design.shape[1], self.time_design.shape[2]


@dataclass(frozen=True)
class PoissonFit:
    alpha: np.ndarray
    beta: np.ndarray
    covariance: np.ndarray  # (dp + dt, dp + dt)
    iterations: int
    penalised_loglik: float


class _Evaluation:
    """The problem's pieces at one coefficient vector."""

    def __init__(self, problem: PoissonProblem, theta: np.ndarray) -> None:
        dp, _ = problem.sizes
        n_groups, n_series = problem.time_design.shape[0], problem.exposure.shape[0]
        self.a = problem.point_design @ theta[:dp]
        self.b = problem.time_design @ theta[dp:]  # (G, K)
        self.ea = np.exp(self.a)
        self.eb = np.exp(self.b)
        cell = problem.group * n_series + problem.series
        self.A = np.bincount(cell, weights=self.ea, minlength=n_groups * n_series).reshape(n_groups, n_series)
        self.T = self.eb @ problem.exposure.T  # (G, S)
        loglik = problem.n_point @ self.a + (problem.n_group_key * self.b).sum() - (self.A * self.T).sum()
        self.objective = float(loglik - 0.5 * (problem.precision * theta * theta).sum())


def _gradient_and_hessian(problem: PoissonProblem, theta: np.ndarray, ev: _Evaluation):
    X, XT = problem.point_design, problem.time_design
    dp, dt = problem.sizes
    n_groups, n_series = XT.shape[0], problem.exposure.shape[0]
    mu_point = ev.ea * ev.T[problem.group, problem.series]
    mu_key = ev.eb * (ev.A @ problem.exposure)  # (G, K)
    grad = np.concatenate([X.T @ (problem.n_point - mu_point),
                           np.einsum("gkd,gk->d", XT, problem.n_group_key - mu_key)]) - problem.precision * theta
    hess = np.empty((dp + dt, dp + dt))
    hess[:dp, :dp] = (X * mu_point[:, None]).T @ X
    hess[dp:, dp:] = np.einsum("gkd,gk,gke->de", XT, mu_key, XT, optimize=True)
    point_sums = np.zeros((n_groups * n_series, dp))
    np.add.at(point_sums, problem.group * n_series + problem.series, X * ev.ea[:, None])
    key_sums = np.einsum("sk,gk,gkd->gsd", problem.exposure, ev.eb, XT, optimize=True)
    hess[:dp, dp:] = np.einsum("gsd,gse->de", point_sums.reshape(n_groups, n_series, dp), key_sums, optimize=True)
    hess[dp:, :dp] = hess[:dp, dp:].T
    hess[np.diag_indices_from(hess)] += problem.precision
    return grad, hess


def fit_poisson(problem: PoissonProblem, start: np.ndarray | None = None, *, max_iter: int = 60,
                tolerance: float = 1e-9) -> PoissonFit:
    """Maximise the penalised log-likelihood of `problem` (module docstring); `start` warm-starts."""
    with threadpool_limits(limits=1, user_api="blas"):
        return _newton(problem, start, max_iter=max_iter, tolerance=tolerance)


def _newton(problem: PoissonProblem, start: np.ndarray | None, *, max_iter: int, tolerance: float) -> PoissonFit:
    dp, dt = problem.sizes
    lower = problem.lower
    if start is None:
        theta = np.zeros(dp + dt)
        total_exposure = float(problem.exposure.sum(axis=1).mean()) * len(problem.n_point)
        theta[0] = np.log(max(problem.n_point.sum(), 0.5) / total_exposure)
    else:
        theta = np.asarray(start, dtype=float).copy()
    theta = np.maximum(theta, lower)
    ev = _Evaluation(problem, theta)
    for iteration in range(1, max_iter + 1):
        grad, hess = _gradient_and_hessian(problem, theta, ev)
        free = ~((theta <= lower + 1e-12) & (grad <= 0))
        step = np.zeros_like(theta)
        step[free] = np.linalg.solve(hess[np.ix_(free, free)], grad[free])
        scale, trial = 1.0, None
        for _ in range(40):
            candidate = np.maximum(theta + scale * step, lower)
            trial = _Evaluation(problem, candidate)
            if np.isfinite(trial.objective) and trial.objective >= ev.objective - 1e-12 * abs(ev.objective):
                break
            scale *= 0.5
        else:
            raise AccidentsError("Poisson fit: no step improves the likelihood (degenerate design)")
        gain = trial.objective - ev.objective
        theta, ev = candidate, trial
        if gain <= tolerance * max(1.0, abs(ev.objective)):
            break
    grad, hess = _gradient_and_hessian(problem, theta, ev)
    free = ~((theta <= lower + 1e-12) & (grad <= 1e-9))
    covariance = np.zeros_like(hess)
    covariance[np.ix_(free, free)] = np.linalg.inv(hess[np.ix_(free, free)])
    return PoissonFit(theta[:dp], theta[dp:], covariance, iteration, ev.objective)
