"""Benchmark: full-grid scoring of one test year (features + model + metrics).

    .venv/bin/python bench/bench_scoring.py [--points 1500] [--year 2024] [--rounds 300] [--chunk-rows N]
                                            [--bundle DIR]   # a saved RiskModel bundle instead

Synthetic road points and accidents around Nouméa; a real LightGBM RiskModel (trained here on
case-control rows built with the shared `compute_features`) scores every point x hour, so the cost
is that of the production path: compute_features -> RiskModel.encode -> booster -> prior correction.
Target: under 60 s for 1,500 points x 8,784 hours on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import pandas as pd


def synthetic_network(n_points: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    points = pd.DataFrame({
        "point_id": np.arange(n_points, dtype=np.int64),
        "lat": -22.27 + rng.normal(0, 0.25, n_points),
        "lon": 166.45 + rng.normal(0, 0.35, n_points),
        "road_type": rng.choice(["primary", "secondary", "tertiary", "residential", "trunk"], n_points),
        "speed_limit": rng.choice([30.0, 50.0, 70.0, 90.0, 110.0], n_points),
        "dist_to_main_city_km": rng.gamma(2.0, 15.0, n_points),
        "dep": "988",
    })
    n_acc = 300 * 5
    weights = np.exp(-points["dist_to_main_city_km"].to_numpy() / 20)
    chosen = rng.choice(n_points, size=n_acc, p=weights / weights.sum())
    times = pd.Timestamp("2019-01-01") + pd.to_timedelta(rng.integers(0, 5 * 365 * 24, n_acc), "h")
    accidents = pd.DataFrame({
        "accident_id": [f"a{i}" for i in range(n_acc)],
        "point_id": chosen,
        "lat": points["lat"].to_numpy()[chosen],
        "lon": points["lon"].to_numpy()[chosen],
        "event_time": times,
        "year": times.year,
    })
    return points, accidents


def train_lightgbm(points, accidents, history, rounds: int, seed: int):
    import lightgbm as lgb

    from pipeline.core.features import CATEGORICAL, FEATURE_COLUMNS, compute_features
    from pipeline.gold.model_bundle import RiskModel, fit_category_codes

    rng = np.random.default_rng(seed)
    positives = accidents.merge(points.drop(columns=["lat", "lon"]), on="point_id")
    positives = positives.assign(event_time=positives["event_time"].dt.floor("h"), atm=1, target=1)
    n_neg = 10 * len(positives)
    neg_points = points.iloc[rng.integers(0, len(points), n_neg)].reset_index(drop=True)
    negatives = neg_points.assign(
        event_time=pd.Timestamp("2019-01-01") + pd.to_timedelta(rng.integers(0, 5 * 365 * 24, n_neg), "h"),
        atm=1, target=0)
    rows = compute_features(pd.concat([positives, negatives], ignore_index=True), history)
    template = RiskModel(algorithm="lightgbm", booster=None, feature_columns=list(FEATURE_COLUMNS),
                         categorical_codes=fit_category_codes(rows, list(CATEGORICAL)),
                         negative_weight=len(points) * 5 * 365 * 24 / n_neg, sampler="uniform")
    matrix = template.native_input(template.encode(rows))
    params = {"objective": "binary", "num_leaves": 31, "learning_rate": 0.05, "verbose": -1,
              "num_threads": 2, "seed": seed}
    template.booster = lgb.train(params, lgb.Dataset(matrix, rows["target"].to_numpy()), num_boost_round=rounds)
    return template


def measure(points: int = 1500, year: int = 2024, rounds: int = 300, chunk_rows: int | None = None, seed: int = 0,
            bundle: str | None = None, hours_limit: int | None = None) -> dict[str, float | int | str]:
    """Score every point x hour of `year` (or its first `hours_limit` hours) and compute one method's metrics; returns the figures
    (seconds, CPU seconds, cell-hours/s, peak RSS of the process so far)."""
    import resource

    from pipeline.core.features import AccidentHistory
    from pipeline.evaluation.evaluation import method_metrics, observed_counts, score_grid, year_hours

    network, accidents = synthetic_network(points, seed)
    history = AccidentHistory.point_in_time(accidents, 3, cap=f"{year}-01-01")
    if bundle:
        from pipeline.gold.model_bundle import RiskModel

        model = RiskModel.load(bundle)
    else:
        model = train_lightgbm(network, accidents, history, rounds, seed)
    hours = year_hours(year)[:hours_limit]
    t0, cpu0 = time.perf_counter(), time.process_time()
    chunk = {} if chunk_rows is None else {"chunk_rows": chunk_rows}
    prob, timings = score_grid(model, network, hours, history, atm=1, **chunk)
    grid_s, grid_cpu = time.perf_counter() - t0, time.process_time() - cpu0
    rng = np.random.default_rng(seed + 1)
    test = pd.DataFrame({"point_id": rng.integers(0, points, 300), "event_time": hours[rng.integers(0, len(hours), 300)]})
    counts = observed_counts(network, test, hours)
    t0, cpu0 = time.perf_counter(), time.process_time()
    method_metrics(prob, counts, hours, is_probability=True)
    return {
        "model": model.algorithm, "points": points, "hours": len(hours), "cell_hours": int(prob.size),
        "grid_s": grid_s, "grid_cpu_s": grid_cpu, "features_s": timings["features_s"],
        "scoring_s": timings["scoring_s"], "cell_hours_per_s": prob.size / grid_s,
        "metrics_s": time.perf_counter() - t0, "metrics_cpu_s": time.process_time() - cpu0,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "load_average": os.getloadavg()[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1500)
    parser.add_argument("--year", type=int, default=2024)
    parser.add_argument("--rounds", type=int, default=300, help="LightGBM trees")
    parser.add_argument("--chunk-rows", type=int, help="feature rows scored at once (default: the pipeline's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bundle", help="score with this saved RiskModel bundle directory instead")
    args = parser.parse_args()
    figures = measure(args.points, args.year, args.rounds, args.chunk_rows, args.seed, args.bundle)
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in figures.items()}, indent=2))


if __name__ == "__main__":
    main()
