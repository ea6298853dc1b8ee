"""Honest evaluation: a temporal hold-out scored on every road point x every hour of the test year.

The model, two hotspot baselines (`pipeline.gold.baselines`) and, on demo data, the oracle (the generator's
true expected counts) are each turned into a (n_points x n_hours) matrix of expected accidents and
compared with the observed test-year accidents (snapped to road points, truncated to the hour):
ROC/PR AUC and Brier over cell-hours, expected vs observed (overall, by month, by hour of day),
hit rate and PAI at 1/5/10 % of cell-hours and at 5/10 % of road points.

Weather: by default (`atm=None`) every cell-hour is scored with the weather of its own hour at its
nearest station (silver.weather_hourly; code 1, normal, when the lake has no weather history). An
explicit `atm` (one code, or one per hour) scores a scenario. The oracle always uses the demo's true
weather.

Results go to `gold.evaluation` (long format) and `gold.calibration`; the rows of one
(model_name, sampler, test_year) are replaced in a single transaction, so re-runs never duplicate.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

from pipeline.core.errors import AccidentsError
from pipeline.core.lake import DEP, committed, ensure_tables, write_department_rows
from pipeline.gold import scoring
from pipeline.gold.scoring import ProbabilityModel
from pipeline.evaluation.skill import DailySkill, daily_skill, loglik_per_accident
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

if TYPE_CHECKING:
    import duckdb

METHODS = ("model", "baseline_history", "baseline_kde", "baseline_shrunk", "oracle_separable",
           "oracle_weather_blind", "oracle")
BASELINES = ("baseline_history", "baseline_kde", "baseline_shrunk")
CURVE_FRACTIONS = tuple(np.round(np.geomspace(0.001, 1.0, 31), 6))
CALIBRATION_TOLERANCE = 0.20  # expected/observed within +-20 % counts as calibrated


class Truth(Protocol):
    def expected_counts(self, point_lat, point_lon, hours: pd.DatetimeIndex, atm=None) -> np.ndarray: ...


@dataclass
class EvaluationSummary:
    model_name: str
    sampler: str
    test_year: int
    n_points: int
    n_hours: int
    observed_accidents: int
    metrics: dict[str, dict[str, float]]  # method -> metric -> value
    calibration: dict[str, CalibrationSummary]  # method -> summary
    curves: dict[str, np.ndarray]  # method -> hit rate at CURVE_FRACTIONS of cell-hours
    baseline_params: dict[str, Any]
    timings: dict[str, float]
    table: str = ""
    figures: list[Path] = field(default_factory=list)
    rows_written: int = 0
    notes: list[str] = field(default_factory=list)
    # method -> expected accidents per hour of the test year (summed over points): calibration by slice
    hourly_expected: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    hourly_observed: np.ndarray | None = field(default=None, repr=False)

    @property
    def n_rows(self) -> int:
        return self.n_points * self.n_hours


# --- inputs ----------------------------------------------------------------------------------
def year_hours(year: int) -> pd.DatetimeIndex:
    """Every local hour start of a calendar year (8,760 or 8,784)."""
    return pd.date_range(f"{year}-01-01", f"{year + 1}-01-01", freq="h", inclusive="left")


def load_accidents(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every located accident with its road point (silver.accident_points) and year."""
    return con.execute(
        "SELECT a.accident_id, a.event_time, a.lat, a.lon, year(a.event_time) AS year, p.point_id "
        "FROM bronze.accidents a JOIN silver.accident_points p USING (accident_id, dep) "
        f"WHERE a.event_time IS NOT NULL AND a.lat IS NOT NULL AND a.lon IS NOT NULL AND a.dep = {DEP}"
    ).df()


def observed_counts(points: pd.DataFrame, accidents: pd.DataFrame, hours: pd.DatetimeIndex) -> np.ndarray:
    """(n_points, n_hours) float32 accident counts; accidents outside `hours` are ignored."""
    counts = np.zeros((len(points), len(hours)), dtype=np.float32)
    point_index = pd.Index(points["point_id"]).get_indexer(accidents["point_id"])
    hour_index = hours.get_indexer(pd.DatetimeIndex(accidents["event_time"]).floor("h"))
    keep = (point_index >= 0) & (hour_index >= 0)
    np.add.at(counts, (point_index[keep], hour_index[keep]), 1.0)
    return counts


