"""The candidates compete for the champion's place on the validation year's likelihood.

With data up to year D: every candidate is fitted on the years before D and scored on every road
point x hour of D (Poisson log-likelihood per accident, expected / observed count); the champion is
the best one whose validation calibration is within CALIBRATION_RANGE (it may be the hotspot map);
then the champion (or every candidate, for a backtest) is refitted on all years up to D with the
choices made on D (penalties, tree parameters and rounds, blend weights).

Candidates:
- hotspot: the shrunk hotspot map (no learning);
- glm: the penalised Poisson GLM, its two ridge scales chosen on D by a coordinate search;
- catboost / lightgbm / xgboost: Poisson trees on the GLM's offset, tuned by Optuna on D;
- blend: simplex weights over the GLM and the boosted candidates, fitted on D, its own score
  cross-fitted over D's days. The map is left out: a weather-blind component dilutes every weather
  effect of the mix (seen once, on one demo world during development, not replicated: a blend with
  the map put fast roads' heavy-rain ratio at 0.67 of the truth's).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from pipeline.core.errors import AccidentsError
from pipeline.gold.intensity.blend import Blend, blend_weights, crossfit_loglik
from pipeline.gold.intensity.boosted import BoostedGLM, training_rows, tune
from pipeline.gold.intensity.cells import count_data, observed_counts, year_hours
from pipeline.gold.intensity.glm import PoissonGLM
from pipeline.gold.intensity.grid import ScoringGrid
from pipeline.gold.intensity.hotspot import HotspotMap
from pipeline.gold.intensity.terms import GROUPS, point_groups
from pipeline.gold.params import CANDIDATES

if TYPE_CHECKING:
    import pandas as pd

BOOSTED = ("catboost", "lightgbm", "xgboost")
CALIBRATION_RANGE = (0.8, 1.25)  # validation expected / observed of a publishable model
PENALTY_GRID = (0.1, 0.3, 1.0, 3.0, 10.0)


@dataclass(frozen=True)
class Inputs:
    """What every fit reads: the road points, the accidents (point_id, event_time, lat, lon, year), the
    weather history (None: normal weather), the département and its metric CRS."""

    points: pd.DataFrame
    accidents: pd.DataFrame
    weather: Any
    department: str
    crs: str

    def counts(self, years):
        return count_data(self.points, self.accidents, years, self.weather, self.department,
                          point_groups(self.points), len(GROUPS))

    def grid(self, years) -> ScoringGrid:
        return ScoringGrid(self.points, year_hours(years), self.weather, self.department)

    def year_counts(self, years) -> dict[int, float]:
        per_year = self.accidents["year"].value_counts()
        return {int(y): float(per_year.get(y, 0)) for y in years}

    def weather_codes(self, data) -> tuple[int, ...]:
        seen = data.cells.exposure.sum(axis=0) > 0
        return tuple(sorted({int(c) for c in data.cells.keys.loc[seen, "atm"]}))


@dataclass
class Score:
    """A candidate's validation figures."""

    name: str
    kind: str
    loglik_per_accident: float
    expected: float
    observed: int
    seconds: float
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.expected / self.observed if self.observed else float("inf")

    @property
    def calibrated(self) -> bool:
        low, high = CALIBRATION_RANGE
        return low <= self.ratio <= high


@dataclass
class Competition:
    data_end: int  # D: the validation year, the last year of the refits
    fit_years: tuple[int, ...]
    scores: dict[str, Score]
    champion: str | None  # None when no candidate is calibrated
    models: dict[str, Any]  # refitted on every year up to D
    seconds: float
    notes: list[str] = field(default_factory=list)


def loglik_per_accident(expected: np.ndarray, counts: np.ndarray) -> float:
    """Poisson log-likelihood of the grid's counts under `expected`, per accident."""
    from scipy.special import gammaln

    hits = counts > 0
    n = counts[hits].astype(float)
    ll = float((n * np.log(np.maximum(expected[hits], 1e-300)) - gammaln(n + 1)).sum() - expected.sum(dtype=np.float64))
    return ll / max(n.sum(), 1.0)


class _Validation:
    """The validation year's grid and counts, and the scoring of a fitted candidate on them."""

    def __init__(self, inputs: Inputs, year: int) -> None:
        self.grid = inputs.grid([year])
        valid = inputs.accidents[inputs.accidents["year"] == year]
        self.counts = observed_counts(inputs.points, valid, self.grid.hours)
        self.observed = int(self.counts.sum())
        if self.observed == 0:
            raise AccidentsError(f"validation year {year}: no accident on the road points")
        points, hours = np.nonzero(self.counts)
        self.accident_cells = (np.repeat(points, self.counts[points, hours].astype(int)),
                               np.repeat(hours, self.counts[points, hours].astype(int)))
        self.day = self.grid.hours.normalize()

    def score(self, model, started: float, params: dict[str, Any] | None = None) -> tuple[Score, np.ndarray]:
        expected = self.grid.expected_of(model)
        return Score(model.name, model.kind, loglik_per_accident(expected, self.counts), float(expected.sum()),
                     self.observed, time.perf_counter() - started, dict(params or {})), expected


