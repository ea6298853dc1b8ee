"""Replicated backtests of the shipped path on the demo: generator seeds x test years, one table.

One test year of one generated world is a single Poisson draw: a lead of one PAI point is within its
noise. Each replication generates the demo world of a seed, runs the chain's ingest and silver stages,
and for each test year T runs `accidents evaluate`'s backtest (pipeline.evaluation.evaluation.evaluate):
the candidates see the years up to T - 1 - lag (the publication lag tomorrow's prediction faces, as
`accidents evaluate` computes it), compete on that last year, are refitted up to it, and are scored on
every road point x hour of T against the hotspot baselines and the generator's truth, with the rain
ratios by road class and the day ratios against the truth (pipeline.evaluation.effects) and the
champion's daily 90 % intervals. Same candidates and trials as `accidents train` by default.

The table gives, per method, the mean and a 95 % t-interval over the replications, then the issue's
targets checked one by one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.core.errors import AccidentsError
from pipeline.evaluation import effects
from pipeline.evaluation.effects import DAY_KINDS, RAIN, ROADS
from pipeline.evaluation.report import BASELINES
from pipeline.gold.params import BOOSTED_TRIALS, CANDIDATES

SUMMARY_METRICS = (
    ("loglik_per_accident", "LL/acc", "{:.3f}"),
    ("loglik_per_accident_minus_oracle", "LL/acc - oracle", "{:+.3f}"),
    ("cell_expected_pai_5pct", "E[PAI@5%]", "{:.2f}"),
    ("cell_expected_pai_5pct_share_of_oracle", "E[PAI@5%]/oracle", "{:.3f}"),
    ("cell_pai_5pct", "PAI@5%", "{:.2f}"),
    ("expected_truth_ratio", "exp/truth", "{:.2f}"),
)
RAIN_COLUMNS = tuple((f"rain_{level}_ratio_{roads}", f"{level} rain, {roads} roads")
                     for _, level in RAIN for roads in ROADS)


@dataclass
class ReplicationConfig:
    work_dir: Path
    seeds: Sequence[int] = (1, 2, 3, 4)
    test_years: Sequence[int] = (2022, 2023, 2024)
    lag: int | None = None  # None: the lag tomorrow's prediction faces (the shipped path's)
    candidates: Sequence[str] = CANDIDATES
    trials: int = BOOSTED_TRIALS
    scale: float = 1.0
    threads: int | None = None
    bootstrap_replicates: int = 1000

    def __post_init__(self) -> None:
        from pipeline.sources.select import DEMO_YEARS

        if not self.seeds:
            raise AccidentsError("replication: give at least one seed")
        bad = [y for y in self.test_years if y > DEMO_YEARS[-1] or y - 1 - self.resolved_lag() - 1 < DEMO_YEARS[0]]
        if bad or not self.test_years:
            raise AccidentsError(f"replication: test year {bad[0] if bad else None!r} needs two years of data up to "
                                 f"{(bad[0] if bad else 0) - 1 - self.resolved_lag()} within "
                                 f"{DEMO_YEARS[0]}-{DEMO_YEARS[-1]} (lag {self.resolved_lag()})")

    def resolved_lag(self) -> int:
        """The configured lag, else the one `accidents evaluate` uses for a demo lake today."""
        if self.lag is not None:
            return int(self.lag)
        from pipeline.core.settings import Settings
        from pipeline.sources.select import DEMO_YEARS
        from pipeline.usecases.evaluation import shipped_lag

        return shipped_lag(DEMO_YEARS[-1], Settings(data_dir=Path(self.work_dir)))


@dataclass
class ReplicationResult:
    runs: pd.DataFrame  # seed, test_year, method, metric, value
    champions: pd.DataFrame  # seed, test_year, champion, data_end, lag
    seconds: float
    timings: list[dict] = field(default_factory=list)

    def table(self) -> str:
        return format_replication(self)


def prepare_seed(work_dir: Path, seed: int, scale: float = 1.0):
    """The demo world of `seed` through the chain's ingest, roads, weather and silver stages ->
    (settings, connection, truth)."""
    from pipeline.bronze.ingest import ingest_years
    from pipeline.bronze.roads import build_roads
    from pipeline.core.lake import connect
    from pipeline.core.settings import Settings
    from pipeline.silver.features import build_features
    from pipeline.silver.params import FeatureParams
    from pipeline.silver.weather import apply_weather_choice
    from pipeline.sources.select import DEMO_YEARS, DemoSource

    settings = Settings(data_dir=Path(work_dir) / f"seed{seed}")
    source = DemoSource(settings, seed=seed, scale=scale)
    department = settings.department.code
    con = connect(settings)
    ingest_years(con, source.files_for_years(list(DEMO_YEARS)), source=source.label)
    build_roads(con, roads_file=source.roads_file(), department=department)
    apply_weather_choice(con, "demo", settings)
    build_features(con, FeatureParams(seed=seed), department=department)
    return settings, con, source.truth()


def replicate_one(con, truth, config: ReplicationConfig, seed: int, test_year: int) -> dict:
    """The backtest of one (seed, test year)."""
    from pipeline.core.cores import usable_cores
    from pipeline.evaluation.evaluation import Backtest, evaluate

    backtest = Backtest(test_year=test_year, lag=config.resolved_lag(), candidates=tuple(config.candidates),
                        trials=config.trials, seed=seed, threads=config.threads or usable_cores(),
                        bootstrap_replicates=config.bootstrap_replicates, bootstrap_seed=seed)
    started = time.perf_counter()
    summary = evaluate(con, backtest, truth=truth)
    key = {"seed": seed, "test_year": test_year}
    runs = pd.DataFrame([{**key, "method": method, "metric": name, "value": value}
                         for method, values in summary.metrics.items() for name, value in values.items()])
    validation = pd.DataFrame([{**key, "method": f"candidate_{name}", "metric": f"validation_{metric}", "value": value}
                               for name, values in summary.validation.items() for metric, value in values.items()])
    return {"runs": pd.concat([runs, validation], ignore_index=True),
            "champion": {**key, "champion": summary.champion, "data_end": summary.data_end, "lag": summary.lag},
            "timing": {**key, "champion": summary.champion, "seconds": time.perf_counter() - started,
                       **{f"evaluate_{k}": v for k, v in summary.timings.items()}}}


def run_replication(config: ReplicationConfig, progress: Callable[[str], None] | None = None) -> ReplicationResult:
    started = time.perf_counter()
    runs, champions, timings = [], [], []
    for seed in config.seeds:
        t0 = time.perf_counter()
        _, con, truth = prepare_seed(config.work_dir, seed, config.scale)
        try:
            if progress:
                progress(f"seed {seed}: demo world and silver layer in {time.perf_counter() - t0:.0f} s")
            for test_year in config.test_years:
                one = replicate_one(con, truth, config, seed, test_year)
                runs.append(one["runs"])
                champions.append(one["champion"])
                timings.append(one["timing"])
                if progress:
                    t = one["timing"]
                    progress(f"seed {seed} test {test_year} (data up to {one['champion']['data_end']}): champion "
                             f"{t['champion']}, {t['seconds']:.0f} s (competition {t['evaluate_competition_s']:.0f} s)")
        finally:
            con.close()
    return ReplicationResult(pd.concat(runs, ignore_index=True), pd.DataFrame(champions),
                             time.perf_counter() - started, timings)


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


def _columns(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]


def _wide(result: ReplicationResult) -> pd.DataFrame:
    return result.runs.pivot_table(index=["seed", "test_year", "method"], columns="metric", values="value")


def _method_table(wide: pd.DataFrame) -> list[str]:
    from pipeline.evaluation.report import method_order

    rows = [["method", *(label for _, label, _ in SUMMARY_METRICS), "LL/acc - shrunk map"]]
    shrunk = wide.xs("baseline_shrunk", level="method")["loglik_per_accident"] \
        if "baseline_shrunk" in wide.index.get_level_values("method") else None
    for method in method_order(wide.index.get_level_values("method").unique()):
        part = wide.xs(method, level="method")
        cells = [_cell(part[name], fmt) if name in part else "-" for name, _, fmt in SUMMARY_METRICS]
        gap = "-" if shrunk is None else _cell(part["loglik_per_accident"] - shrunk, "{:+.3f}")
        rows.append([method, *cells, gap])
    return _columns(rows)


def headline_figures(result: ReplicationResult) -> dict[str, float]:
    """The figures the issue's targets are stated on, over the replications (see `_target_lines`)."""
    wide = _wide(result)
    model = wide.xs("model", level="method")
    shrunk = wide.xs("baseline_shrunk", level="method")
    gap = model["loglik_per_accident"] - shrunk["loglik_per_accident"]
    out = {"replications": float(result.champions.shape[0]), "loglik_gain_over_shrunk_mean": float(gap.mean()),
           "loglik_gain_over_shrunk_positive": float((gap > 0).sum())}
    if "oracle" in wide.index.get_level_values("method"):
        oracle = wide.xs("oracle", level="method")
        baselines = [b for b in BASELINES if b in wide.index.get_level_values("method")]
        best_pai = pd.concat([wide.xs(b, level="method")["cell_expected_pai_5pct"] for b in baselines],
                             axis=1).max(axis=1)
        out["loglik_gap_to_oracle_mean"] = float((oracle["loglik_per_accident"] - model["loglik_per_accident"]).mean())
        out["expected_pai_at_least_best_baseline"] = float((model["cell_expected_pai_5pct"] >= best_pai).sum())
        out["expected_pai_share_of_oracle_mean"] = float(
            (model["cell_expected_pai_5pct"] / oracle["cell_expected_pai_5pct"]).mean())
    return out


