"""Which executor runs a run's steps (ACCIDENTS_DAGSTER_EXECUTOR, read by Settings): in one process on
an embedded catalog (it admits one writer process), in parallel processes on the PostgreSQL catalog
(DuckLake retries conflicting commits), or one Kubernetes pod per step (dagster-k8s), which takes
the run launcher's image, environment, volumes and resources (k8s/helm/values.yaml)."""

from __future__ import annotations

import dagster as dg

from pipeline.core.settings import Settings


def executor_for(settings: Settings) -> dg.ExecutorDefinition:
    choice = settings.executor
    if choice == "auto":
        choice = "multiprocess" if settings.catalog == "postgres" else "in_process"
    if choice == "k8s":
        from dagster_k8s import k8s_job_executor

        # at most 2 step pods per run: a département's chain is a line, its evaluation and checks the
        # only steps that may overlap; départements fan out as separate runs (the run queue's limit)
        return k8s_job_executor.configured({"max_concurrent": 2}, name="k8s")
    return dg.multiprocess_executor if choice == "multiprocess" else dg.in_process_executor