def _fit_glm(inputs: Inputs, fit, valid: _Validation, say) -> tuple[Any, Score]:
    """Coordinate search of the (space, time) ridge scales on the validation likelihood, warm-started."""
    started = time.perf_counter()
    year_counts = inputs.year_counts(fit.years)
    tried: dict[tuple[float, float], float] = {}
    model = None
    best = (1.0, 1.0)

    def attempt(space: float, time_scale: float) -> None:
        nonlocal model, best
        if (space, time_scale) in tried:
            return
        model = PoissonGLM.fit(fit, inputs.points, space=space, time=time_scale, start=model, year_counts=year_counts)
        tried[(space, time_scale)] = loglik_per_accident(model.expected_counts(valid.grid), valid.counts)
        if tried[(space, time_scale)] > tried.get(best, -np.inf):
            best = (space, time_scale)

    attempt(*best)
    for space in PENALTY_GRID:
        attempt(space, best[1])
    for time_scale in PENALTY_GRID:
        attempt(best[0], time_scale)
    chosen = PoissonGLM.fit(fit, inputs.points, space=best[0], time=best[1], start=model, year_counts=year_counts)
    score, _ = valid.score(chosen, started, {"space_penalty": best[0], "time_penalty": best[1],
                                             "fits": len(tried)})
    say(f"[glm] ridge space={best[0]:g} time={best[1]:g} ({len(tried)} fits): validation LL/accident "
        f"{score.loglik_per_accident:.3f}")
    return chosen, score


def _fit_hotspot(inputs: Inputs, fit, valid: _Validation) -> tuple[Any, Score]:
    started = time.perf_counter()
    model = HotspotMap.fit(inputs.points, inputs.accidents, fit.years, crs=inputs.crs,
                           weather_codes=inputs.weather_codes(fit), year_counts=inputs.year_counts(fit.years))
    return (model, *valid.score(model, started, model.params)[:1])


def _fit_boosted(library: str, glm, rows, inputs: Inputs, fit, valid: _Validation, *, trials: int, seed: int,
                 threads: int, timeout: float | None) -> tuple[Any, Score]:
    started = time.perf_counter()
    tuned = tune(library, *rows, trials=trials, seed=seed, threads=threads, timeout=timeout)
    model = BoostedGLM.fit(library, glm, inputs.points, fit, tuned.params, tuned.rounds, seed=seed, threads=threads)
    return (model, *valid.score(model, started, {**tuned.params, "rounds": tuned.rounds, "trials": tuned.trials})[:1])


def _fit_boosted_all(libraries, glm, inputs: Inputs, fit, valid_data, valid: _Validation, scores: dict, *,
                     trials: int, seed: int, threads: int, timeout: float | None) -> dict[str, Any]:
    """The boosted candidates side by side, one single-threaded fit each on `threads` cores: on ~80,000
    rows a tree library's own threads wait on each other more than they help (one LightGBM fit timed
    during development on the shared machine, no yardstick beside it: 0.8 s on one thread, 1.6 s on
    two)."""
    if not libraries:
        return {}
    rows = (training_rows(glm, inputs.points, fit), training_rows(glm, inputs.points, valid_data))
    with ThreadPoolExecutor(max_workers=max(1, min(threads, len(libraries)))) as pool:
        futures = {library: pool.submit(_fit_boosted, library, glm, rows, inputs, fit, valid, trials=trials,
                                        seed=seed, threads=1, timeout=timeout) for library in libraries}
        fitted = {}
        for library, future in futures.items():
            fitted[library], scores[library] = future.result()
    return fitted


def _fit_blend(components: dict[str, Any], expected: dict[str, np.ndarray], valid: _Validation,
               fit_years) -> tuple[Any, Score]:
    from scipy.special import gammaln

    started = time.perf_counter()
    names = list(components)
    points, hours = valid.accident_cells
    at_accidents = np.column_stack([expected[n][points, hours] for n in names])
    day_codes, days = np.unique(valid.day, return_inverse=True)
    totals_by_day = np.column_stack([np.bincount(days, weights=expected[n].sum(axis=0), minlength=len(day_codes))
                                     for n in names])
    weights = blend_weights(at_accidents, totals_by_day.sum(axis=0))
    counts = valid.counts[valid.counts > 0].astype(float)
    crossfit = (crossfit_loglik(at_accidents, days[hours], totals_by_day) - float(gammaln(counts + 1).sum()))
    blend = Blend([components[n] for n in names], weights, tuple(fit_years))
    total = float(weights @ totals_by_day.sum(axis=0))
    score = Score("blend", blend.kind, crossfit / valid.observed, total, valid.observed, time.perf_counter() - started,
                  {"weights": blend.describe(), "cross_fitted": True})
    return blend, score


