"""Replicated evaluation on the demo: several generator seeds x rolling test years, one table.

One test year of one generated world is a single Poisson draw: a lead of one PAI point is within its
noise. Each replication generates the demo world of a seed, builds its silver layer once, and for
each test year Y trains on the years before Y - 1, tunes and recalibrates on Y - 1, and evaluates
every road point x hour of Y against the fair baselines and the truth's references (see
pipeline.evaluation.evaluation). The model is scored with the demo's realised hourly weather (what a
past-year evaluation would know). Besides the evaluation metrics it records:
- effect recovery: the model's light rain / heavy rain / fog / overcast ratios (expected accidents
  under that weather / under normal weather, same hours) against the truth's, per month, on two
  days of each month; night and public-holiday ratios from the full-year hourly sums;
- calibration by slice (weekday, hour band, month, true weather) against the truth's expected count.
The aggregate table gives, per method, the mean and a 95 % t-interval over the replications.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.core.errors import AccidentsError

HOUR_BANDS = ((0, 6, "00-05"), (6, 10, "06-09"), (10, 16, "10-15"), (16, 20, "16-19"), (20, 24, "20-23"))
WEATHER_EFFECTS = ((2, "light_rain"), (3, "heavy_rain"), (5, "fog"), (8, "overcast"))
NIGHT_HOURS = (22, 23, 0, 1, 2, 3, 4, 5)  # the demo generator's night
DEMO_DEPARTMENT = "988"  # the demo world is New Caledonia
EFFECT_DAYS = (8, 20)  # days of each month scored under every weather scenario
SUMMARY_METRICS = (
    ("loglik_per_accident", "LL/acc"),
    ("loglik_per_accident_minus_oracle", "LL/acc - oracle"),
    ("cell_pai_5pct", "PAI@5%"),
    ("cell_expected_pai_5pct", "E[PAI@5%]"),
    ("cell_expected_pai_5pct_share_of_oracle", "E[PAI@5%]/oracle"),
    ("expected_truth_ratio", "exp/truth"),
    ("expected_observed_ratio", "exp/obs"),
)


@dataclass
class ReplicationConfig:
    work_dir: Path
    seeds: Sequence[int] = (1, 2, 3, 4, 5)
    test_years: Sequence[int] = (2022, 2023, 2024)
    trials: int = 20
    algorithms: Sequence[str] = ("catboost", "lightgbm", "xgboost")
    scale: float = 1.0
    sampler: str = "uniform"
    threads: int = 2
    bootstrap_replicates: int = 1000

    def __post_init__(self) -> None:
        from pipeline.sources.select import DEMO_YEARS

        if not self.seeds:
            raise AccidentsError("replication: give at least one seed")
        bad = [y for y in self.test_years if y - 2 < DEMO_YEARS[0] + 1 or y > DEMO_YEARS[-1]]
        if bad or not self.test_years:
            raise AccidentsError(f"replication: test year {bad[0] if bad else None!r} needs a training year with "
                                 f"history and a validation year before it within {DEMO_YEARS[0]}-{DEMO_YEARS[-1]}")


@dataclass
class ReplicationResult:
    runs: pd.DataFrame  # seed, test_year, method, metric, value
    effects: pd.DataFrame  # seed, test_year, effect, month, learned, truth
    slices: pd.DataFrame  # seed, test_year, method, grouping, key, expected, truth, observed
    seconds: float
    timings: list[dict] = field(default_factory=list)

    def table(self) -> str:
        return format_replication(self)


# --- one replication ------------------------------------------------------------------------------
def slice_calibration(summary, true_atm: np.ndarray, hours: pd.DatetimeIndex) -> pd.DataFrame:
    """Expected accidents per slice of every method vs the truth's (oracle) and the observed."""
    band = np.empty(len(hours), dtype=object)
    for start, stop, label in HOUR_BANDS:
        band[(hours.hour >= start) & (hours.hour < stop)] = label
    groupings = {"weekday": hours.dayofweek.astype(str), "hour_band": band, "month": hours.month.astype(str),
                 "weather": np.asarray(true_atm).astype(str)}
    truth = summary.hourly_expected["oracle"]
    frames = []
    for method, hourly in summary.hourly_expected.items():
        if method == "oracle":
            continue
        for grouping, keys in groupings.items():
            frame = pd.DataFrame({"key": keys, "expected": hourly, "truth": truth,
                                  "observed": summary.hourly_observed}).groupby("key", as_index=False).sum()
            frames.append(frame.assign(method=method, grouping=grouping))
    return pd.concat(frames, ignore_index=True)


