"""The penalised Poisson GLM: log lambda = road-point terms + time terms of the point's road group.

Fitted by pipeline.gold.intensity.poisson on the aggregated grid of the training years; the two ridge
scales ("space" for point terms, "time" for time terms) are chosen by the caller on a validation year.
Stored as JSON (term names, levels, coefficients, covariance): nothing is pickled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from pipeline.core.errors import AccidentsError
from pipeline.gold.intensity.cells import CountData
from pipeline.gold.intensity.poisson import PoissonProblem, fit_poisson
from pipeline.gold.intensity.terms import GROUPS, PointTerms, TimeTerms

if TYPE_CHECKING:
    import pandas as pd

    from pipeline.gold.intensity.cells import TimeCells
    from pipeline.gold.intensity.grid import ScoringGrid

KIND = "Poisson GLM"


def _point_matrix(terms: PointTerms, points: pd.DataFrame) -> np.ndarray:
    return np.column_stack([np.ones(len(points)), terms.matrix(points)])


def _time_tensor(terms: TimeTerms, keys: pd.DataFrame) -> np.ndarray:
    return np.stack([terms.matrix(keys, g) for g in range(len(GROUPS))])


@dataclass
class PoissonGLM:
    point_terms: PointTerms
    time_terms: TimeTerms
    alpha: np.ndarray  # intercept then point_terms.columns
    beta: np.ndarray  # time_terms.columns
    covariance: np.ndarray  # of (alpha, beta)
    penalties: dict[str, float]  # {"space": tau, "time": tau}
    train_years: tuple[int, ...]
    year_counts: dict[int, float] = field(default_factory=dict)
    name: str = "glm"
    kind: str = KIND

    # --- fitting -------------------------------------------------------------------------------
    @classmethod
    def fit(cls, data: CountData, points: pd.DataFrame, *, space: float, time: float,
            start: PoissonGLM | None = None, year_counts: dict[int, float] | None = None) -> PoissonGLM:
        """Fit on the aggregated grid `data` of `points`; `start` (a model with the same terms)
        warm-starts Newton's method."""
        if data.accidents == 0:
            raise AccidentsError(f"Poisson GLM: no accident in the training years {list(data.years)}")
        seen = data.cells.exposure.sum(axis=0) > 0
        codes = tuple(sorted({int(c) for c in data.cells.keys.loc[seen, "atm"]}))
        point_terms = start.point_terms if start else PointTerms.for_points(points)
        time_terms = start.time_terms if start else TimeTerms(codes)
        design = _point_matrix(point_terms, points)
        tensor = _time_tensor(time_terms, data.cells.keys)
        precision = np.concatenate([[0.0], space * point_terms.penalty(), time * time_terms.penalty()])
        lower = np.concatenate([np.full(design.shape[1], -np.inf), time_terms.lower_bounds()])
        problem = PoissonProblem(design, tensor, data.group_of_point, data.weather.series_of_point,
                                 data.cells.exposure, data.n_point, data.n_group_key, precision, lower)
        theta0 = None if start is None else np.concatenate([start.alpha, start.beta])
        fitted = fit_poisson(problem, theta0)
        return cls(point_terms, time_terms, fitted.alpha, fitted.beta, fitted.covariance,
                   {"space": float(space), "time": float(time)}, tuple(data.years), dict(year_counts or {}))

    # --- scoring -------------------------------------------------------------------------------
    @property
    def weather_codes(self) -> tuple[int, ...]:
        return self.time_terms.known_codes

    def point_log_rate(self, points: pd.DataFrame) -> np.ndarray:
        return _point_matrix(self.point_terms, points) @ self.alpha

    def time_log_rate(self, cells: TimeCells) -> np.ndarray:
        """(G, K) time part of log lambda for every road group and time key."""
        return _time_tensor(self.time_terms, cells.keys) @ self.beta

    def expected_counts(self, grid: ScoringGrid, dtype=np.float64) -> np.ndarray:
        """(P, H) expected accidents of every point-hour of `grid`."""
        cells, series = grid.cells_for(self.weather_codes)
        point_rate = np.exp(self.point_log_rate(grid.points))
        time_rate = np.exp(self.time_log_rate(cells))
        out = np.empty(grid.shape, dtype=dtype)
        for group, s, members in grid.point_blocks(series):
            out[members] = np.outer(point_rate[members], time_rate[group, cells.key_of[s]])
        return out

    # --- uncertainty ---------------------------------------------------------------------------
    def aggregate_gradients(self, grid: ScoringGrid, point_weights: np.ndarray, row_of_aggregate: np.ndarray,
                            period_of_aggregate: np.ndarray, period_of_hour: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Totals and gradients of aggregates, for the delta method: aggregate a is the sum, over the hours
        h of its period (period_of_hour[h] == period_of_aggregate[a]), of sum_p w[p] * lambda[p, h] with w
        the row row_of_aggregate[a] of `point_weights` (R, P). Returns totals (A,) and d total /
        d (alpha, beta) (A, dp + dt), computed block by block of points, never point x hour."""
        cells, series = grid.cells_for(self.weather_codes)
        design = _point_matrix(self.point_terms, grid.points)
        tensor = _time_tensor(self.time_terms, cells.keys)
        point_rate = np.exp(self.point_log_rate(grid.points))
        time_rate = np.exp(self.time_log_rate(cells))
        weights = np.atleast_2d(point_weights)
        rows, periods = np.asarray(row_of_aggregate), np.asarray(period_of_aggregate)
        n_periods = int(max(period_of_hour.max(), periods.max())) + 1
        dp = design.shape[1]
        totals = np.zeros(len(rows))
        gradients = np.zeros((len(rows), dp + len(self.beta)))
        for group, s, members in grid.point_blocks(series):
            rate = time_rate[group, cells.key_of[s]]  # (H,)
            per_period = np.bincount(period_of_hour, weights=rate, minlength=n_periods)[periods]  # (A,)
            by_period_key = np.zeros((n_periods, len(cells.keys)))
            np.add.at(by_period_key, (period_of_hour, cells.key_of[s]), rate)
            weighted = weights[:, members] * point_rate[members]  # (R, m)
            mass = weighted.sum(axis=1)[rows]  # (A,)
            totals += mass * per_period
            gradients[:, :dp] += (weighted @ design[members])[rows] * per_period[:, None]
            gradients[:, dp:] += mass[:, None] * (by_period_key @ tensor[group])[periods]
        return totals, gradients

    def log_variances(self, totals: np.ndarray, gradients: np.ndarray) -> np.ndarray:
        """Variance of log(total) of each aggregate from the coefficients' covariance."""
        quad = np.einsum("...i,ij,...j->...", gradients, self.covariance, gradients)
        return quad / np.maximum(totals, 1e-300) ** 2

    # --- storage -------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "communes": list(self.point_terms.communes), "weather_codes": list(self.time_terms.weather_codes),
            "point_columns": ["intercept", *self.point_terms.columns], "time_columns": list(self.time_terms.columns),
            "alpha": self.alpha.tolist(), "beta": self.beta.tolist(), "covariance": self.covariance.tolist(),
            "penalties": self.penalties, "train_years": list(self.train_years),
            "year_counts": {str(k): v for k, v in self.year_counts.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], name: str = "glm") -> PoissonGLM:
        point_terms = PointTerms(tuple(data["communes"]))
        time_terms = TimeTerms(tuple(int(c) for c in data["weather_codes"]))
        if ["intercept", *point_terms.columns] != list(data["point_columns"]) or \
                list(time_terms.columns) != list(data["time_columns"]):
            raise AccidentsError("stored Poisson GLM: its terms differ from this release's (retrain the model)")
        return cls(point_terms, time_terms, np.asarray(data["alpha"], float), np.asarray(data["beta"], float),
                   np.asarray(data["covariance"], float), dict(data["penalties"]),
                   tuple(int(y) for y in data["train_years"]),
                   {int(k): float(v) for k, v in data.get("year_counts", {}).items()}, name=name)

