"""Intervals for published totals (a day, a commune, a hotspot): what is known, and what is not.

Three sources of error, combined on the log scale of the expected total L:
- the model's parameters: the GLM's Laplace covariance through the delta method, var(log L) =
  g' C g / L^2 with g the gradient of L (pipeline.gold.intensity.glm.PoissonGLM.aggregate_gradients).
  Boosted trees and blends use the relative variance of their GLM part (the trees' own variance is not
  modelled); the hotspot map uses the Poisson noise of the past counts behind the total;
- the year's level, which no covariate predicts (New Caledonia recorded 222 injury accidents in 2023
  after roughly 250-320 a year before; the demo copies that drop): the spread of the training years'
  counts beyond Poisson noise, pooled with a prior spread taken from those real figures (a few
  years that happen to agree say little about the next one), with the uncertainty of their mean;
- for the count itself, Poisson noise around the expected total (a gamma-Poisson mixture).

`low/high` bound the expected count, `count_low/count_high` the number of accidents that will happen,
both at LEVEL (90 %).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from pipeline.gold.intensity.blend import Blend
from pipeline.gold.intensity.glm import PoissonGLM

if TYPE_CHECKING:
    from pipeline.gold.intensity.grid import ScoringGrid

LEVEL = 0.90
HOURS_PER_YEAR = 8766.0
# Prior between-year sd of log(accidents) beyond Poisson noise: New Caledonia's yearly counts
# (222 in 2023, roughly 250-320 before) spread by about 0.14 on the log scale. It weighs as much as
# LEVEL_PRIOR_YEARS years of the lake's own history.
LEVEL_SD_PRIOR = 0.14
LEVEL_PRIOR_YEARS = 4


@dataclass(frozen=True)
class Interval:
    expected: float
    low: float
    high: float
    count_low: int
    count_high: int

    def as_dict(self) -> dict[str, float]:
        return {"expected": self.expected, "low": self.low, "high": self.high, "count_low": self.count_low,
                "count_high": self.count_high}


def glm_part(model):
    """The GLM inside a model (itself, a boosted model's offset, a blend's first weighted GLM), or None."""
    if isinstance(model, PoissonGLM):
        return model
    if isinstance(model, Blend):
        parts = [glm_part(c) for c, w in zip(model.components, model.weights, strict=True) if w > 0]
        return next((p for p in parts if p is not None), None)
    return getattr(model, "glm", None)


def yearly_level_sd(year_counts: dict[int, float]) -> float:
    """Between-year sd of the log accident level beyond Poisson noise: the training years' own
    excess spread (clipped at 0) pooled with LEVEL_SD_PRIOR, each weighted by its degrees of freedom."""
    counts = np.array([c for c in year_counts.values() if c > 0], dtype=float)
    own_df = max(len(counts) - 1, 0)
    own = max(float(np.var(np.log(counts), ddof=1) - np.mean(1.0 / counts)), 0.0) if own_df else 0.0
    pooled = (LEVEL_PRIOR_YEARS * LEVEL_SD_PRIOR ** 2 + own_df * own) / (LEVEL_PRIOR_YEARS + own_df)
    return float(np.sqrt(pooled))


def level_variance(year_counts: dict[int, float]) -> float:
    """Variance of the next year's log level around the training years' mean level."""
    sd = yearly_level_sd(year_counts)
    return sd * sd * (1.0 + 1.0 / max(len(year_counts), 1))


def parameter_variances(model, grid: ScoringGrid, aggregates: Aggregates, totals: np.ndarray) -> np.ndarray:
    """(A,) variance of log(total) of each aggregate from the model's parameters (module docstring)."""
    glm = glm_part(model)
    if glm is not None:
        glm_totals, gradients = glm.aggregate_gradients(grid, aggregates.point_weights, aggregates.rows,
                                                        aggregates.periods, aggregates.period_of_hour)
        return glm.log_variances(glm_totals, gradients)
    years = max(len(getattr(model, "train_years", ())), 1)
    hours = np.bincount(aggregates.period_of_hour)[aggregates.periods]
    past_accidents = totals * HOURS_PER_YEAR / np.maximum(hours, 1) * years  # the map's total rests on these
    return 1.0 / np.maximum(past_accidents, 1.0)


def interval_from(expected: float, log_variance: float, level: float = LEVEL) -> Interval:
    from scipy.stats import nbinom, norm

    if expected <= 0:
        return Interval(0.0, 0.0, 0.0, 0, 0)
    z = float(norm.ppf(0.5 + level / 2))
    sd = float(np.sqrt(max(log_variance, 0.0)))
    tail = (1.0 - level) / 2
    size = 1.0 / np.expm1(max(log_variance, 1e-12))  # gamma mixing: var = m + m^2 (e^v - 1)
    p = size / (size + expected)
    return Interval(float(expected), float(expected * np.exp(-z * sd)), float(expected * np.exp(z * sd)),
                    int(nbinom.ppf(tail, size, p)), int(nbinom.ppf(1.0 - tail, size, p)))


@dataclass(frozen=True)
class Aggregates:
    """Totals to publish: aggregate a sums, over the hours of period `periods[a]` (hours numbered by
    `period_of_hour`, e.g. their day), the expected counts of the points weighted by row `rows[a]` of
    `point_weights` (R, P) (a row of ones: every point; an indicator: a commune, a hotspot)."""

    point_weights: np.ndarray
    rows: np.ndarray
    periods: np.ndarray
    period_of_hour: np.ndarray

    def totals(self, expected: np.ndarray) -> np.ndarray:
        n_periods = int(max(self.period_of_hour.max(), self.periods.max())) + 1
        order = np.argsort(self.period_of_hour, kind="stable")
        starts = np.searchsorted(self.period_of_hour[order], np.arange(n_periods))
        by_period = np.add.reduceat(expected[:, order], starts, axis=1)  # (P, N); every period has hours
        weighted = np.atleast_2d(self.point_weights) @ by_period  # (R, N)
        return weighted[self.rows, self.periods]


def aggregate_intervals(model, grid: ScoringGrid, expected: np.ndarray, aggregates: Aggregates,
                        level: float = LEVEL) -> list[Interval]:
    """The interval of each aggregate (see Aggregates) from the model's `expected` (P, H) counts."""
    totals = aggregates.totals(expected)
    variance = parameter_variances(model, grid, aggregates, totals)
    variance = variance + level_variance(getattr(model, "year_counts", {}))
    return [interval_from(float(t), float(v), level) for t, v in zip(totals, variance, strict=True)]
