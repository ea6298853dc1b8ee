"""`accidents features`: build bronze.roads (when needed) then the silver layer."""

from __future__ import annotations

import argparse

from pipeline.errors import AccidentsError


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
    parser.add_argument("--history-lag-years", default="auto",
                        help="publication lag of the history windows in silver.features: each row sees the "
                             "lookback years ending this many years before its year start (default auto: "
                             "the lag tomorrow's prediction faces, from the newest year in the lake)")
    parser.add_argument("--weather", default="auto",
                        help="hourly weather history for silver.weather_hourly: demo, open-meteo (station "
                             "archive, cached), a folder of station CSV files, none (negatives then draw the "
                             "accidents' weather), or auto (default: demo for demo data, else the lake's "
                             "table, else open-meteo)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: ACCIDENTS_SEED or 42)")
    parser.add_argument("--dep", default="988", help="département code (988)")
    parser.add_argument("--timeout", type=int, default=180, help="OpenStreetMap download timeout, seconds")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, settings) -> int:
    import datetime as dt

    from pipeline.cli.common import parse_date, parse_departments
    from pipeline.lake import lake_connection, table_exists
    from pipeline.stage_features import build_features, validate_parameters
    from pipeline.stage_roads import build_roads

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
        lag = _history_lag(con, args.history_lag_years)
        if args.roads_file or not table_exists(con, "bronze.roads"):
            roads = build_roads(con, roads_file=args.roads_file, cache_dir=settings.cache_dir / "osm",
                                department=department, timeout=args.timeout)
            sources = ", ".join(f"{k} {v}" for k, v in sorted(roads.speed_sources.items()))
            print(f"bronze.roads: {roads.rows} edges from {roads.source} (speed: {sources}) in {roads.seconds:.1f}s")
        _build_weather(con, args.weather, settings)
        summary = build_features(
            con, samplers=samplers, grid_step=args.grid_step, buffer_meters=args.buffer_meters,
            accident_exclusion_buffer_km=args.exclusion_km, temporal_risk_ratio=args.temporal_risk_ratio,
            n_negative_samples_ratio=args.neg_ratio, history_cutoff=cutoff,
            history_lookback_years=args.history_lookback_years, history_lag_years=lag, department=department,
            seed=seed,
            progress=lambda stage, seconds: print(f"  {stage}: {seconds:.1f}s", flush=True),
        )
    print(f"silver.road_points: {summary.road_points} points; silver.accident_points: {summary.accident_points}")
    for sampler, rows in summary.rows_by_sampler.items():
        print(f"silver.features_reference [{sampler}]: {rows} rows ({summary.positives} positives, "
              f"{summary.negatives_by_sampler[sampler]} negatives)")
        print(f"silver.features [{sampler}]: {summary.point_in_time_rows[sampler]} rows (point-in-time history, "
              f"{summary.history_lookback_years}-year lookback, {summary.history_lag_years}-year lag; "
              f"{summary.dropped_without_history[sampler]} rows of the first data years left out: no history "
              "before them)")
    if summary.weather == "none":
        print("note: no weather history (--weather none): negatives draw their weather from the accidents' "
              "distribution, so the model cannot learn weather effects")
    elif summary.rows_without_weather:
        print(f"note: {summary.rows_without_weather} sampled rows fall in hours no station covers (atm 1)")
    print(f"total {sum(summary.timings.values()):.1f}s")
    return 0


def _build_weather(con, spec: str, settings) -> None:
    """silver.weather_hourly from the --weather source (see pipeline.stage_weather)."""
    from pipeline.stage_weather import apply_weather_choice

    summary = apply_weather_choice(con, spec, settings)
    if summary is None:
        return
    shares = ", ".join(f"{code}: {share:.1%}" for code, share in summary.atm_shares.items())
    print(f"silver.weather_hourly: {summary.rows} station-hours from {summary.source} ({summary.stations} "
          f"stations, {summary.first_hour} .. {summary.last_hour}; atm shares {shares})", flush=True)


def _history_lag(con, value: str) -> int:
    """--history-lag-years: an integer >= 0, or auto (what tomorrow's prediction faces)."""
    from pipeline.features import publication_lag_years
    from pipeline.stage_features import newest_data_year
    from pipeline.stage_predictions import tomorrow_in

    if value != "auto":
        if not value.isdigit():
            raise AccidentsError(f"--history-lag-years {value!r}: expected auto or an integer >= 0")
        return int(value)
    newest, tomorrow = newest_data_year(con), tomorrow_in("Pacific/Noumea")
    lag = publication_lag_years(newest, tomorrow)
    print(f"history lag: {lag} year(s): the lake's newest year is {newest}, so a prediction for {tomorrow} "
          f"sees history ending {newest + 1}-01-01; training rows see windows ending {lag} year(s) before "
          "their own year start", flush=True)
    return lag