def baseline_accidents(accidents: pd.DataFrame, test_year: int, cutoff: pd.Timestamp) -> tuple[pd.DataFrame, list[int]]:
    """The baselines' accidents and fit years: every year before the test year, before the cutoff.

    A year partly cut off still counts as a whole year in the yearly rate (the cutoff is normally
    1 January of the test year, so this does not arise in the default protocol)."""
    before = accidents[(accidents["year"] < test_year) & (pd.to_datetime(accidents["event_time"]) < cutoff)]
    if before.empty:
        raise AccidentsError(f"test year {test_year}: no accidents before it to fit the baselines")
    return before, sorted(int(y) for y in before["year"].unique())


# --- scoring ---------------------------------------------------------------------------------
def score_grid(
    model: ProbabilityModel,
    points: pd.DataFrame,
    hours: pd.DatetimeIndex,
    history,
    *,
    atm: int | Sequence[int] = 1,
    chunk_rows: int | None = None,
) -> tuple[np.ndarray, dict[str, float]]:
    """(n_points, n_hours) float32 probabilities of `model` and {'features_s', 'scoring_s', ...}.

    Rows are built and scored `chunk_rows` at a time, each distinct feature row once
    (pipeline.gold.scoring); `history` (an AccidentHistory) is built once by the caller."""
    return scoring.score_point_hours(model, points, hours, history, atm, chunk_rows=chunk_rows, dtype=np.float32)