def _mean_ratio(hourly: np.ndarray, numerator: np.ndarray, denominator: np.ndarray) -> float:
    return float(hourly[numerator].mean() / hourly[denominator].mean())


def calendar_effects(summary, hours: pd.DatetimeIndex, dep: str = DEMO_DEPARTMENT) -> pd.DataFrame:
    """Night (per month) and public-holiday (year) ratios of mean hourly expected accidents."""
    from pipeline.core.calendar import is_public_holiday

    model, truth = summary.hourly_expected["model"], summary.hourly_expected["oracle"]
    night = np.isin(hours.hour, NIGHT_HOURS)
    rows = []
    for month in range(1, 13):
        in_month = hours.month == month
        rows.append({"effect": "night", "month": month,
                     "learned": _mean_ratio(model, night & in_month, ~night & in_month),
                     "truth": _mean_ratio(truth, night & in_month, ~night & in_month)})
    holiday = np.asarray(is_public_holiday(hours, dep), dtype=bool)
    if holiday.any():
        rows.append({"effect": "public_holiday", "month": 0, "learned": _mean_ratio(model, holiday, ~holiday),
                     "truth": _mean_ratio(truth, holiday, ~holiday)})
    return pd.DataFrame(rows)


def effect_hours(year: int) -> pd.DatetimeIndex:
    """The hours the replication scores every weather scenario on: all hours of EFFECT_DAYS of each month."""
    days = [pd.Timestamp(year, month, day) for month in range(1, 13) for day in EFFECT_DAYS]
    return pd.DatetimeIndex(np.concatenate([pd.date_range(d, periods=24, freq="h").to_numpy() for d in days]))


def weather_effects(con, model, truth, year: int, *, hours: pd.DatetimeIndex | None = None,
                    effects: Sequence[tuple[int, str]] = WEATHER_EFFECTS) -> pd.DataFrame:
    """Model vs truth, per month: expected accidents over every road point x `hours` (default
    `effect_hours(year)`) under each weather code of `effects` / under normal weather (code 1), the
    history windows being those evaluation uses (capped at 1 January of `year`). Rows: effect, month,
    learned, truth. The one weather-effect measurement (the replication's and
    bench/bench_weather_effect.py's)."""
    from pipeline.evaluation.evaluation import score_grid
    from pipeline.silver.features import load_road_points, load_scoring_history, scoring_lookback_years

    points = load_road_points(con)
    hours = effect_hours(year) if hours is None else hours
    history = load_scoring_history(con, scoring_lookback_years(con, model), cap=pd.Timestamp(f"{year}-01-01"))
    month = hours.month.to_numpy()

    def monthly(matrix: np.ndarray) -> np.ndarray:
        return np.bincount(month - 1, weights=matrix.sum(axis=0, dtype=np.float64), minlength=12)

    base_model = monthly(score_grid(model, points, hours, history, atm=1)[0])
    base_truth = monthly(truth.expected_counts(points["lat"], points["lon"], hours, atm=1))
    rows = []
    for code, name in effects:
        learned = monthly(score_grid(model, points, hours, history, atm=code)[0]) / base_model
        true = monthly(truth.expected_counts(points["lat"], points["lon"], hours, atm=code)) / base_truth
        rows += [{"effect": name, "month": m + 1, "learned": learned[m], "truth": true[m]} for m in range(12)]
    return pd.DataFrame(rows)


def prepare_seed(config: ReplicationConfig, seed: int):
    """The demo world of `seed` through bronze, roads, weather and silver.features -> (settings, con, truth)."""
    from pipeline.bronze.ingest import ingest_years
    from pipeline.bronze.roads import build_roads
    from pipeline.core.lake import connect
    from pipeline.core.settings import Settings
    from pipeline.silver.features import build_features
    from pipeline.silver.params import FeatureParams
    from pipeline.silver.weather import apply_weather_choice
    from pipeline.sources.select import DEMO_YEARS, DemoSource

    settings = Settings(data_dir=Path(config.work_dir) / f"seed{seed}")
    source = DemoSource(settings, seed=seed, scale=config.scale)
    department = settings.department.code
    con = connect(settings)
    ingest_years(con, source.files_for_years(list(DEMO_YEARS)), source=source.label)
    build_roads(con, roads_file=source.roads_file(), department=department)
    apply_weather_choice(con, "demo", settings)  # negatives take the weather of their own hour
    build_features(con, FeatureParams(samplers=(config.sampler,), seed=seed), department=department)
    return settings, con, source.truth()


