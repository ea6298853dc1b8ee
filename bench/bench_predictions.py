"""Benchmark of daily predictions: one day end to end, its parts, and a backfill of N days.

    .venv/bin/python bench/bench_predictions.py [--points 1274] [--days 365] [--model glm|lightgbm]

On a temporary lake holding the road points of a synthetic world (bench/synthetic_world.py) and a
real intensity model fitted on its years 2021-2024 (the Poisson GLM, or LightGBM on its offset),
stored as production stores it (pipeline.gold.intensity.bundle) and loaded back. One day = model
load + pipeline.gold.predictions.predict_days: expected counts of every point x hour, gold.predictions
rows, and gold.prediction_totals (the day's, each commune's and the top points' totals with their
90 % intervals and reasons), in one transaction. Targets (issue 13): one day <= 3 s at 0.005 deg;
a 365-day backfill <= 120 s at 0.02 deg.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FIRST_DAY = dt.date(2025, 3, 2)
MODEL_NAME = "accidents-risk-988"


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def measure(points: int = 1274, days: int = 365, model: str = "glm", seed: int = 0) -> dict[str, object]:
    """One predicted day end to end (model load + scoring + lake writes), its scoring alone, and a
    `days`-day backfill (0: none); returns the figures (seconds, rows, peak RSS)."""
    from bench.synthetic_world import DEPARTMENT, YEARS, fit_model, make_world, write_lake
    from pipeline.core.lake import connect
    from pipeline.core.settings import Settings
    from pipeline.gold.intensity.bundle import load_model, save_model
    from pipeline.gold.intensity.grid import ScoringGrid
    from pipeline.gold.predictions import day_hours, predict_days

    tmp = Path(tempfile.mkdtemp(prefix="bench-predictions-"))
    try:
        world = make_world(points, seed)
        fitted = fit_model(world, YEARS, model, seed=seed)
        folder = save_model(fitted, tmp / "model", {"validation_expected_observed": 1.0})
        con = connect(Settings(data_dir=tmp / "data"))
        write_lake(con, world, with_accidents=False)
        results: dict[str, object] = {"model": fitted.kind, "points": points}

        def one_day():
            loaded = load_model(folder)
            return predict_days(con, model=loaded, model_name=MODEL_NAME, model_version="bench", dates=[FIRST_DAY])

        summary, results["one_day_s"] = timed(one_day)
        results["one_day_rows"] = summary.rows_written
        results["one_day_expected_accidents"] = summary.days[0].expected_accidents
        loaded, results["model_load_s"] = timed(lambda: load_model(folder))
        grid = ScoringGrid(world.points, day_hours([FIRST_DAY]), 1, DEPARTMENT)
        _, results["scoring_one_day_s"] = timed(lambda: loaded.expected_counts(grid))
        if days:
            dates = [FIRST_DAY + dt.timedelta(days=i) for i in range(days)]
            backfill, results["backfill_s"] = timed(lambda: predict_days(
                con, model=loaded, model_name=MODEL_NAME, model_version="bench", dates=dates))
            results["backfill_days"] = days
            results["backfill_rows"] = backfill.rows_written
            results["totals_rows"] = int(con.execute("SELECT count(*) FROM gold.prediction_totals").fetchone()[0])
            results["mean_expected_accidents_per_day"] = sum(d.expected_accidents for d in backfill.days) / days
        con.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    results["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    results["load_average"] = os.getloadavg()[0]
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1274)
    parser.add_argument("--days", type=int, default=365, help="days of the backfill (0: none)")
    parser.add_argument("--model", default="glm", choices=["glm", "lightgbm"])
    args = parser.parse_args()
    results = measure(args.points, args.days, args.model)
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in results.items()}, indent=2))


if __name__ == "__main__":
    main()
