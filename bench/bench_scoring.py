"""Benchmark: full-grid evaluation of one test year, as the backtest does it for each method.

    .venv/bin/python bench/bench_scoring.py [--points 1274] [--year 2024] [--model glm|lightgbm] [--hours N]

A synthetic world of `--points` road points (bench/synthetic_world.py: twelve weather stations,
accidents from a known intensity) and a real intensity model fitted on the years before `--year`
(the Poisson GLM, the champion's core; or LightGBM on its offset). Timed, as
pipeline.evaluation.evaluation.evaluate does per method: the model's `expected_counts` over a
ScoringGrid of every road point x hour of the year under each hour's station weather (kept as
float32), then `method_metrics` against the observed counts (rankings, hit rates, PAI, daily
likelihood, calibration). Targets (issue 13): >= 1 M cell-hours/s at 0.02 deg (1,274 points);
<= 300 s and <= 8 GB at 0.005 deg.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def measure(points: int = 1274, year: int = 2024, model: str = "glm", hours_limit: int | None = None,
            seed: int = 0) -> dict[str, float | int | str]:
    """Score every point x hour of `year` (or its first `hours_limit` hours) and compute its metrics;
    returns the figures (seconds of each part, cell-hours/s, peak RSS of the process so far)."""
    import numpy as np

    from bench.synthetic_world import DEPARTMENT, YEARS, fit_model, make_world
    from pipeline.evaluation.evaluation import method_metrics
    from pipeline.gold.intensity.cells import observed_counts, year_hours
    from pipeline.gold.intensity.grid import ScoringGrid

    world = make_world(points, seed)
    fitted = fit_model(world, [y for y in YEARS if y < year], model, seed=seed)
    hours = year_hours([year])[:hours_limit]
    counts = observed_counts(world.points, world.accidents[world.accidents["year"] == year], hours)
    t0, cpu0 = time.perf_counter(), time.process_time()
    grid = ScoringGrid(world.points, hours, world.weather, DEPARTMENT)
    expected = grid.expected_of(fitted).astype(np.float32)  # as the backtest keeps each method's matrix
    scoring_s, scoring_cpu = time.perf_counter() - t0, time.process_time() - cpu0
    t1, cpu1 = time.perf_counter(), time.process_time()
    metrics, *_ = method_metrics(expected, counts, grid.hours)
    metrics_s, metrics_cpu = time.perf_counter() - t1, time.process_time() - cpu1
    seconds = scoring_s + metrics_s
    fit = {"loglik_per_accident": metrics["loglik_per_accident"], "expected_observed": metrics["expected_observed_ratio"]}
    return {
        "model": fitted.kind, "points": points, "hours": len(hours), "cell_hours": int(expected.size),
        "weather_series": int(grid.raw_weather.atm.shape[0]), "observed_accidents": int(counts.sum()),
        "seconds": seconds, "cpu_s": scoring_cpu + metrics_cpu, "scoring_s": scoring_s, "scoring_cpu_s": scoring_cpu,
        "metrics_s": metrics_s, "metrics_cpu_s": metrics_cpu, "cell_hours_per_s": expected.size / seconds,
        **{k: v for k, v in fit.items() if np.isfinite(v)},  # none without an accident (tiny --hours)
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "load_average": os.getloadavg()[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1274)
    parser.add_argument("--year", type=int, default=2024)
    parser.add_argument("--model", default="glm", choices=["glm", "lightgbm"])
    parser.add_argument("--hours", type=int, default=None, help="only the year's first N hours")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    figures = measure(args.points, args.year, args.model, args.hours, args.seed)
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in figures.items()}, indent=2))


if __name__ == "__main__":
    main()
