"""Honest evaluation: a backtest of the shipped training on every road point x hour of a held-out year.

The test year T is predicted as the product would have predicted it: with the data published by then
(years up to D = T - 1 - lag, the publication lag), the candidates compete on D and are refitted on
every year up to D (pipeline.gold.intensity.competition), exactly as `accidents train` does on the
newest year. Each candidate, the competition's champion ("model"), hotspot baselines fitted on the
same years (counts, KDE, and the shrunk map, which is also the hotspot candidate) and, on demo data,
the oracles (the generator's true expected counts) are turned into (n_points x n_hours) matrices of
expected accidents and compared with the observed test-year accidents: Poisson log-likelihood per
accident, ROC/PR AUC and Brier, expected vs observed, hit rate and PAI at 1/5/10 % of cell-hours and
5/10 % of road points, with a day-bootstrap interval of model - best baseline; the champion's 90 %
daily intervals are checked against the observed days (and the truth's); on the demo, rain and day
ratios against the truth (pipeline.evaluation.effects).

Weather: by default (`atm=None`) every cell-hour is scored with the weather of its own hour at its
nearest station (silver.weather_hourly; normal when the lake has no weather history); an explicit
`atm` scores a scenario. The oracle always uses the demo's true weather.

Results go to `gold.evaluation` (long format) and `gold.calibration`; the rows of one (model_name,
test_year) are replaced in a single transaction, so re-runs never duplicate.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

from pipeline.core.errors import AccidentsError
from pipeline.core.lake import committed, ensure_tables, write_department_rows
from pipeline.evaluation.effects import day_ratios, rain_ratios
from pipeline.evaluation.metrics import (
    CELL_FRACTIONS,
    POINT_FRACTIONS,
    CalibrationSummary,
    Ranking,
    calibration_summary,
    fraction_label,
    grid_brier_score,
    n_flagged,
    poisson_event_probability,
    ranked_hit_rate_curve,
    ranked_pr_auc,
    ranked_roc_auc,
    spatial_hit_rate,
)
from pipeline.evaluation.report import (
    BASELINES,
    CANDIDATE_PREFIX,
    CURVE_FRACTIONS,
    comparison_text,
    format_table,
    save_figures,
)
from pipeline.evaluation.skill import (
    DailySkill,
    daily_skill,
    loglik_per_accident,
    paired_bootstrap,
    separable_oracle,
    weather_blind_oracle,
)
from pipeline.evaluation.summary import EvaluationSummary
from pipeline.gold.baselines import fit_history_baseline, fit_kde_baseline
from pipeline.gold.intensity.cells import observed_counts, year_hours
from pipeline.gold.intensity.competition import compete
from pipeline.gold.intensity.grid import ScoringGrid
from pipeline.gold.intensity.uncertainty import LEVEL, Aggregates, aggregate_intervals
from pipeline.gold.training import load_inputs

if TYPE_CHECKING:
    import duckdb

    from pipeline.gold.intensity.competition import Competition, Inputs

CALIBRATION_TOLERANCE = 0.20  # expected/observed within +-20 % counts as calibrated


class Truth(Protocol):
    def expected_counts(self, point_lat, point_lon, hours: pd.DatetimeIndex, atm=None) -> np.ndarray: ...


# --- inputs ----------------------------------------------------------------------------------
def baseline_accidents(accidents: pd.DataFrame, data_end: int) -> tuple[pd.DataFrame, list[int]]:
    """The baselines' accidents and fit years: every year up to `data_end`."""
    before = accidents[accidents["year"] <= data_end]
    if before.empty:
        raise AccidentsError(f"no accidents up to {data_end} to fit the baselines")
    return before, sorted(int(y) for y in before["year"].unique())


