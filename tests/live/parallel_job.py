"""The jobs of the parallel Dagster test, in an importable module: the multiprocess executor's step
processes rebuild them from here (`dg.reconstructable`). The product's own assets and resources, built
from the environment the test sets (not from `dagster_accidents.definitions`, which an earlier test in
the same session may have imported with another environment). The hold-out evaluation (partitioned by
département) and a day's predictions (département x day) depend on the trained model and not on each
other; their partitions differ, so Dagster runs them as two runs, without their checks (the other
Dagster tests run those)."""

from __future__ import annotations

import os

import dagster as dg


def _job(name: str, asset) -> dg.JobDefinition:
    from dagster_accidents.resources import resources_from_settings
    from pipeline.core.settings import Settings

    job = dg.define_asset_job(name, selection=dg.AssetSelection.assets(asset).without_checks(),
                              executor_def=dg.multiprocess_executor)
    defs = dg.Definitions(assets=[asset], jobs=[job], resources=resources_from_settings(Settings.from_env(), os.environ))
    return defs.resolve_job_def(name)


def evaluation_job() -> dg.JobDefinition:
    from dagster_accidents.assets.gold import evaluation

    return _job("evaluation", evaluation)


def predictions_job() -> dg.JobDefinition:
    from dagster_accidents.assets.predictions import predictions

    return _job("predictions", predictions)


JOBS = {"evaluation": evaluation_job, "predictions": predictions_job}


def main() -> None:
    """`python -m tests.live.parallel_job JOB PARTITION [RUN_CONFIG_JSON]`: one run of JOB for PARTITION on
    the instance of $DAGSTER_HOME (each run in its own process, as a run launcher would start it)."""
    import json
    import sys

    name, partition = sys.argv[1], sys.argv[2]
    run_config = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
    with dg.DagsterInstance.get() as instance:
        result = dg.execute_job(dg.reconstructable(JOBS[name]), instance, tags={"dagster/partition": partition},
                                run_config=run_config)
        print(result.run_id)
        sys.exit(0 if result.success else 1)


if __name__ == "__main__":
    main()