def _target_lines(result: ReplicationResult) -> list[str]:
    h = headline_figures(result)
    n = int(h["replications"])
    lines = [f"champion - shrunk map, LL/accident: mean {h['loglik_gain_over_shrunk_mean']:+.3f}, > 0 in "
             f"{int(h['loglik_gain_over_shrunk_positive'])} of {n} "
             f"(target: >= +0.15 on average, > 0 in >= {int(np.ceil(n * 10 / 12))} of {n})"]
    if "loglik_gap_to_oracle_mean" in h:
        lines.append(f"oracle - champion, LL/accident: mean {h['loglik_gap_to_oracle_mean']:.3f} (target <= 0.15)")
        lines.append(f"E[PAI@5%] >= best baseline in {int(h['expected_pai_at_least_best_baseline'])} of {n}; "
                     f"champion / oracle mean {h['expected_pai_share_of_oracle_mean']:.3f} "
                     "(target: >= best baseline in >= 10 of 12, >= 0.975 of the oracle on average)")
    return lines


def _rain_lines(wide: pd.DataFrame) -> list[str]:
    model = wide.xs("model", level="method")
    rows = [["ratio over normal weather", "champion", "truth", "champion / truth (worst)"]]
    for column, label in RAIN_COLUMNS:
        if column not in model or f"{column}_truth" not in model:
            continue
        quotient = model[column] / model[f"{column}_truth"]
        worst = quotient.iloc[int(np.argmax(np.abs(quotient - 1.0)))]
        rows.append([label, _cell(model[column], "{:.2f}"), _cell(model[f"{column}_truth"], "{:.2f}"),
                     f"{quotient.mean():.2f} ({worst:.2f})"])
    lines = _columns(rows)
    if "rain_lowers_share" in model:
        lines.append(f"share of point-hours where a rainier scenario scores lower: max {model['rain_lowers_share'].max():.4f}")
    for level in ("light", "heavy"):
        if {f"rain_{level}_ratio_fast", f"rain_{level}_ratio_slow"} <= set(model):
            lines.append(f"replications where fast roads' {level}-rain ratio is below slow roads': "
                         f"{fast_below_slow(model, level)}")
    return lines


