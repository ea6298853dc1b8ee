"""`accidents features`: build bronze.roads (when needed) then the silver layer."""

from __future__ import annotations

from pipeline.cli.common import add_department_argument
from pipeline.core.params import add_arguments, from_namespace
from pipeline.silver.params import FeatureParams


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "features", help="build roads, road points, negative samples and risk features (silver layer)",
        description="Build bronze.roads (if missing or a roads file applies) and the silver tables "
                    "road_points, accident_points, features, features_reference and features_meta.",
    )
    add_arguments(parser, FeatureParams)
    add_department_argument(parser)
    parser.set_defaults(func=run)


def print_features(outcome) -> None:
    roads, summary = outcome.roads, outcome.features
    if roads is not None:
        sources = ", ".join(f"{k} {v}" for k, v in sorted(roads.speed_sources.items()))
        print(f"bronze.roads: {roads.rows} edges from {roads.source} (speed: {sources}) in {roads.seconds:.1f}s")
    print(f"silver.road_points: {summary.road_points} points; silver.accident_points: {summary.accident_points}")
    for sampler, rows in summary.rows_by_sampler.items():
        print(f"silver.features_reference [{sampler}]: {rows} rows ({summary.positives} positives, "
              f"{summary.negatives_by_sampler[sampler]} negatives)")
        print(f"silver.features [{sampler}]: {summary.point_in_time_rows[sampler]} rows (point-in-time history, "
              f"{summary.history_lookback_years}-year lookback; {summary.dropped_without_history[sampler]} rows "
              "of the first data year left out: no history before them)")
    print(f"total {sum(summary.timings.values()):.1f}s")


def run(args, settings, *, source=None) -> int:
    from pipeline.usecases.features import build_silver

    params = from_namespace(FeatureParams, args)
    print_features(build_silver(settings, params, source=source,
                                progress=lambda stage, seconds: print(f"  {stage}: {seconds:.1f}s", flush=True)))
    return 0
