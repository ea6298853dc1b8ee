"""`accidents features`: build bronze.roads (when needed) then the silver layer."""

from __future__ import annotations

from pipeline.core.params import from_namespace
from pipeline.silver.params import FeatureParams
from pipeline.usecases.features import build_silver


def print_features(outcome) -> None:
    roads, silver = outcome.roads, outcome.silver
    summary, weather = silver.features, silver.weather
    if roads is not None:
        sources = ", ".join(f"{k} {v}" for k, v in sorted(roads.speed_sources.items()))
        print(f"bronze.roads: {roads.rows} edges from {roads.source} (speed: {sources}) in {roads.seconds:.1f}s")
    if silver.lag_note:
        print(silver.lag_note)
    if weather is not None:
        shares = ", ".join(f"{code}: {share:.1%}" for code, share in weather.atm_shares.items())
        print(f"silver.weather_hourly: {weather.rows} station-hours from {weather.source} ({weather.stations} "
              f"stations, {weather.first_hour} .. {weather.last_hour}; atm shares {shares})")
    print(f"silver.road_points: {summary.road_points} points; silver.accident_points: {summary.accident_points}")
    for sampler, rows in summary.rows_by_sampler.items():
        print(f"silver.features_reference [{sampler}]: {rows} rows ({summary.positives} positives, "
              f"{summary.negatives_by_sampler[sampler]} negatives)")
        print(f"silver.features [{sampler}]: {summary.point_in_time_rows[sampler]} rows (point-in-time history, "
              f"{summary.history_lookback_years}-year lookback, {summary.history_lag_years}-year lag; "
              f"{summary.dropped_without_history[sampler]} rows of the first data years left out: no history "
              "before them)")
    if summary.weather == "none":
        print("note: no weather history (weather=none): negatives draw their weather from the accidents' "
              "distribution, so the model cannot learn weather effects")
    elif summary.rows_without_weather:
        print(f"note: {summary.rows_without_weather} sampled rows fall in hours no station covers (atm 1)")
    print(f"total {sum(summary.timings.values()):.1f}s")


def run(args, settings, *, source=None) -> int:
    params = from_namespace(FeatureParams, args)
    print_features(build_silver(settings, params, source=source,
                                progress=lambda stage, seconds: print(f"  {stage}: {seconds:.1f}s", flush=True)))
    return 0