# --- metrics ---------------------------------------------------------------------------------
def method_metrics(
    expected: np.ndarray, counts: np.ndarray, hours: pd.DatetimeIndex, *, truth: np.ndarray | None = None,
) -> tuple[dict[str, float], CalibrationSummary, np.ndarray, DailySkill]:
    """All metrics of one (n_points, n_hours) matrix of expected accidents.

    With `truth` (the demo's true expected counts) also the expected hit rate / PAI: the share of the
    true intensity in the flagged cells, free of the test year's Poisson noise. Memory: one sorted
    copy of the matrix and row blocks (see `Ranking`), whatever the grid's size."""
    ranking = Ranking(expected)
    daily = daily_skill(expected, counts, hours, ranking, CELL_FRACTIONS)
    metrics = {
        "roc_auc": ranked_roc_auc(ranking, expected, counts),
        "pr_auc": ranked_pr_auc(ranking, expected, counts),
        "brier": grid_brier_score(poisson_event_probability, expected, counts),
    }
    hits = ranked_hit_rate_curve(ranking, expected, counts, CELL_FRACTIONS)
    for fraction, hit in zip(CELL_FRACTIONS, hits, strict=True):
        share = n_flagged(expected.size, fraction) / expected.size
        metrics[f"cell_hit_rate_{fraction_label(fraction)}"] = float(hit)
        metrics[f"cell_pai_{fraction_label(fraction)}"] = float(hit / share)
    metrics["loglik_per_accident"] = loglik_per_accident(daily)
    if truth is not None:
        expected_hits = ranked_hit_rate_curve(ranking, expected, truth, CELL_FRACTIONS, sparse=False)
        for fraction, hit in zip(CELL_FRACTIONS, expected_hits, strict=True):
            metrics[f"cell_expected_hit_rate_{fraction_label(fraction)}"] = float(hit)
            metrics[f"cell_expected_pai_{fraction_label(fraction)}"] = float(hit) / (
                n_flagged(expected.size, fraction) / expected.size)
    curve = ranked_hit_rate_curve(ranking, expected, counts, CURVE_FRACTIONS)
    del ranking
    point_scores = expected.sum(axis=1, dtype=np.float64)
    point_counts = counts.sum(axis=1, dtype=np.float64)
    metrics.update({f"point_{k}": v for k, v in spatial_hit_rate(point_scores, point_counts, POINT_FRACTIONS).items()})
    calibration = calibration_summary(
        expected.sum(axis=0, dtype=np.float64),
        counts.sum(axis=0, dtype=np.float64),
        {"month": hours.month.to_numpy(), "hour": hours.hour.to_numpy()},
    )
    metrics["expected_accidents"] = calibration.expected
    metrics["observed_accidents"] = calibration.observed
    metrics["expected_observed_ratio"] = calibration.ratio
    metrics["calibrated_within_20pct"] = float(abs(calibration.ratio - 1.0) <= CALIBRATION_TOLERANCE)
    return metrics, calibration, curve, daily


def add_oracle_shares(metrics: dict[str, dict[str, float]]) -> None:
    """PAI of each method as a share of the oracle's PAI (the best ranking the data allows)."""
    oracle = metrics.get("oracle")
    if not oracle:
        return
    for method, values in metrics.items():
        if method == "oracle":
            continue
        for name in [k for k in values if "_pai_" in k and k in oracle and "_minus_" not in k
                     and not k.endswith("_share_of_oracle")]:
            best = oracle[name]
            values[f"{name}_share_of_oracle"] = values[name] / best if best else float("nan")
        if "loglik_per_accident" in values:
            values["loglik_per_accident_minus_oracle"] = values["loglik_per_accident"] - oracle["loglik_per_accident"]


def add_truth_ratios(metrics: dict[str, dict[str, float]]) -> None:
    """Expected accidents of each method vs the truth's expected count (demo): the observed count is
    one Poisson draw (sd ~ sqrt(n)), so expected/observed alone cannot tell calibration from luck."""
    oracle = metrics.get("oracle")
    if not oracle:
        return
    truth = oracle["expected_accidents"]
    for values in metrics.values():
        values["truth_expected_accidents"] = truth
        values["expected_truth_ratio"] = values["expected_accidents"] / truth if truth else float("nan")


# --- gold tables -----------------------------------------------------------------------------
KEY_COLUMNS = ("evaluated_at", "model_name", "champion", "data_end", "lag", "test_year")
EVALUATION_DDL = (
    "CREATE TABLE IF NOT EXISTS gold.evaluation (evaluated_at TIMESTAMP, model_name VARCHAR, champion VARCHAR, "
    "data_end INTEGER, lag INTEGER, test_year INTEGER, method VARCHAR, metric VARCHAR, value DOUBLE)"
)
CALIBRATION_DDL = (
    "CREATE TABLE IF NOT EXISTS gold.calibration (evaluated_at TIMESTAMP, model_name VARCHAR, champion VARCHAR, "
    "data_end INTEGER, lag INTEGER, test_year INTEGER, method VARCHAR, grouping VARCHAR, key INTEGER, "
    "expected DOUBLE, observed DOUBLE, ratio DOUBLE)"
)


def evaluation_frames(summary: EvaluationSummary, evaluated_at: dt.datetime) -> tuple[pd.DataFrame, pd.DataFrame]:
    key = {"evaluated_at": evaluated_at, "model_name": summary.model_name, "champion": summary.champion,
           "data_end": summary.data_end, "lag": summary.lag, "test_year": summary.test_year}
    metric_rows = [{**key, "method": method, "metric": name, "value": float(value)}
                   for method, values in summary.metrics.items() for name, value in values.items()]
    calibration_rows = [{**key, "method": method, "grouping": r.grouping, "key": r.key, "expected": r.expected,
                         "observed": r.observed, "ratio": r.ratio}
                        for method, cal in summary.calibration.items() for r in cal.rows]
    return pd.DataFrame(metric_rows), pd.DataFrame(calibration_rows)