def replicate_one(con, settings, truth, config: ReplicationConfig, seed: int, test_year: int) -> dict:
    """Train (rolling years), evaluate and measure effects for one (seed, test year)."""
    from pipeline.sources.select import DEMO_YEARS
    from pipeline.gold.datasets import build_datasets
    from pipeline.evaluation.evaluation import evaluate, year_hours
    from pipeline.gold.training import train_models

    valid_year = test_year - 1
    train_years = [y for y in DEMO_YEARS if y < valid_year]
    t0 = time.perf_counter()
    build_datasets(con, sampler=config.sampler, train_years=train_years, valid_years=[valid_year],
                   test_years=[test_year], seed=seed)
    trained = train_models(
        con, protocol="temporal", sampler=config.sampler, algorithms=config.algorithms, trials=config.trials,
        seed=seed, tracking_uri=f"sqlite:///{settings.data_dir / 'mlflow.db'}", experiment=f"replicate-seed{seed}",
        registered_model=f"replicate-{test_year}", progress=False, set_champion=False, threads=config.threads)
    model = trained.models[trained.best_algorithm]
    t1 = time.perf_counter()
    hours = year_hours(test_year)
    true_atm = truth.true_atm(hours)
    summary = evaluate(con, model=model, model_name=f"replicate-{model.algorithm}", sampler=config.sampler,
                       test_year=test_year, train_years=model.train_years, valid_year=valid_year, truth=truth,
                       atm=true_atm, bootstrap_replicates=config.bootstrap_replicates, bootstrap_seed=seed)
    t2 = time.perf_counter()
    effects = pd.concat([weather_effects(con, model, truth, test_year), calendar_effects(summary, hours)],
                        ignore_index=True)
    t3 = time.perf_counter()
    key = {"seed": seed, "test_year": test_year}
    runs = pd.DataFrame([{**key, "method": method, "metric": name, "value": value}
                         for method, values in summary.metrics.items() for name, value in values.items()])
    runs = pd.concat([runs, pd.DataFrame([{**key, "method": "model", "metric": "recalibration_odds_scale",
                                           "value": model.odds_scale}])], ignore_index=True)
    return {"runs": runs, "effects": effects.assign(**key),
            "slices": slice_calibration(summary, true_atm, hours).assign(**key),
            "timing": {**key, "algorithm": model.algorithm, "train_s": t1 - t0, "evaluate_s": t2 - t1,
                       "effects_s": t3 - t2, **{f"evaluate_{k}": v for k, v in summary.timings.items()}}}


def run_replication(config: ReplicationConfig, progress: Callable[[str], None] | None = None) -> ReplicationResult:
    started = time.perf_counter()
    runs, effects, slices, timings = [], [], [], []
    for seed in config.seeds:
        t0 = time.perf_counter()
        settings, con, truth = prepare_seed(config, seed)
        try:
            if progress:
                progress(f"seed {seed}: demo world and silver layer in {time.perf_counter() - t0:.0f} s")
            for test_year in config.test_years:
                one = replicate_one(con, settings, truth, config, seed, test_year)
                runs.append(one["runs"])
                effects.append(one["effects"])
                slices.append(one["slices"])
                timings.append(one["timing"])
                if progress:
                    t = one["timing"]
                    progress(f"seed {seed} test {test_year}: {t['algorithm']}, train {t['train_s']:.0f} s, "
                             f"evaluate {t['evaluate_s']:.0f} s, effects {t['effects_s']:.0f} s")
        finally:
            con.close()
    return ReplicationResult(pd.concat(runs, ignore_index=True), pd.concat(effects, ignore_index=True),
                             pd.concat(slices, ignore_index=True), time.perf_counter() - started, timings)


# --- the table ------------------------------------------------------------------------------------
def mean_interval(values) -> tuple[float, float, float]:
    """(mean, low, high): a 95 % t-interval of the mean over replications (no interval for one)."""
    from scipy.stats import t

    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return float("nan"), float("nan"), float("nan")
    mean = float(v.mean())
    if v.size == 1:
        return mean, float("nan"), float("nan")
    half = float(t.ppf(0.975, v.size - 1) * v.std(ddof=1) / np.sqrt(v.size))
    return mean, mean - half, mean + half


def _cell(values, fmt: str) -> str:
    mean, lo, hi = mean_interval(values)
    if np.isnan(mean):
        return "-"
    return fmt.format(mean) + ("" if np.isnan(lo) else f" [{fmt.format(lo)}, {fmt.format(hi)}]")


