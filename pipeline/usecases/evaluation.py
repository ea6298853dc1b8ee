"""Evaluate: the registered temporal model(s) on every road point x hour of the hold-out year.

Rules: only a temporal model may be evaluated (a reference model's training saw the test year); each
result is labelled with the sampler the model was trained with (read from the registry, never from a
setting); the oracle row uses the truth of the source the lake was ingested from (the demo's).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.core.errors import AccidentsError
from pipeline.core.settings import Settings
from pipeline.gold.params import SAMPLERS, EvaluateParams

if TYPE_CHECKING:
    from pipeline.evaluation.evaluation import EvaluationSummary
    from pipeline.sources.select import AccidentSource


@dataclass(frozen=True)
class EvaluatedModel:
    summary: EvaluationSummary
    version: str
    algorithm: str
    sampler: str
    train_years: list[int]
    mlflow_run_id: str | None


def select_version(versions: list[dict[str, Any]], *, sampler: str | None, which: str, name: str) -> dict[str, Any]:
    """The registry entry to evaluate: an explicit version, else the champion if it was trained with
    `sampler`, else the latest temporal version trained with it."""
    if not versions:
        raise AccidentsError(f"no model registered as {name}; run `accidents train --protocol temporal` first")
    if which != "champion":
        if not which.isdigit():
            raise AccidentsError(f"model={which!r}: expected 'champion' or a version number")
        found = [v for v in versions if v["version"] == which]
        if not found:
            raise AccidentsError(f"model={which}: {name} has versions {', '.join(v['version'] for v in versions)}")
        entry = found[0]
    else:
        temporal = [v for v in versions if v.get("protocol") == "temporal" and v.get("sampler") == sampler]
        if not temporal:
            raise AccidentsError(f"no temporal model trained with sampler {sampler!r} in {name}; "
                                 f"run `accidents train --protocol temporal --sampler {sampler}`")
        champions = [v for v in temporal if "champion" in v["aliases"]]
        entry = (champions or temporal)[-1]
    if entry.get("protocol") != "temporal":
        raise AccidentsError(f"{name} version {entry['version']} was trained with protocol "
                             f"{entry.get('protocol')!r}: its training saw the test year; evaluate a temporal model")
    if sampler is not None and entry.get("sampler") not in (None, sampler):
        raise AccidentsError(f"model={entry['version']} was trained with sampler {entry['sampler']!r}, not {sampler!r}")
    return entry


def samplers_to_evaluate(params: EvaluateParams, versions: list[dict[str, Any]], name: str) -> tuple[str | None, ...]:
    """The samplers whose temporal model to evaluate: 'both' means every sampler that has one (an
    error when none has), a named sampler is required to have one (see `select_version`)."""
    if params.model != "champion":
        return (None if params.sampler == "both" else params.sampler,)  # a version carries its sampler
    if params.sampler != "both":
        return (params.sampler,)
    trained = tuple(s for s in SAMPLERS if any(v.get("protocol") == "temporal" and v.get("sampler") == s
                                               for v in versions))
    if not trained:
        raise AccidentsError(f"no temporal model registered as {name}; run `accidents train --protocol temporal`")
    return trained


def truth_for(con, settings: Settings, params: EvaluateParams, source: AccidentSource | None):
    """The oracle's truth: an explicit folder, else the given source's, else the lake's own source's."""
    from pipeline.usecases.lake_source import ingested_source

    if params.truth:
        from pipeline.sources.demo.model import load_truth

        return load_truth(Path(params.truth))
    source = source or ingested_source(con, settings)
    return source.truth() if source is not None else None


def evaluate_models(settings: Settings, params: EvaluateParams, *, source: AccidentSource | None = None,
                    tracking_uri: str | None = None, progress=None) -> list[EvaluatedModel]:
    """Score the selected version(s) on the test year against the baselines; write gold.evaluation and
    gold.calibration; log each evaluation to MLflow when `params.log_mlflow`."""
    from pipeline.core.lake import DEP, lake_connection, table_exists
    from pipeline.gold import registry
    from pipeline.evaluation.evaluation import evaluate

    tracking_uri = tracking_uri or settings.resolved_mlflow_uri
    name = settings.registered_model
    valid_year = params.valid_year if params.valid_year is not None else params.test_year - 1
    figure_dir = Path(params.figures) if params.figures else settings.data_dir / "evaluation"
    say = progress or (lambda message: None)
    versions = registry.list_model_versions(tracking_uri, name)
    results = []
    with lake_connection(settings) as con:
        for table in ("silver.road_points", "silver.accident_points", "bronze.accidents"):
            if not table_exists(con, table):
                raise AccidentsError(f"{table} is missing: run `accidents ingest` and `accidents features` first")
        years = [r[0] for r in con.execute("SELECT DISTINCT year(event_time) FROM bronze.accidents "
                                           f"WHERE event_time IS NOT NULL AND dep = {DEP} ORDER BY 1").fetchall()]
        for label, year in (("test_year", params.test_year), ("valid_year", valid_year)):
            if year not in years:
                raise AccidentsError(f"{label}={year}: no accidents in the lake (years: {years})")
        truth = truth_for(con, settings, params, source)
        for sampler in samplers_to_evaluate(params, versions, name):
            entry = select_version(versions, sampler=sampler, which=params.model, name=name)
            model, version = registry.load_version(tracking_uri, name, entry["version"])
            trained_sampler = entry.get("sampler") or model.sampler
            train_years = [y for y in (model.train_years or [y for y in years if y < valid_year]) if y < valid_year]
            say(f"evaluating {name} v{version} ({model.algorithm}, sampler {trained_sampler}) on "
                f"{params.test_year}: train years {train_years}, validation {valid_year}"
                + (", with the demo oracle" if truth is not None else ""))
            summary = evaluate(
                con, model=model, model_name=f"{name}-v{version}", sampler=trained_sampler,
                test_year=params.test_year, train_years=train_years, valid_year=valid_year,
                history_cutoff=params.history_cutoff, truth=truth, atm=params.atm, figure_dir=figure_dir,
            )
            run_id = None
            if params.log_mlflow:
                from pipeline.evaluation.evaluation_mlflow import log_evaluation_to_mlflow

                run_id = log_evaluation_to_mlflow(tracking_uri, summary, experiment=f"{settings.experiment}-evaluation")
            results.append(EvaluatedModel(summary, version, model.algorithm, trained_sampler, train_years, run_id))
    return results
