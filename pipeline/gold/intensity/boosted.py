"""Boosted trees on top of the GLM: lambda = GLM lambda x exp(trees(road point, coarse hour)).

The trees see each road point's attributes with a coarse time key (seven hour bands, weekday /
weekend / public holiday, no rain / light / heavy rain) and learn what the GLM's additive terms miss
(interactions of place and time), with the GLM's expected count of each (point, coarse key) cell as
offset, a Poisson objective, and a monotone rain term: more rain never lowers the adjustment, and
the GLM's rain terms are themselves >= 0. Rows are the cells of the training years (points x 63 keys,
~80,000 on the demo), so a fit takes a second and Optuna can tune the trees on the validation year's
Poisson log-likelihood.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pipeline.core.weather import ATM_HEAVY_RAIN, ATM_LIGHT_RAIN
from pipeline.gold.intensity.boosters import BOOSTERS, CATEGORICAL_FEATURE, MAX_ROUNDS, BoostRows
from pipeline.gold.intensity.glm import PoissonGLM

if TYPE_CHECKING:
    from pipeline.gold.intensity.cells import CountData, TimeCells, WeatherSeries
    from pipeline.gold.intensity.grid import ScoringGrid

HOUR_BAND_STARTS = (6, 9, 12, 16, 19, 22)  # bands: 0-5, 6-8, 9-11, 12-15, 16-18, 19-21, 22-23
N_COARSE = (len(HOUR_BAND_STARTS) + 1) * 3 * 3
POINTS_PER_STEP = 2_000


def coarse_keys(keys: pd.DataFrame) -> np.ndarray:
    """Coarse key (0..N_COARSE-1) of every time key: hour band x day type x rain level."""
    band = np.digitize(keys["hour"].to_numpy(), HOUR_BAND_STARTS)
    day_type = np.where(keys["holiday"].to_numpy() == 1, 2, np.where(keys["dow"].to_numpy() >= 5, 1, 0))
    atm = keys["atm"].to_numpy()
    rain = np.where(atm == ATM_HEAVY_RAIN, 2, np.where(atm == ATM_LIGHT_RAIN, 1, 0))
    return (band * 3 + day_type) * 3 + rain


def coarse_features(coarse: np.ndarray) -> dict[str, np.ndarray]:
    return {"hour_band": coarse // 9, "day_type": (coarse // 3) % 3, "rain_level": coarse % 3}


def point_features(points: pd.DataFrame, communes: tuple[str, ...]) -> pd.DataFrame:
    """Per road point: the numeric attributes the trees split on and the commune as a category code."""
    per_km = np.maximum(points["road_km"].to_numpy(float), 1e-3)
    frame = pd.DataFrame({
        "road_km": points["road_km"].to_numpy(float),
        **{f"share_{c}": points[f"road_km_{c}"].to_numpy(float) / per_km for c in ("major", "minor", "residential", "fast")},
        **{c: points[c].to_numpy(float) for c in ("speed_limit", "intersections_100m", "road_sinuosity",
                                                  "dist_to_commune_seat_km", "lat", "lon")},
    })
    code = pd.Index(communes).get_indexer(points["com"].astype(object).where(points["com"].notna(), "").astype(str))
    frame[CATEGORICAL_FEATURE] = pd.Categorical(code, categories=range(-1, len(communes)))
    return frame


def _cell_rows(points_frame: pd.DataFrame, offset: np.ndarray, count: np.ndarray | None = None) -> BoostRows:
    """Rows of every (point, coarse key) with a positive offset; offset and count are (P, N_COARSE)."""
    point, coarse = np.nonzero(offset > 0)
    features = points_frame.iloc[point].reset_index(drop=True)
    for name, values in coarse_features(coarse).items():
        features[name] = values
    counts = np.zeros(len(point)) if count is None else count[point, coarse]
    return BoostRows(features, counts, np.log(offset[point, coarse]))


def glm_cell_offsets(glm: PoissonGLM, points: pd.DataFrame, cells: TimeCells, weather: WeatherSeries,
                     groups: np.ndarray) -> np.ndarray:
    """(P, N_COARSE) GLM expected accidents of each (point, coarse key) over the cells' period."""
    point_rate = np.exp(glm.point_log_rate(points))
    time_rate = np.exp(glm.time_log_rate(cells))  # (G, K)
    coarse = coarse_keys(cells.keys)
    per_series = np.stack([np.stack([np.bincount(coarse, weights=cells.exposure[s] * time_rate[g], minlength=N_COARSE)
                                     for s in range(cells.exposure.shape[0])]) for g in range(time_rate.shape[0])])
    return point_rate[:, None] * per_series[groups, weather.series_of_point]


def cell_counts(data: CountData, n_points: int) -> np.ndarray:
    counts = np.zeros((n_points, N_COARSE))
    np.add.at(counts, (data.accident_point, coarse_keys(data.cells.keys)[data.accident_key]), 1.0)
    return counts