# --- metrics ---------------------------------------------------------------------------------
def method_metrics(
    expected: np.ndarray, counts: np.ndarray, hours: pd.DatetimeIndex, *, is_probability: bool,
    truth: np.ndarray | None = None,
) -> tuple[dict[str, float], CalibrationSummary, np.ndarray, DailySkill]:
    """All metrics of one (n_points, n_hours) matrix of expected accidents (or probabilities).

    With `truth` (the demo's true expected counts) also the expected hit rate / PAI: the share of the
    true intensity in the flagged cells, free of the test year's Poisson noise. Memory: one sorted
    copy of the matrix and row blocks (see `Ranking`), whatever the grid's size."""
    ranking = Ranking(expected)
    daily = daily_skill(expected, counts, hours, ranking, CELL_FRACTIONS, is_probability=is_probability)
    metrics = {
        "roc_auc": ranked_roc_auc(ranking, expected, counts),
        "pr_auc": ranked_pr_auc(ranking, expected, counts),
        "brier": grid_brier_score((lambda block: block) if is_probability else poisson_event_probability,
                                  expected, counts),
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
EVALUATION_DDL = (
    "CREATE TABLE IF NOT EXISTS gold.evaluation (evaluated_at TIMESTAMP, model_name VARCHAR, "
    "sampler VARCHAR, test_year INTEGER, method VARCHAR, metric VARCHAR, value DOUBLE)"
)
CALIBRATION_DDL = (
    "CREATE TABLE IF NOT EXISTS gold.calibration (evaluated_at TIMESTAMP, model_name VARCHAR, "
    "sampler VARCHAR, test_year INTEGER, method VARCHAR, grouping VARCHAR, key INTEGER, "
    "expected DOUBLE, observed DOUBLE, ratio DOUBLE)"
)


def evaluation_frames(summary: EvaluationSummary, evaluated_at: dt.datetime) -> tuple[pd.DataFrame, pd.DataFrame]:
    key = {"evaluated_at": evaluated_at, "model_name": summary.model_name, "sampler": summary.sampler,
           "test_year": summary.test_year}
    metric_rows = [
        {**key, "method": method, "metric": name, "value": float(value)}
        for method, values in summary.metrics.items()
        for name, value in values.items()
    ]
    calibration_rows = [
        {**key, "method": method, "grouping": r.grouping, "key": r.key, "expected": r.expected,
         "observed": r.observed, "ratio": r.ratio}
        for method, cal in summary.calibration.items()
        for r in cal.rows
    ]
    return pd.DataFrame(metric_rows), pd.DataFrame(calibration_rows)


def write_evaluation(con: duckdb.DuckDBPyConnection, summary: EvaluationSummary, evaluated_at: dt.datetime) -> int:
    """Replace this (model_name, sampler, test_year)'s rows of both gold tables in one transaction."""
    metric_frame, calibration_frame = evaluation_frames(summary, evaluated_at)
    params = [summary.model_name, summary.sampler, summary.test_year]
    ensure_tables(con, EVALUATION_DDL, CALIBRATION_DDL)
    key = dict(zip(("model_name", "sampler", "test_year"), params, strict=True))  # and the département

    def write() -> None:
        write_department_rows(con, "gold.evaluation", "SELECT evaluated_at, model_name, sampler, test_year, "
                              "method, metric, value FROM evaluation_rows", key=key)
        write_department_rows(con, "gold.calibration", "SELECT evaluated_at, model_name, sampler, test_year, "
                              "method, grouping, key, expected, observed, ratio FROM calibration_rows", key=key)

    committed(con, write, evaluation_rows=metric_frame, calibration_rows=calibration_frame)
    return len(metric_frame)


# --- report ----------------------------------------------------------------------------------
TABLE_COLUMNS = (
    ("roc_auc", "ROC AUC", "{:.3f}"),
    ("pr_auc", "PR AUC", "{:.4f}"),
    ("brier", "Brier", "{:.2e}"),
    ("expected_observed_ratio", "exp/obs", "{:.2f}"),
    ("expected_truth_ratio", "exp/truth", "{:.2f}"),
    ("cell_hit_rate_1pct", "hit@1%", "{:.1%}"),
    ("cell_pai_1pct", "PAI@1%", "{:.1f}"),
    ("cell_hit_rate_5pct", "hit@5%", "{:.1%}"),
    ("cell_pai_5pct", "PAI@5%", "{:.1f}"),
    ("cell_hit_rate_10pct", "hit@10%", "{:.1%}"),
    ("point_hit_rate_5pct", "pts hit@5%", "{:.1%}"),
    ("point_hit_rate_10pct", "pts hit@10%", "{:.1%}"),
    ("cell_pai_5pct_share_of_oracle", "PAI@5%/oracle", "{:.0%}"),
    ("loglik_per_accident", "LL/acc", "{:.3f}"),
    ("cell_expected_pai_5pct", "E[PAI@5%]", "{:.2f}"),
    ("cell_expected_pai_5pct_share_of_oracle", "E[PAI@5%]/oracle", "{:.0%}"),
)


def comparison_text(metrics: dict[str, dict[str, float]], best_baselines: dict[str, str]) -> str:
    """One line per skill metric: model - best baseline with its day-bootstrap 95 % interval."""
    model = metrics.get("model", {})
    lines = []
    for name, label, fmt in (("loglik_per_accident", "log-likelihood per accident", "{:+.3f}"),
                             ("cell_pai_1pct", "PAI@1%", "{:+.2f}"), ("cell_pai_5pct", "PAI@5%", "{:+.2f}"),
                             ("cell_pai_10pct", "PAI@10%", "{:+.2f}")):
        key = f"{name}_minus_best_baseline"
        if key not in model:
            continue
        lines.append(f"model - {best_baselines.get(name, 'best baseline')} on {label}: {fmt.format(model[key])} "
                     f"[{fmt.format(model[key + '_lo'])}, {fmt.format(model[key + '_hi'])}] (95 % day bootstrap; "
                     f"model ahead in {model[name + '_model_ahead_share']:.0%} of resamples)")
    return "\n".join(lines)


def format_table(metrics: dict[str, dict[str, float]]) -> str:
    """Side-by-side text table: one row per method, key metrics as columns."""
    columns = [c for c in TABLE_COLUMNS if any(c[0] in values for values in metrics.values())]
    header = ["method"] + [label for _, label, _ in columns]
    lines = [header]
    for method in [m for m in METHODS if m in metrics]:
        cells = [method]
        for name, _, fmt in columns:
            value = metrics[method].get(name)
            cells.append("-" if value is None or np.isnan(value) else fmt.format(value))
        lines.append(cells)
    widths = [max(len(row[i]) for row in lines) for i in range(len(header))]
    text = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
            for row in lines]
    text.insert(1, "-" * len(text[0]))
    return "\n".join(text)