def fast_below_slow(model: pd.DataFrame, level: str) -> int:
    """Replications whose fast roads' rain ratio is below the slow roads' (effects.fast_below_slow)."""
    return int(effects.fast_below_slow(model[f"rain_{level}_ratio_fast"], model[f"rain_{level}_ratio_slow"]).sum())


def _day_lines(wide: pd.DataFrame) -> list[str]:
    model = wide.xs("model", level="method")
    rows = [["day kind", "champion / truth (level divided out)", "worst day"]]
    for kind in DAY_KINDS:
        if f"day_ratio_{kind}" in model:
            worst = model[f"day_ratio_{kind}_worst"]
            rows.append([kind, _cell(model[f"day_ratio_{kind}"], "{:.3f}"),
                         f"{worst.iloc[int(np.argmax(np.abs(worst - 1.0)))]:.2f}"])
    return _columns(rows)


def format_replication(result: ReplicationResult) -> str:
    wide = _wide(result)
    n = result.champions.shape[0]
    champions = result.champions
    lines = [f"{n} replications (seeds {sorted(champions['seed'].unique().tolist())} x test years "
             f"{sorted(champions['test_year'].unique().tolist())}, lag {int(champions['lag'].iloc[0])}: data up to "
             "test year - 1 - lag); mean [95 % interval of the mean]", ""]
    lines += _method_table(wide)
    lines += ["", "targets:", *(f"  {line}" for line in _target_lines(result))]
    lines += ["", "champions: " + ", ".join(f"{name} {count}" for name, count in
                                             champions["champion"].fillna("none").value_counts().items())]
    lines += ["", "rain (champion, two days a month under each scenario):", *_rain_lines(wide)]
    lines += ["", "days in normal weather:", *_day_lines(wide)]
    model = wide.xs("model", level="method")
    if "count_interval_coverage" in model:
        lines += ["", f"90 % daily intervals: the observed count inside on {_cell(model['count_interval_coverage'], '{:.3f}')} "
                      "of days" + (f", the truth's expected count inside on "
                                   f"{_cell(model['expected_interval_coverage_truth'], '{:.3f}')}"
                                   if "expected_interval_coverage_truth" in model else "")]
    lines.append(f"\nrun time {result.seconds / 60:.1f} min")
    return "\n".join(lines)


def write_outputs(result: ReplicationResult, out_dir: Path) -> list[Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, frame in (("runs", result.runs), ("champions", result.champions), ("timings", pd.DataFrame(result.timings))):
        path = out_dir / f"replication_{name}.csv"
        frame.to_csv(path, index=False)
        paths.append(path)
    path = out_dir / "replication_table.txt"
    path.write_text(result.table() + "\n")
    paths.append(path)
    return paths
