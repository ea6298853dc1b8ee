"""One département's chain through Dagster, as the daemon would launch it, with the code location's
executor (multiprocess on the PostgreSQL catalog): `python -m tests.live.dagster_departement DEP DAY`.
Three runs: the ingest of every year (one run over the département's year partitions), the model
build (roads -> evaluation) and one predicted day. The environment gives the lake, the source folder,
MLflow and DAGSTER_HOME; the run ids are printed."""

from __future__ import annotations

import sys

import dagster as dg

# small and offline: the source folder has no weather history; two intensity candidates that need no trial
MODEL_BUILD_CONFIG = {"ops": {
    "silver_features": {"config": {"weather": "none"}},
    "gold__datasets": {"config": {"sampler": "uniform"}},
    "gold__trained_models": {"config": {"trials": 1, "candidates": ["hotspot", "glm"]}},
    "gold__evaluation": {"config": {"trials": 1, "candidates": ["hotspot", "glm"]}},
}}


def ingest_job():
    from dagster_accidents.definitions import defs

    return defs.resolve_job_def("ingest_job")


def all_assets_job():
    from dagster_accidents.definitions import defs

    return defs.resolve_job_def("all_assets_job")


def daily_predictions_job():
    from dagster_accidents.definitions import defs

    return defs.resolve_job_def("daily_predictions_job")


def main(dep: str, day: str = "first") -> int:
    """`day`: a date, or `first` = the first day partition (1 January after the source's last year)."""
    from dagster_accidents.partitions import dep_day_key, dep_year_key, prediction_days
    from tests.departments.reunion_fixture import YEARS  # the folder's years (the partitions run to last year)

    years = [dep_year_key(dep, str(year)) for year in YEARS]
    day = prediction_days.get_first_partition_key() if day == "first" else day
    runs = (
        (ingest_job, {"dagster/asset_partition_range_start": str(years[0]),
                      "dagster/asset_partition_range_end": str(years[-1])}, None),
        (all_assets_job, {"dagster/partition": dep}, MODEL_BUILD_CONFIG),
        (daily_predictions_job, {"dagster/partition": str(dep_day_key(dep, day))}, None),
    )
    with dg.DagsterInstance.get() as instance:
        for job, tags, config in runs:
            with dg.execute_job(dg.reconstructable(job), instance, run_config=config, tags=tags) as result:
                print(f"{job.__name__} {dep}: run {result.run_id} {'success' if result.success else 'FAILED'}",
                      flush=True)
                if not result.success:
                    return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
