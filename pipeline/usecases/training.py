"""Train and register: gold datasets, Optuna-tuned models, MLflow runs, and the champion rule."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipeline.core.settings import Settings
from pipeline.gold.params import TrainParams

if TYPE_CHECKING:
    from pipeline.gold.datasets import DatasetsSummary
    from pipeline.gold.training import TrainingSummary

# Only a model trained on the temporal protocol (tuned and tested on later years than it saw) may
# become champion: the reference protocol's random split leaks location and time into its test score.
CHAMPION_PROTOCOL = "temporal"


def may_become_champion(protocol: str) -> bool:
    return protocol == CHAMPION_PROTOCOL


def reference_split_sampler(params: TrainParams) -> str:
    """Sampler of gold.train/test, the reference protocol's split. A temporal-only training keeps it
    on the predecessor's `exclusion` negatives, so that after `accidents run` (reference, then
    temporal with each sampler) gold.train/test still match gold.reference_report."""
    return params.sampler if "reference" in params.protocols else "exclusion"


def build_gold_datasets(settings: Settings, params: TrainParams) -> DatasetsSummary:
    from pipeline.core.lake import lake_connection
    from pipeline.gold.datasets import build_datasets

    with lake_connection(settings) as con:
        return build_datasets(con, sampler=reference_split_sampler(params), test_size=params.test_size,
                              seed=_seed(settings, params))


def train_and_register(settings: Settings, params: TrainParams, *, tracking_uri: str | None = None,
                       progress: bool = True, build_datasets: bool = True) -> list[TrainingSummary]:
    """Datasets (unless already built), then one training per protocol; each registers its best model,
    and only a temporal one moves the `champion` alias."""
    from pipeline.core.lake import lake_connection
    from pipeline.gold.training import train_models

    uri = tracking_uri or settings.resolved_mlflow_uri
    fail_dead_mlflow_runs(uri, progress=progress)
    if build_datasets:
        build_gold_datasets(settings, params)
    summaries = []
    with lake_connection(settings) as con:
        for protocol in params.protocols:
            summaries.append(train_models(
                con, protocol=protocol, sampler=params.sampler, algorithms=params.algorithms,
                trials=params.trials, objective=params.objective, seed=_seed(settings, params),
                tracking_uri=uri, experiment=settings.experiment,
                registered_model=settings.registered_model, department=settings.department.code,
                timeout_per_algorithm=params.timeout, threads=params.threads, workers=params.workers, progress=progress,
                set_champion=may_become_champion(protocol),
            ))
    return summaries


def fail_dead_mlflow_runs(tracking_uri: str, *, progress: bool = True) -> int:
    """Before a training, mark FAILED the runs earlier killed trainings left RUNNING: at once those whose
    process is gone from this machine, after STALE_RUN_HOURS those from elsewhere. A training running
    at the same time keeps its run (see pipeline.gold.run_owner)."""
    import datetime as dt
    import sys

    from pipeline.gold.run_owner import STALE_RUN_HOURS, fail_dead_runs

    failed = fail_dead_runs(tracking_uri, older_than=dt.datetime.now(dt.UTC) - dt.timedelta(hours=STALE_RUN_HOURS))
    if failed and progress:
        print(f"marked {failed} MLflow runs left RUNNING by a killed process FAILED", file=sys.stderr, flush=True)
    return failed


def _seed(settings: Settings, params: TrainParams) -> int:
    return settings.seed if params.seed is None else params.seed


# The trainings of the whole chain (`accidents run`): the predecessor's protocol for comparison, then
# the temporal protocol with each sampler — the uniform (calibratable) one last, so it is the champion.
CHAIN_TRAININGS = (("reference", "exclusion"), ("temporal", "exclusion"), ("temporal", "uniform"))
