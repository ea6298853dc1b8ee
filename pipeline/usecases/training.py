"""Train and register: the intensity candidates compete and the winner becomes `champion`; the
predecessor's case-control reproduction (reference protocol) is logged and never published."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from pipeline.core.cores import usable_cores
from pipeline.core.lake import lake_connection
from pipeline.core.settings import Settings
from pipeline.gold.datasets import build_datasets
from pipeline.gold.params import STALE_RUN_HOURS, TrainParams
from pipeline.gold.reference_training import train_models
from pipeline.gold.run_owner import fail_dead_runs
from pipeline.gold.training import train_candidates
from pipeline.sources.provenance import lake_is_synthetic

if TYPE_CHECKING:
    from pipeline.gold.datasets import DatasetsSummary


def build_gold_datasets(settings: Settings, params: TrainParams) -> DatasetsSummary:
    """gold.train/test: the reference protocol's 80/20 split of silver.features_reference."""
    with lake_connection(settings) as con:
        return build_datasets(con, sampler=params.sampler, test_size=params.test_size, seed=_seed(settings, params))


def train_and_register(settings: Settings, params: TrainParams, *, tracking_uri: str | None = None,
                       progress=None, build_datasets: bool = True) -> list:
    """One training per protocol of `params`: the intensity candidates (the champion moves to the
    winner) and/or the reference reproduction (registered, the alias never moved)."""
    uri = tracking_uri or settings.resolved_mlflow_uri
    fail_dead_mlflow_runs(uri, progress=progress)
    summaries = []
    for protocol in params.protocols:
        if protocol == "reference":
            summaries.append(_train_reference(settings, params, uri, progress, build_datasets))
            continue

        with lake_connection(settings) as con:
            summaries.append(train_candidates(
                con, candidates=params.candidates, trials=params.trials, seed=_seed(settings, params),
                threads=params.threads or usable_cores(), tracking_uri=uri, experiment=settings.experiment,
                registered_model=settings.registered_model, synthetic=lake_is_synthetic(con),
                timeout=params.timeout, progress=progress))
    return summaries


def _train_reference(settings: Settings, params: TrainParams, uri: str, progress, build_datasets: bool):
    if build_datasets:
        build_gold_datasets(settings, params)
    with lake_connection(settings) as con:
        return train_models(
            con, protocol="reference", sampler=params.sampler, algorithms=params.algorithms, trials=params.trials,
            objective=params.objective, seed=_seed(settings, params), tracking_uri=uri,
            experiment=settings.experiment, registered_model=settings.registered_model,
            department=settings.department.code, timeout_per_algorithm=params.timeout, threads=params.threads,
            workers=params.workers, tune_rows=params.tune_rows, refit_rows=params.refit_rows,
            progress=progress is not None)


def fail_dead_mlflow_runs(tracking_uri: str, *, progress=None) -> int:
    """Before a training, mark FAILED the runs earlier killed trainings left RUNNING: at once those whose
    process is gone from this machine, after STALE_RUN_HOURS those from elsewhere. A training running
    at the same time keeps its run (see pipeline.gold.run_owner)."""
    failed = fail_dead_runs(tracking_uri, older_than=dt.datetime.now(dt.UTC) - dt.timedelta(hours=STALE_RUN_HOURS))
    if failed and progress:
        progress(f"marked {failed} MLflow runs left RUNNING by a killed process FAILED")
    return failed


def _seed(settings: Settings, params: TrainParams) -> int:
    return settings.seed if params.seed is None else params.seed
