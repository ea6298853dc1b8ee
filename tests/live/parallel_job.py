"""The job of the parallel Dagster run test, in an importable module: the multiprocess executor's step
processes rebuild it from here (`dg.reconstructable`). The product's own assets and resources, built from
the environment the test sets (not from `dagster_accidents.definitions`, which an earlier test in the
same session may have imported with another environment); only the job is the test's: the two assets
that depend on the trained model and not on each other (without their checks, which the other Dagster
tests run), at most two steps at once."""

from __future__ import annotations

import os

import dagster as dg

JOB = "evaluation_and_predictions"


def evaluation_and_predictions_job() -> dg.JobDefinition:
    from dagster_accidents.assets.gold import evaluation
    from dagster_accidents.assets.predictions import predictions
    from dagster_accidents.resources import resources_from_settings
    from pipeline.core.settings import Settings

    job = dg.define_asset_job(JOB, selection=dg.AssetSelection.assets(evaluation, predictions).without_checks(),
                              executor_def=dg.multiprocess_executor.configured({"max_concurrent": 2}))
    defs = dg.Definitions(assets=[evaluation, predictions], jobs=[job],
                          resources=resources_from_settings(Settings.from_env(), os.environ))
    return defs.resolve_job_def(JOB)
