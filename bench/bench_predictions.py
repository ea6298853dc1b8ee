"""Benchmark of daily predictions: one day end to end, scoring alone, and a year of backfill.

    .venv/bin/python bench/bench_predictions.py [--points 1500] [--days 365] [--use-registry]

Runs on a temporary lake with ~1,500 synthetic road points (24 x 1,500 = 36,000 point-hours a day).
Model: with --use-registry, the champion `accidents-risk-988` of the configured MLflow store
(MLFLOW_TRACKING_URI / ACCIDENTS_DATA_DIR); otherwise a LightGBM RiskModel trained on synthetic rows
built with the real feature code, saved as a native bundle and loaded back (as production does).
Targets: one day < 3 s (model load + features + scoring + lake write), scoring < 0.2 s,
365-day backfill < 120 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.core import features  # noqa: E402
from pipeline.core.lake import connect  # noqa: E402
from pipeline.gold.model_bundle import RiskModel  # noqa: E402
from pipeline.core.settings import Settings  # noqa: E402
from pipeline.gold.predictions import grid_rows, load_history, predict_days  # noqa: E402
from tests.support.synthetic_model import (  # noqa: E402
    synthetic_accidents,
    synthetic_points,
    train_synthetic_model,
)


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def measure(points: int = 1500, days: int = 365, use_registry: bool = False) -> dict[str, object]:
    """One predicted day end to end (model load + features + scoring + lake write), its parts, and a
    `days`-day backfill, on a temporary lake; returns the figures (seconds, rows, peak RSS)."""
    import resource

    tmp = Path(tempfile.mkdtemp(prefix="bench-predictions-"))
    network = synthetic_points(points)
    accidents = synthetic_accidents(network, n=1500)
    con = connect(Settings(data_dir=tmp / "data"))
    con.register("_pts", network)
    con.execute("CREATE TABLE silver.road_points AS SELECT * FROM _pts")
    con.register("_acc", accidents)
    con.execute("CREATE TABLE bronze.accidents AS SELECT * FROM _acc")

    if use_registry:
        from pipeline.gold.registry import load_champion

        settings = Settings.from_env()
        load = lambda: load_champion(settings.resolved_mlflow_uri, "accidents-risk-988")[0]  # noqa: E731
        model_source = f"registry champion accidents-risk-988 at {settings.resolved_mlflow_uri}"
    else:
        bundle = train_synthetic_model(network, accidents, n_rows=20_000).save(tmp / "bundle")
        load = lambda: RiskModel.load(bundle)  # noqa: E731
        model_source = "LightGBM trained on synthetic rows (real feature code), loaded from its native bundle"

    day = dt.date(2025, 3, 2)  # a year of backfill stays within the synthetic history windows
    results: dict[str, object] = {"model": model_source, "points": points}

    def one_day():
        model = load()
        return predict_days(con, model=model, model_name="accidents-risk-988", model_version="bench", dates=[day])

    summary, results["one_day_s"] = timed(one_day)
    results["one_day_rows"] = summary.rows_written
    model = load()
    history = load_history(con, [day], lookback_years=3)
    feats, results["features_one_day_s"] = timed(lambda: features.compute_features(grid_rows(points=network,
                                                                                             days=[day], atm=1), history))
    matrix = feats[features.FEATURE_COLUMNS]
    model.predict_probability(matrix)  # warm-up
    _, results["scoring_one_day_s"] = timed(lambda: model.predict_probability(matrix))
    if hasattr(model, "encode"):
        encoded = model.encode(matrix)
        _, results["encode_one_day_s"] = timed(lambda: model.encode(matrix))
        _, results["booster_only_one_day_s"] = timed(lambda: model.predict_encoded(encoded))

    if days:
        dates = [day + dt.timedelta(days=i) for i in range(days)]
        backfill, results["backfill_s"] = timed(
            lambda: predict_days(con, model=model, model_name="accidents-risk-988", model_version="bench", dates=dates)
        )
        results["backfill_days"] = days
        results["backfill_rows"] = backfill.rows_written
        results["mean_expected_accidents_per_day"] = round(
            sum(d.expected_accidents for d in backfill.days) / len(backfill.days), 3)
    con.close()
    results["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    results["load_average"] = os.getloadavg()[0]
    shutil.rmtree(tmp, ignore_errors=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1500)
    parser.add_argument("--days", type=int, default=365, help="days of the backfill (0: none)")
    parser.add_argument("--use-registry", action="store_true", help="score with the registered champion")
    args = parser.parse_args()
    results = measure(args.points, args.days, args.use_registry)
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in results.items()}, indent=2))


if __name__ == "__main__":
    main()
