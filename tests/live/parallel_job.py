"""The job of the parallel Dagster run test, in an importable module: the multiprocess executor's step
processes rebuild it from here (`dg.reconstructable`). The product's own assets, resources and
Definitions (read from the environment the test sets); only the job is the test's: the two assets that
depend on the trained model and not on each other (without their checks, which the other Dagster
tests run), at most two steps at once."""

from __future__ import annotations

import dagster as dg

JOB = "evaluation_and_predictions"
PARALLEL_ASSETS = (["gold", "evaluation"], ["gold", "predictions"])


def evaluation_and_predictions_job() -> dg.JobDefinition:
    from dagster_accidents.definitions import defs

    job = dg.define_asset_job(JOB, selection=dg.AssetSelection.assets(*PARALLEL_ASSETS).without_checks(),
                              executor_def=dg.multiprocess_executor.configured({"max_concurrent": 2}))
    return dg.Definitions.merge(defs, dg.Definitions(jobs=[job])).resolve_job_def(JOB)
