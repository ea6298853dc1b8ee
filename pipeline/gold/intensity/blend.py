"""A blend of candidates: lambda = sum_i w_i lambda_i with weights >= 0 summing to 1.

The weights maximise the validation year's Poisson log-likelihood, which needs each candidate's
expected count at every validation accident and each candidate's validation total only. Fitted on
the validation year, a blend would be judged on the data that chose it; its own validation score is
therefore cross-fitted (weights fitted on the even days, scored on the odd days, and the reverse).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from pipeline.gold.intensity.grid import ScoringGrid

KIND = "blend"


def blend_weights(at_accidents: np.ndarray, totals: np.ndarray) -> np.ndarray:
    """Simplex weights maximising sum log(sum_i w_i lam_i(accident)) - sum_i w_i total_i.
    at_accidents: (N, M) each candidate's expected count at each accident's cell; totals: (M,)."""
    from scipy.optimize import minimize

    n_models = at_accidents.shape[1]
    if n_models == 1:
        return np.ones(1)

    def loss(w):
        mix = np.maximum(at_accidents @ w, 1e-300)
        return -(np.log(mix).sum() - w @ totals), -(at_accidents.T @ (1.0 / mix) - totals)

    start = np.full(n_models, 1.0 / n_models)
    result = minimize(loss, start, jac=True, method="SLSQP", bounds=[(0.0, 1.0)] * n_models,
                      constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1.0, "jac": lambda w: np.ones_like(w)}])
    weights = np.clip(result.x, 0.0, None)
    return weights / weights.sum()


def crossfit_loglik(at_accidents: np.ndarray, accident_day: np.ndarray, totals_by_day: np.ndarray) -> float:
    """Log-likelihood (without count factorials) of the blend on the validation year, each half of the
    days scored with weights fitted on the other half. totals_by_day: (D, M) candidates' daily totals."""
    days = np.arange(totals_by_day.shape[0])
    total = 0.0
    for half in (0, 1):
        fit_days, score_days = days % 2 == half, days % 2 != half
        fit_rows = fit_days[accident_day]
        weights = blend_weights(at_accidents[fit_rows], totals_by_day[fit_days].sum(axis=0))
        score_rows = ~fit_rows
        total += float(np.log(np.maximum(at_accidents[score_rows] @ weights, 1e-300)).sum()
                       - weights @ totals_by_day[score_days].sum(axis=0))
    return total


@dataclass
class Blend:
    components: list  # candidate models
    weights: np.ndarray
    train_years: tuple[int, ...]
    year_counts: dict[int, float] = field(default_factory=dict)
    name: str = "blend"
    kind: str = KIND

    @property
    def weather_codes(self) -> tuple[int, ...]:
        """Codes every component can score."""
        codes = set(self.components[0].weather_codes)
        for model in self.components[1:]:
            codes &= set(model.weather_codes)
        return tuple(sorted(codes))

    def expected_counts(self, grid: ScoringGrid, dtype=np.float64) -> np.ndarray:
        out = np.zeros(grid.shape, dtype=dtype)
        for weight, model in zip(self.weights, self.components, strict=True):
            if weight > 0:
                out += weight * grid.expected_of(model, dtype)
        return out

    def describe(self) -> dict[str, Any]:
        return {m.name: round(float(w), 4) for m, w in zip(self.components, self.weights, strict=True)}