def training_rows(glm: PoissonGLM, points: pd.DataFrame, data: CountData) -> BoostRows:
    """Cells of `data`'s period (training or validation years) with the GLM's offsets and counts."""
    offsets = glm_cell_offsets(glm, points, data.cells, data.weather, data.group_of_point)
    return _cell_rows(point_features(points, glm.point_terms.communes), offsets, cell_counts(data, len(points)))


def rows_loglik(rows: BoostRows, adjustment: np.ndarray | float = 0.0) -> float:
    """Poisson log-likelihood of the rows (without the count factorials) under offset + adjustment."""
    log_mu = rows.offset + adjustment
    return float((rows.count * log_mu - np.exp(log_mu)).sum())


@dataclass
class BoostedGLM:
    library: str
    glm: PoissonGLM
    model: Any  # the library's native booster
    params: dict[str, Any]
    rounds: int
    train_years: tuple[int, ...]
    year_counts: dict[int, float] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.library

    @property
    def kind(self) -> str:
        return f"{self.library} on the Poisson GLM"

    @property
    def weather_codes(self) -> tuple[int, ...]:
        return self.glm.weather_codes

    @classmethod
    def fit(cls, library: str, glm: PoissonGLM, points: pd.DataFrame, data: CountData, params: dict[str, Any],
            rounds: int, *, seed: int, threads: int) -> BoostedGLM:
        """Fixed parameters and rounds on the training years (no early stopping)."""
        model, _ = BOOSTERS[library].fit(params, training_rows(glm, points, data), None, rounds=rounds, seed=seed,
                                         threads=threads)
        return cls(library, glm, model, dict(params), int(rounds), tuple(data.years), dict(glm.year_counts))

    def adjustment(self, points: pd.DataFrame) -> np.ndarray:
        """(P, N_COARSE) log adjustment of every point and coarse key."""
        frame = point_features(points, self.glm.point_terms.communes)
        every = np.ones((len(points), N_COARSE))
        rows = _cell_rows(frame, every)
        return BOOSTERS[self.library].raw(self.model, rows.features).reshape(len(points), N_COARSE)

    def expected_counts(self, grid: ScoringGrid, dtype=np.float64) -> np.ndarray:
        out = np.array(grid.expected_of(self.glm, dtype), dtype=dtype)  # a copy: the adjustment is applied in place
        cells, series = grid.cells_for(self.weather_codes)
        coarse = coarse_keys(cells.keys)
        factor = np.exp(self.adjustment(grid.points))
        for _, s, members in grid.point_blocks(series):
            hour_keys = coarse[cells.key_of[s]]
            for start in range(0, len(members), POINTS_PER_STEP):  # bounded temporaries at fine grids
                some = members[start:start + POINTS_PER_STEP]
                out[some] *= factor[np.ix_(some, hour_keys)].astype(dtype, copy=False)
        return out

    def save_native(self, folder: Path) -> str:
        booster = BOOSTERS[self.library]
        booster.save(self.model, folder / booster.file_name)
        return booster.file_name

    def to_json(self) -> dict[str, Any]:
        return {"library": self.library, "glm": self.glm.to_json(), "params": self.params, "rounds": self.rounds,
                "train_years": list(self.train_years), "model_file": BOOSTERS[self.library].file_name}

    @classmethod
    def from_json(cls, data: dict[str, Any], folder: Path) -> BoostedGLM:
        library = data["library"]
        glm = PoissonGLM.from_json(data["glm"])
        model = BOOSTERS[library].load(folder / data["model_file"])
        return cls(library, glm, model, dict(data["params"]), int(data["rounds"]),
                   tuple(int(y) for y in data["train_years"]), dict(glm.year_counts))


@dataclass(frozen=True)
class Tuned:
    params: dict[str, Any]
    rounds: int
    validation_gain: float  # log-likelihood per validation accident over the GLM alone
    trials: int
    seconds: float


def tune(library: str, train: BoostRows, valid: BoostRows, *, trials: int, seed: int, threads: int,
         timeout: float | None = None) -> Tuned:
    """Optuna (seeded TPE) over the library's space; each trial fits on `train` with early stopping and
    is scored by the validation rows' Poisson log-likelihood."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    booster = BOOSTERS[library]
    base = rows_loglik(valid)
    accidents = max(float(valid.count.sum()), 1.0)
    started = time.perf_counter()

    def objective(trial) -> float:
        params = booster.suggest(trial)
        model, used = booster.fit(params, train, valid, rounds=MAX_ROUNDS, seed=seed, threads=threads)
        trial.set_user_attr("rounds", used)
        return (rows_loglik(valid, booster.raw(model, valid.features)) - base) / accidents

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective, n_trials=trials, timeout=timeout)
    best = study.best_trial
    return Tuned(dict(best.params), int(best.user_attrs["rounds"]), float(best.value), len(study.trials),
                 time.perf_counter() - started)