def compete(inputs: Inputs, data_end: int, *, candidates: Sequence[str] = CANDIDATES, trials: int = 10,
            seed: int = 42, threads: int = 1, timeout: float | None = None, refit: str = "champion",
            progress: Callable[[str], None] | None = None) -> Competition:
    """Fit on the years before `data_end`, score on `data_end`, choose, refit up to `data_end`
    (`refit`: 'champion' or 'all')."""
    say = progress or (lambda message: None)
    started = time.perf_counter()
    unknown = [c for c in candidates if c not in CANDIDATES]
    if unknown or not candidates:
        raise AccidentsError(f"candidates={','.join(candidates)}: expected some of {', '.join(CANDIDATES)}")
    years = sorted(int(y) for y in inputs.accidents["year"].unique() if y <= data_end)
    fit_years = [y for y in years if y < data_end]
    if data_end not in years or not fit_years:
        raise AccidentsError(f"data up to {data_end}: the competition needs accidents in {data_end} (validation) "
                             f"and in at least one year before it (years in the lake: {years})")
    fit, valid_data = inputs.counts(fit_years), inputs.counts([data_end])
    valid = _Validation(inputs, data_end)
    fitted, scores, expected = {}, {}, {}
    glm, glm_score = _fit_glm(inputs, fit, valid, say)
    if "glm" in candidates:
        fitted["glm"], scores["glm"] = glm, glm_score
    if "hotspot" in candidates:
        fitted["hotspot"], scores["hotspot"] = _fit_hotspot(inputs, fit, valid)
    fitted.update(_fit_boosted_all([c for c in candidates if c in BOOSTED], glm, inputs, fit, valid_data, valid,
                                   scores, trials=trials, seed=seed, threads=threads, timeout=timeout))
    for name, model in fitted.items():
        expected[name] = valid.grid.expected_of(model)
        say(f"[{name}] validation LL/accident {scores[name].loglik_per_accident:.3f}, expected/observed "
            f"{scores[name].ratio:.2f} ({scores[name].seconds:.1f} s)")
    weather_aware = {n: m for n, m in fitted.items() if n == "glm" or n in BOOSTED}  # the map is weather-blind
    if "blend" in candidates and len(weather_aware) > 1:
        fitted["blend"], scores["blend"] = _fit_blend(weather_aware, expected, valid, fit_years)
        say(f"[blend] weights {scores['blend'].params['weights']}: cross-fitted validation LL/accident "
            f"{scores['blend'].loglik_per_accident:.3f}")
    del expected
    champion = _choose(scores)
    notes = [] if champion else [f"no candidate's validation expected/observed lies within {CALIBRATION_RANGE}: "
                                 "no model can be published from this training"]
    refit_names = list(fitted) if refit == "all" else ([champion] if champion else [])
    penalties = {"space": glm.penalties["space"], "time": glm.penalties["time"]}
    models = _refit(refit_names, fitted, inputs, years, penalties, seed=seed, threads=threads)
    return Competition(data_end, tuple(fit_years), scores, champion, models, time.perf_counter() - started, notes)


def _choose(scores: dict[str, Score]) -> str | None:
    calibrated = [s for s in scores.values() if s.calibrated]
    return max(calibrated, key=lambda s: s.loglik_per_accident).name if calibrated else None


def _refit(names, fitted: dict[str, Any], inputs: Inputs, years, penalties: dict[str, float], *, seed: int,
           threads: int) -> dict[str, Any]:
    """Every named candidate refitted on `years` (all years up to D) with its validation choices (the
    GLM's ridge scales `penalties` serve the GLM and the boosted candidates' offset alike)."""
    if not names:
        return {}
    data = inputs.counts(years)
    year_counts = inputs.year_counts(years)
    refitted: dict[str, Any] = {}

    def glm():
        if "glm" not in refitted:
            refitted["glm"] = PoissonGLM.fit(data, inputs.points, space=penalties["space"], time=penalties["time"],
                                             year_counts=year_counts)
        return refitted["glm"]

    def one(name: str):
        if name in refitted:
            return refitted[name]
        source = fitted[name]
        if name == "glm":
            return glm()
        if name == "hotspot":
            model = HotspotMap.fit(inputs.points, inputs.accidents, years, crs=inputs.crs,
                                   weather_codes=inputs.weather_codes(data), year_counts=year_counts)
        elif isinstance(source, BoostedGLM):
            model = BoostedGLM.fit(name, glm(), inputs.points, data, source.params, source.rounds, seed=seed,
                                   threads=threads)
        else:  # the blend: its components refitted, its weights kept
            model = Blend([one(c.name) for c in source.components], source.weights, tuple(years), year_counts)
        refitted[name] = model
        return model

    for name in names:
        one(name)
    return {name: refitted[name] for name in names}