def format_replication(result: ReplicationResult) -> str:
    from pipeline.evaluation.evaluation import BASELINES, METHODS

    runs = result.runs
    wide = runs.pivot_table(index=["seed", "test_year", "method"], columns="metric", values="value")
    n = runs[["seed", "test_year"]].drop_duplicates().shape[0]
    lines = [f"{n} replications (seeds {sorted(runs['seed'].unique().tolist())} x test years "
             f"{sorted(runs['test_year'].unique().tolist())}); mean [95 % interval of the mean]", ""]
    header = ["method"] + [label for _, label in SUMMARY_METRICS]
    rows = [header]
    for method in [m for m in METHODS if m in wide.index.get_level_values("method")]:
        part = wide.xs(method, level="method")
        rows.append([method] + [_cell(part[name], "{:.3f}") if name in part else "-" for name, _ in SUMMARY_METRICS])
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]

    model = wide.xs("model", level="method")
    baselines = [b for b in BASELINES if b in wide.index.get_level_values("method")]

    def best_baseline(metric: str) -> pd.Series:
        return pd.concat([wide.xs(b, level="method")[metric] for b in baselines], axis=1).max(axis=1)

    lines.append("")
    for metric, label, better in (("loglik_per_accident", "log-likelihood per accident", "ahead"),
                                  ("cell_expected_pai_5pct", "expected PAI@5%", ">= best baseline")):
        if metric not in model:
            continue
        best = best_baseline(metric)
        share = np.mean(model[metric] > best) if better == "ahead" else np.mean(model[metric] >= best)
        lines.append(f"model - best baseline, {label}: {_cell(model[metric] - best, '{:+.3f}')}; "
                     f"model {better} in {share:.0%} of replications")
    for name in ("loglik_per_accident", "cell_pai_5pct"):
        key = f"{name}_minus_best_baseline"
        if key in model:
            inside = np.mean((model[f"{key}_lo"] <= 0) & (model[f"{key}_hi"] >= 0))
            lines.append(f"day-bootstrap interval of model - best baseline on {name} contains 0 in {inside:.0%} "
                         "of replications")

    lines += ["", "calibration per test year (model expected / truth expected; / observed):"]
    for (seed, year), part in wide.xs("model", level="method").groupby(level=[0, 1]):
        row = part.iloc[0]
        truth, ratio = row.get("truth_expected_accidents", np.nan), row.get("expected_truth_ratio", np.nan)
        lines.append(f"  seed {seed} {year}: expected {row['expected_accidents']:.1f}, truth {truth:.1f} ({ratio:.2f}), "
                     f"observed {row['observed_accidents']:.0f} ({row['expected_observed_ratio']:.2f})")

    effects = result.effects.assign(ratio=lambda f: f["learned"] / f["truth"])
    lines += ["", "effect recovery (learned / truth ratio; mean over replications, worst month):"]
    for effect, part in effects.groupby("effect", sort=False):
        per_month = part.groupby("month")[["learned", "truth"]].mean()
        worst = (per_month["learned"] / per_month["truth"] - 1).abs().idxmax()
        lines.append(f"  {effect}: learned {per_month['learned'].min():.2f}-{per_month['learned'].max():.2f} vs truth "
                     f"{per_month['truth'].min():.2f}-{per_month['truth'].max():.2f}; worst month {worst} "
                     f"({per_month.loc[worst, 'learned']:.2f} vs {per_month.loc[worst, 'truth']:.2f})")

    s = result.slices[result.slices["method"] == "model"].groupby(["grouping", "key"])[["expected", "truth"]].sum()
    s["ratio"] = s["expected"] / s["truth"]
    lines += ["", "model calibration by slice vs truth (expected / truth, summed over replications): worst slice"]
    for grouping, part in s.groupby(level=0):
        worst = (part["ratio"] - 1).abs().idxmax()
        lines.append(f"  {grouping}: {part['ratio'].min():.2f}-{part['ratio'].max():.2f} (worst {worst[1]}: "
                     f"{part.loc[worst, 'ratio']:.2f})")
    lines.append(f"\nrun time {result.seconds / 60:.1f} min")
    return "\n".join(lines)


def write_outputs(result: ReplicationResult, out_dir: Path) -> list[Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, frame in (("runs", result.runs), ("effects", result.effects), ("slices", result.slices),
                        ("timings", pd.DataFrame(result.timings))):
        path = out_dir / f"replication_{name}.csv"
        frame.to_csv(path, index=False)
        paths.append(path)
    path = out_dir / "replication_table.txt"
    path.write_text(result.table() + "\n")
    paths.append(path)
    return paths