def save_figures(summary: EvaluationSummary, figure_dir: Path) -> list[Path]:
    """calibration_month.png, calibration_hour.png and hit_rate_curve.png into `figure_dir`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure_dir = Path(figure_dir)
    figure_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{summary.model_name}_{summary.sampler}_{summary.test_year}"
    paths = []
    for grouping, label in (("month", "month"), ("hour", "hour of day")):
        fig, ax = plt.subplots(figsize=(8, 4))
        observed = None
        for method, cal in summary.calibration.items():
            rows = cal.by(grouping)
            keys = [r.key for r in rows]
            ax.plot(keys, [r.expected for r in rows], marker=".", label=f"{method} (expected)")
            observed = (keys, [r.observed for r in rows])
        if observed:
            ax.bar(*observed, color="lightgray", label="observed", zorder=0)
        ax.set_xlabel(label)
        ax.set_ylabel(f"accidents in {summary.test_year}")
        ax.set_title(f"Expected vs observed by {label} — {summary.model_name} ({summary.sampler})")
        ax.legend(fontsize=8)
        path = figure_dir / f"{stem}_calibration_{grouping}.png"
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
        paths.append(path)
    fig, ax = plt.subplots(figsize=(7, 5))
    for method, curve in summary.curves.items():
        ax.plot(np.array(CURVE_FRACTIONS) * 100, curve, label=method)
    ax.plot(np.array(CURVE_FRACTIONS) * 100, CURVE_FRACTIONS, color="gray", linestyle=":", label="random")
    ax.set_xscale("log")
    ax.set_xlabel("% of cell-hours flagged")
    ax.set_ylabel("share of accidents captured (hit rate)")
    ax.set_title(f"Hit rate, test year {summary.test_year} — {summary.model_name} ({summary.sampler})")
    ax.legend()
    path = figure_dir / f"{stem}_hit_rate_curve.png"
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    paths.append(path)
    return paths


def leakage_notes(model, cutoff: pd.Timestamp, test_year: int) -> list[str]:
    """Warn when the model's training features saw accidents the evaluation treats as unknown.

    The model's `history_cutoff` is the latest history end (asof) of its training rows: point-in-time
    rows of years before the test year end by its 1 January; reference rows end with the data period.
    """
    trained_cutoff = getattr(model, "history_cutoff", None)
    if not trained_cutoff:
        return []
    trained_cutoff = pd.Timestamp(trained_cutoff)
    if trained_cutoff <= pd.Timestamp(f"{test_year}-01-01") and trained_cutoff <= cutoff:
        return []
    return [
        f"the model's training history features use accidents up to {trained_cutoff} (after the start of "
        f"test year {test_year}); scored here with history before {cutoff}. A model trained on the "
        "reference protocol (leave-one-out history over every year, silver.features_reference) sees one "
        "accident fewer at a positive's place than at a negative's: expect a miscalibrated, leak-driven "
        "model; train on the temporal protocol (point-in-time silver.features) for an honest score."
    ]


# --- the stage -------------------------------------------------------------------------------
def evaluate(
    con: duckdb.DuckDBPyConnection,
    *,
    model: ProbabilityModel,
    model_name: str,
    sampler: str,
    test_year: int = 2024,
    train_years: Sequence[int],
    valid_year: int,
    history_cutoff: dt.datetime | str | None = None,
    history_lookback_years: int | None = None,
    truth: Truth | None = None,
    chunk_rows: int | None = None,
    atm: int | Sequence[int] | None = None,
    figure_dir: Path | None = None,
    evaluated_at: dt.datetime | None = None,
    crs: str | None = None,
    bootstrap_replicates: int = 1000,
    bootstrap_seed: int = 0,
) -> EvaluationSummary:
    """Score the test year on the full point x hour grid against the baselines (and the oracle).

    history_cutoff: caps the point-in-time history windows (default: 1 January of the test year, so every
    test-year row sees the `history_lookback_years` before it; default lookback: the model's, else the
    one silver.features was built with, else 3). Baselines are fit on the accidents of every year
    before the test year (and the cutoff), whatever the model's train years; their bandwidth,
    shrinkage and profile smoothing are chosen on `valid_year` with fits on the years before it.
    Distances use `crs`, by default the metric CRS of the connection's département.
    """
    from pipeline.gold.baselines import fit_history_baseline, fit_kde_baseline, fit_shrunk_baseline
    from pipeline.evaluation.skill import paired_bootstrap, separable_oracle, weather_blind_oracle
    from pipeline.silver.features import load_road_points, load_scoring_history, scoring_lookback_years

    if valid_year in train_years or max([*train_years, valid_year]) >= test_year:
        raise AccidentsError(
            f"train years {sorted(train_years)} and valid year {valid_year} must all precede test year {test_year}"
        )
    if crs is None:
        from pipeline.core.departments import department
        from pipeline.core.lake import department_of

        crs = department(department_of(con)).metric_crs
    cutoff = pd.Timestamp(history_cutoff if history_cutoff is not None else f"{test_year}-01-01")
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    points = load_road_points(con)
    accidents = load_accidents(con)
    hours = year_hours(test_year)
    test_accidents = accidents[accidents["year"] == test_year]
    if test_accidents.empty:
        years = sorted(accidents["year"].unique().tolist())
        raise AccidentsError(f"test year {test_year}: no accidents in the lake (years present: {years})")
    counts = observed_counts(points, test_accidents, hours)
    lookback = scoring_lookback_years(con, model, history_lookback_years)
    history = load_scoring_history(con, lookback, cap=cutoff)
    if atm is None:
        from pipeline.core.weather import load_weather_history

        atm = load_weather_history(con) or 1
    timings["load_s"] = time.perf_counter() - t0

    prob, score_timings = score_grid(model, points, hours, history, atm=atm, chunk_rows=chunk_rows)
    timings.update(score_timings)

    t0 = time.perf_counter()
    past, fit_years = baseline_accidents(accidents, test_year, cutoff)
    baselines = [fit_history_baseline(points, past, fit_years),
                 fit_kde_baseline(points, past, fit_years, valid_year, crs=crs),
                 fit_shrunk_baseline(points, past, fit_years, valid_year, crs=crs)]
    # Each method's (points x hours) matrix is made when its metrics are computed and dropped after:
    # at fine grids one matrix is hundreds of MB. Only the oracle, every method's truth, stays.
    pending = {"model": prob}
    del prob
    matrices: dict[str, tuple[Any, bool]] = {"model": (lambda h: pending.pop("model"), True)}
    matrices.update({b.name: (b.expected_counts, False) for b in baselines})
    oracle = None
    if truth is not None:
        oracle = np.asarray(truth.expected_counts(points["lat"], points["lon"], hours), dtype=np.float32)
        matrices["oracle_separable"] = (lambda h: separable_oracle(oracle, h), False)
        if hasattr(truth, "weather"):  # the demo truth's realised weather gives its climatology
            matrices["oracle_weather_blind"] = (
                lambda h: weather_blind_oracle(truth, points["lat"], points["lon"], h), False)
        matrices["oracle"] = (lambda h: oracle, False)
    timings["baselines_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    metrics, calibration, curves, daily, hourly_expected = {}, {}, {}, {}, {}
    for method, (make, is_probability) in matrices.items():
        matrix = make(hours)
        metrics[method], calibration[method], curves[method], daily[method] = method_metrics(
            matrix, counts, hours, is_probability=is_probability, truth=oracle
        )
        hourly_expected[method] = matrix.sum(axis=0, dtype=np.float64)
        del matrix
    comparison, best_baselines = paired_bootstrap(daily, "model", [b.name for b in baselines], CELL_FRACTIONS,
                                                  n_boot=bootstrap_replicates, seed=bootstrap_seed)
    metrics["model"].update(comparison)
    add_oracle_shares(metrics)
    add_truth_ratios(metrics)
    timings["metrics_s"] = time.perf_counter() - t0

    summary = EvaluationSummary(
        model_name=model_name, sampler=sampler, test_year=test_year, n_points=len(points),
        n_hours=len(hours), observed_accidents=int(counts.sum()), metrics=metrics,
        calibration=calibration, curves=curves,
        baseline_params={**{b.name: b.params for b in baselines},
                         "atm": "per-hour" if not isinstance(atm, int | np.integer) else int(atm),
                         "history_cutoff": str(cutoff), "history_lookback_years": lookback,
                         "best_baselines": best_baselines},
        timings=timings,
        hourly_expected=hourly_expected,
        hourly_observed=counts.sum(axis=0, dtype=np.float64),
    )
    summary.table = format_table(metrics)
    comparison_lines = comparison_text(metrics, best_baselines)
    if comparison_lines:
        summary.table += "\n" + comparison_lines
    summary.notes = leakage_notes(model, cutoff, test_year)
    evaluated_at = evaluated_at or dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    t0 = time.perf_counter()
    summary.rows_written = write_evaluation(con, summary, evaluated_at)
    if figure_dir is not None:
        summary.figures = save_figures(summary, Path(figure_dir))
    timings["write_s"] = time.perf_counter() - t0
    return summary
