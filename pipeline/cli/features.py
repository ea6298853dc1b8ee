"""`accidents features`: build bronze.roads (when needed) then the silver layer."""

from __future__ import annotations

import argparse

from pipeline.core.errors import AccidentsError


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "features", help="build roads, road points, negative samples and risk features (silver layer)",
        description="Build bronze.roads (if missing or --roads-file is given) and the silver tables "
                    "road_points, accident_points, features and features_meta.",
    )
    parser.add_argument("--roads-file", help="OpenStreetMap .osm/.osm.pbf file (default: download, cached)")
    parser.add_argument("--grid-step", type=float, default=0.02, help="grid cell size in degrees (0.02)")
    parser.add_argument("--buffer-meters", type=float, default=200.0,
                        help="keep cells whose centre is within this distance of a road (200)")
    parser.add_argument("--exclusion-km", type=float, default=0.3,
                        help="exclusion sampler: minimum distance from every accident (0.3)")
    parser.add_argument("--temporal-risk-ratio", type=float, default=0.85,
                        help="exclusion sampler: share of negatives at real accident hours (0.85)")
    parser.add_argument("--neg-ratio", type=int, default=20, help="negatives per positive (20)")
    parser.add_argument("--sampler", choices=("exclusion", "uniform", "both"), default="both")
    parser.add_argument("--history-cutoff",
                        help="YYYY-MM-DD: cap the point-in-time history windows of silver.features at this date")
    parser.add_argument("--history-lookback-years", type=int, default=3,
                        help="years of accidents before each row's year start in silver.features (default 3)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: ACCIDENTS_SEED or 42)")
    parser.add_argument("--dep", default="988", help="département code (988)")
    parser.add_argument("--timeout", type=int, default=180, help="OpenStreetMap download timeout, seconds")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, settings) -> int:
    import datetime as dt

    from pipeline.cli.common import parse_date, parse_departments
    from pipeline.core.lake import lake_connection, table_exists
    from pipeline.silver.features import build_features, validate_parameters
    from pipeline.bronze.roads import build_roads

    departments = parse_departments(args.dep)
    if len(departments) != 1:
        raise AccidentsError(f"--dep {args.dep}: give exactly one département")
    department = departments[0]
    samplers = ("exclusion", "uniform") if args.sampler == "both" else (args.sampler,)
    validate_parameters(samplers=samplers, grid_step=args.grid_step, buffer_meters=args.buffer_meters,
                        accident_exclusion_buffer_km=args.exclusion_km,
                        temporal_risk_ratio=args.temporal_risk_ratio,
                        n_negative_samples_ratio=args.neg_ratio, department=department)
    cutoff = None
    if args.history_cutoff:
        cutoff = dt.datetime.combine(parse_date(args.history_cutoff, "--history-cutoff"), dt.time())
    if args.timeout <= 0:
        raise AccidentsError(f"--timeout {args.timeout}: expected a positive number of seconds")
    seed = settings.seed if args.seed is None else args.seed

    with lake_connection(settings) as con:
        if not table_exists(con, "bronze.accidents"):
            raise AccidentsError("bronze.accidents does not exist: run `accidents ingest` (or `accidents demo`) first")
        if args.roads_file or not table_exists(con, "bronze.roads"):
            roads = build_roads(con, roads_file=args.roads_file, cache_dir=settings.cache_dir / "osm",
                                department=department, timeout=args.timeout)
            sources = ", ".join(f"{k} {v}" for k, v in sorted(roads.speed_sources.items()))
            print(f"bronze.roads: {roads.rows} edges from {roads.source} (speed: {sources}) in {roads.seconds:.1f}s")
        summary = build_features(
            con, samplers=samplers, grid_step=args.grid_step, buffer_meters=args.buffer_meters,
            accident_exclusion_buffer_km=args.exclusion_km, temporal_risk_ratio=args.temporal_risk_ratio,
            n_negative_samples_ratio=args.neg_ratio, history_cutoff=cutoff,
            history_lookback_years=args.history_lookback_years, department=department, seed=seed,
            progress=lambda stage, seconds: print(f"  {stage}: {seconds:.1f}s", flush=True),
        )
    print(f"silver.road_points: {summary.road_points} points; silver.accident_points: {summary.accident_points}")
    for sampler, rows in summary.rows_by_sampler.items():
        print(f"silver.features_reference [{sampler}]: {rows} rows ({summary.positives} positives, "
              f"{summary.negatives_by_sampler[sampler]} negatives)")
        print(f"silver.features [{sampler}]: {summary.point_in_time_rows[sampler]} rows (point-in-time history, "
              f"{summary.history_lookback_years}-year lookback; {summary.dropped_without_history[sampler]} rows "
              "of the first data year left out: no history before them)")
    print(f"total {sum(summary.timings.values()):.1f}s")
    return 0