def write_evaluation(con: duckdb.DuckDBPyConnection, summary: EvaluationSummary, evaluated_at: dt.datetime) -> int:
    """Replace this (model_name, test_year)'s rows of both gold tables in one transaction."""
    metric_frame, calibration_frame = evaluation_frames(summary, evaluated_at)
    ensure_tables(con, EVALUATION_DDL, CALIBRATION_DDL)
    key = {"model_name": summary.model_name, "test_year": summary.test_year}  # and the département
    columns = ", ".join(KEY_COLUMNS)

    def write() -> None:
        write_department_rows(con, "gold.evaluation", f"SELECT {columns}, method, metric, value FROM evaluation_rows",
                              key=key)
        write_department_rows(con, "gold.calibration", f"SELECT {columns}, method, grouping, key, expected, observed, "
                              "ratio FROM calibration_rows", key=key)

    committed(con, write, evaluation_rows=metric_frame, calibration_rows=calibration_frame)
    return len(metric_frame)


# --- the stage -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Backtest:
    """What the stage is asked: the held-out year, the lag, the competition's settings."""

    test_year: int
    lag: int
    candidates: Sequence[str]
    trials: int
    seed: int = 42
    threads: int = 1
    atm: int | None = None
    bootstrap_replicates: int = 1000
    bootstrap_seed: int = 0

    @property
    def data_end(self) -> int:
        return self.test_year - 1 - self.lag


def _baselines(inputs: Inputs, data_end: int) -> list:
    past, fit_years = baseline_accidents(inputs.accidents, data_end)
    valid_year = fit_years[-1] if len(fit_years) > 1 else fit_years[0]
    return [fit_history_baseline(inputs.points, past, fit_years),
            fit_kde_baseline(inputs.points, past, fit_years, valid_year, crs=inputs.crs)]


def _matrices(inputs: Inputs, competition: Competition, grid, truth) -> dict[str, Any]:
    """method -> a function of nothing giving its (points x hours) matrix: made when its metrics are
    computed and dropped after (at fine grids one matrix is hundreds of MB)."""
    makers: dict[str, Any] = {}
    if competition.champion:
        makers["model"] = lambda: grid.expected_of(competition.models[competition.champion], np.float32)
    for name, model in competition.models.items():
        makers[f"{CANDIDATE_PREFIX}{name}"] = (lambda m=model: grid.expected_of(m, np.float32))
    for baseline in _baselines(inputs, competition.data_end):
        makers[baseline.name] = (lambda b=baseline: b.expected_counts(grid.hours))
    if "hotspot" in competition.models:
        makers["baseline_shrunk"] = makers[f"{CANDIDATE_PREFIX}hotspot"]
    if truth is not None:
        oracle = np.asarray(truth.expected_counts(inputs.points["lat"], inputs.points["lon"], grid.hours),
                            dtype=np.float32)
        makers["oracle_separable"] = lambda: separable_oracle(oracle, grid.hours)
        if hasattr(truth, "weather"):  # the demo truth's realised weather gives its climatology
            makers["oracle_weather_blind"] = lambda: weather_blind_oracle(truth, inputs.points["lat"],
                                                                        inputs.points["lon"], grid.hours)
        makers["oracle"] = lambda: oracle
    return makers


def _interval_coverage(model, grid, counts: np.ndarray, truth_matrix: np.ndarray | None) -> dict[str, float]:
    """Share of the test year's days whose observed count (and, on the demo, the truth's expected count)
    lies in the model's 90 % daily interval."""
    days = pd.factorize(grid.hours.normalize())[0]
    n_days = int(days.max()) + 1
    expected = grid.expected_of(model)
    every_day = Aggregates(np.ones((1, len(grid.points))), np.zeros(n_days, dtype=int), np.arange(n_days), days)
    intervals = aggregate_intervals(model, grid, expected, every_day)
    observed = np.bincount(days, weights=counts.sum(axis=0, dtype=np.float64), minlength=n_days)
    out = {"interval_level": LEVEL,
           "count_interval_coverage": float(np.mean([i.count_low <= o <= i.count_high
                                                     for i, o in zip(intervals, observed, strict=True)]))}
    if truth_matrix is not None:
        true_days = np.bincount(days, weights=truth_matrix.sum(axis=0, dtype=np.float64), minlength=n_days)
        out["expected_interval_coverage_truth"] = float(np.mean([i.low <= t <= i.high
                                                                 for i, t in zip(intervals, true_days, strict=True)]))
    return out


def _effects(competition: Competition, inputs: Inputs, truth, grid) -> dict[str, dict]:
    """Rain and day ratios of the champion and each candidate (pipeline.evaluation.effects)."""
    named = {f"{CANDIDATE_PREFIX}{n}": m for n, m in competition.models.items()}
    if competition.champion:
        named["model"] = competition.models[competition.champion]
    out = rain_ratios(named, truth, inputs.points, int(grid.hours[0].year), inputs.department)
    if truth is not None:
        normal_truth = truth.expected_counts(inputs.points["lat"], inputs.points["lon"], grid.hours, atm=1)
        normal = ScoringGrid(inputs.points, grid.hours, 1, inputs.department)
        for method, model in named.items():
            out[method].update(day_ratios(normal.expected_of(model), normal_truth, grid.hours, inputs.department))
    return out


def evaluate(con: duckdb.DuckDBPyConnection, backtest: Backtest, *, truth: Truth | None = None,
             figure_dir: Path | None = None, evaluated_at: dt.datetime | None = None, progress=None) -> EvaluationSummary:
    """The backtest of `backtest.test_year` (module docstring)."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    inputs = load_inputs(con)
    test = inputs.accidents[inputs.accidents["year"] == backtest.test_year]
    if test.empty:
        years = sorted(inputs.accidents["year"].unique().tolist())
        raise AccidentsError(f"test year {backtest.test_year}: no accidents in the lake (years present: {years})")
    competition = compete(inputs, backtest.data_end, candidates=backtest.candidates, trials=backtest.trials,
                          seed=backtest.seed, threads=backtest.threads, refit="all", progress=progress)
    timings["competition_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    weather = backtest.atm if backtest.atm is not None else inputs.weather
    grid = ScoringGrid(inputs.points, year_hours([backtest.test_year]), weather, inputs.department)
    counts = observed_counts(inputs.points, test, grid.hours)
    makers = _matrices(inputs, competition, grid, truth)
    metrics, calibration, curves, daily, hourly = {}, {}, {}, {}, {}
    oracle = makers["oracle"]() if "oracle" in makers else None
    for method, make in makers.items():
        matrix = make()
        metrics[method], calibration[method], curves[method], daily[method] = method_metrics(
            matrix, counts, grid.hours, truth=oracle)
        hourly[method] = matrix.sum(axis=0, dtype=np.float64)
        del matrix
    timings["metrics_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    best_baselines = _skill_against_baselines(metrics, daily, backtest)
    if competition.champion:
        metrics["model"].update(_interval_coverage(competition.models[competition.champion], grid, counts, oracle))
    for method, values in _effects(competition, inputs, truth, grid).items():
        metrics[method].update(values)
    timings["effects_s"] = time.perf_counter() - t0
    summary = EvaluationSummary(
        model_name=f"backtest-lag{backtest.lag}", champion=competition.champion,
        champion_kind=competition.scores[competition.champion].kind if competition.champion else None,
        test_year=backtest.test_year, data_end=backtest.data_end, lag=backtest.lag, n_points=len(inputs.points),
        n_hours=len(grid.hours), observed_accidents=int(counts.sum()), metrics=metrics, calibration=calibration,
        curves=curves, baseline_params={"best_baselines": best_baselines, "fit_years": list(competition.fit_years),
                                        "atm": "per-hour" if backtest.atm is None else int(backtest.atm)},
        timings=timings, validation={n: {"loglik_per_accident": s.loglik_per_accident, "expected_observed": s.ratio}
                                     for n, s in competition.scores.items()},
        notes=list(competition.notes), hourly_expected=hourly, hourly_observed=counts.sum(axis=0, dtype=np.float64))
    return _finish(con, summary, figure_dir, evaluated_at)


def _skill_against_baselines(metrics, daily, backtest: Backtest) -> dict[str, str]:
    comparison, best_baselines = paired_bootstrap(daily, "model", list(BASELINES), CELL_FRACTIONS,
                                                  n_boot=backtest.bootstrap_replicates, seed=backtest.bootstrap_seed)
    if "model" in metrics:
        metrics["model"].update(comparison)
    add_oracle_shares(metrics)
    add_truth_ratios(metrics)
    return best_baselines


def _finish(con, summary: EvaluationSummary, figure_dir: Path | None, evaluated_at: dt.datetime | None) -> EvaluationSummary:
    summary.table = format_table(summary.metrics)
    comparison_lines = comparison_text(summary.metrics, summary.baseline_params["best_baselines"])
    if comparison_lines:
        summary.table += "\n" + comparison_lines
    evaluated_at = evaluated_at or dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    t0 = time.perf_counter()
    summary.rows_written = write_evaluation(con, summary, evaluated_at)
    if figure_dir is not None:
        summary.figures = save_figures(summary, Path(figure_dir))
    summary.timings["write_s"] = time.perf_counter() - t0
    return summary
