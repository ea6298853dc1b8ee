"""Gold training stage: the intensity candidates compete on the newest year, the champion is refitted
on every year and registered in MLflow with the alias `champion`.

Inputs come from the lake: silver.road_points, the located accidents with their road point
(silver.accident_points), the hourly weather history (silver.weather_hourly; normal weather without
it). With data up to year D (the newest the lake holds), every candidate is fitted on the years before
D and scored on every road point x hour of D (pipeline.gold.intensity.competition); the winner is
refitted on every year up to D. Every year the lake holds is used: no history window drops any.

MLflow: one parent run per training, one child run per candidate (its choices and validation
figures), the champion's stored model (pipeline.gold.intensity.bundle) under `risk_model/` of its child
run, registered as a new version tagged with its kind. gold.model_runs gets one row per candidate.
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from pipeline.core.departments import department
from pipeline.core.errors import AccidentsError
from pipeline.core.lake import DEP, committed, department_of, table_exists, write_department_rows
from pipeline.core.weather import load_weather_history
from pipeline.gold import registry
from pipeline.gold.intensity.bundle import save_model
from pipeline.gold.intensity.competition import Inputs, compete
from pipeline.gold.run_owner import owner_tags
from pipeline.silver.tables import load_road_points

if TYPE_CHECKING:
    import duckdb

    from pipeline.gold.intensity.competition import Competition, Inputs


@dataclass(frozen=True)
class CandidateRun:
    name: str
    kind: str
    loglik_per_accident: float
    expected: float
    observed: int
    calibrated: bool
    seconds: float
    params: dict[str, Any]
    mlflow_run_id: str | None = None


@dataclass(frozen=True)
class TrainingSummary:
    data_end: int
    fit_years: tuple[int, ...]
    champion: str | None
    champion_kind: str | None
    registered_version: str | None
    parent_run_id: str
    candidates: tuple[CandidateRun, ...]
    seconds: float
    fit_seconds: float
    notes: tuple[str, ...] = ()
    model: Any = field(default=None, repr=False)


def load_inputs(con: duckdb.DuckDBPyConnection) -> Inputs:
    """The competition's inputs for the connection's département (see the module docstring)."""
    for table in ("silver.road_points", "silver.accident_points", "bronze.accidents"):
        if not table_exists(con, table):
            raise AccidentsError(f"{table} is missing: run `accidents ingest` and `accidents features` first")
    points = load_road_points(con)
    missing = [c for c in ("road_km", "dist_to_commune_seat_km") if c not in points.columns]
    if missing:
        raise AccidentsError(f"silver.road_points lacks {', '.join(missing)} (built by an older release): "
                             "run `accidents features` again")
    accidents = con.execute(
        "SELECT a.accident_id, a.event_time, a.lat, a.lon, year(a.event_time) AS year, p.point_id "
        "FROM bronze.accidents a JOIN silver.accident_points p USING (accident_id, dep) "
        f"WHERE a.event_time IS NOT NULL AND a.lat IS NOT NULL AND a.dep = {DEP}").df()
    if accidents.empty:
        raise AccidentsError("no located, dated accident on the road points: nothing to train on")
    code = department_of(con)
    return Inputs(points, accidents, load_weather_history(con), code, department(code).metric_crs)


def newest_year(inputs: Inputs) -> int:
    return int(inputs.accidents["year"].max())


def train_candidates(con: duckdb.DuckDBPyConnection, *, candidates, trials: int, seed: int, threads: int,
                     tracking_uri: str, experiment: str, registered_model: str, synthetic: bool,
                     timeout: float | None = None, progress=None, set_champion: bool = True) -> TrainingSummary:
    """The competition on the newest year, the champion refitted, logged and registered (module docstring)."""
    started = time.perf_counter()
    say = progress or (lambda message: None)
    inputs = load_inputs(con)
    data_end = newest_year(inputs)
    say(f"training on {inputs.accidents['year'].nunique()} years up to {data_end}: candidates fitted on the years "
        f"before {data_end}, scored on every road point x hour of {data_end}")
    competition = compete(inputs, data_end, candidates=candidates, trials=trials, seed=seed, threads=threads,
                          timeout=timeout, progress=say)
    for note in competition.notes:
        say(f"warning: {note}")
    fit_seconds = time.perf_counter() - started
    summary = _log_and_register(competition, tracking_uri=tracking_uri, experiment=experiment,
                                registered_model=registered_model, department=inputs.department, seed=seed,
                                trials=trials, synthetic=synthetic, set_champion=set_champion)
    write_model_runs(con, summary)
    champion = competition.champion
    if champion:
        say(f"champion: {champion} ({competition.scores[champion].kind}) -> {registered_model} version "
            f"{summary.registered_version}" + ("" if set_champion else " (alias not moved)"))
    return TrainingSummary(summary.data_end, summary.fit_years, summary.champion, summary.champion_kind,
                           summary.registered_version, summary.parent_run_id, summary.candidates,
                           time.perf_counter() - started, fit_seconds, tuple(competition.notes),
                           competition.models.get(champion) if champion else None)


def validation_record(competition: Competition, name: str, *, synthetic: bool, department: str) -> dict[str, Any]:
    """What a stored model carries about how it won: its validation figures, every rival's, the years."""
    score = competition.scores[name]
    return {
        "candidate": name, "kind": score.kind, "validation_year": competition.data_end,
        "fit_years": list(competition.fit_years), "train_years": [*competition.fit_years, competition.data_end],
        "validation_loglik_per_accident": score.loglik_per_accident, "validation_expected": score.expected,
        "validation_observed": score.observed, "validation_expected_observed": score.ratio,
        "rivals": {n: {"loglik_per_accident": s.loglik_per_accident, "expected_observed": s.ratio,
                       "calibrated": s.calibrated} for n, s in competition.scores.items()},
        "synthetic": bool(synthetic), "department": department,
    }


def _log_and_register(competition: Competition, *, tracking_uri: str, experiment: str, registered_model: str,
                      department: str, seed: int, trials: int, synthetic: bool, set_champion: bool) -> TrainingSummary:
    import mlflow

    registry.ensure_experiment(tracking_uri, experiment)
    runs: list[CandidateRun] = []
    version = None
    champion = competition.champion
    tags = {"department": department, "synthetic": str(bool(synthetic)).lower(), "model_family": "intensity"}
    with mlflow.start_run(run_name=f"candidates-{competition.data_end}", tags=owner_tags()) as parent:
        mlflow.set_tags({**tags, "champion": champion or "none"})
        mlflow.log_params({"validation_year": competition.data_end, "fit_years": ",".join(map(str, competition.fit_years)),
                           "candidates": ",".join(competition.scores), "trials": trials, "seed": seed})
        for name, score in competition.scores.items():
            with mlflow.start_run(run_name=name, nested=True, tags=owner_tags()) as child:
                mlflow.set_tags({**tags, "candidate": name, "kind": score.kind, "champion": str(name == champion).lower()})
                mlflow.log_params({k: json.dumps(v) if isinstance(v, dict) else v for k, v in score.params.items()})
                mlflow.log_metrics({"valid_loglik_per_accident": score.loglik_per_accident,
                                    "valid_expected": score.expected, "valid_observed": score.observed,
                                    "valid_expected_observed": score.ratio, "seconds": score.seconds})
                if name == champion:
                    record = validation_record(competition, name, synthetic=synthetic, department=department)
                    with tempfile.TemporaryDirectory() as tmp:
                        folder = save_model(competition.models[name], Path(tmp) / registry.BUNDLE_ARTIFACT, record)
                        mlflow.log_artifacts(str(folder), artifact_path=registry.BUNDLE_ARTIFACT)
                    version = registry.register_run_model(
                        tracking_uri, registered_model, child.info.run_id,
                        {**tags, "candidate": name, "kind": score.kind, "validation_year": str(competition.data_end)},
                        champion=set_champion)
                runs.append(CandidateRun(name, score.kind, score.loglik_per_accident, score.expected, score.observed,
                                         score.calibrated, score.seconds, score.params, child.info.run_id))
        if version:
            mlflow.set_tag("registered_version", version)
    return TrainingSummary(competition.data_end, competition.fit_years, champion,
                           competition.scores[champion].kind if champion else None, version, parent.info.run_id,
                           tuple(runs), competition.seconds, competition.seconds)


def write_model_runs(con, summary: TrainingSummary) -> int:
    """Replace this département's rows of gold.model_runs (one per candidate of the last training)."""
    now = pd.Timestamp.now().floor("s")
    rows = pd.DataFrame([{
        "candidate": r.name, "kind": r.kind, "validation_year": summary.data_end,
        "fit_years": ",".join(map(str, summary.fit_years)), "validation_loglik_per_accident": r.loglik_per_accident,
        "validation_expected": r.expected, "validation_observed": r.observed,
        "validation_expected_observed": r.expected / r.observed if r.observed else None,
        "calibrated": r.calibrated, "is_champion": r.name == summary.champion,
        "params": json.dumps(r.params, sort_keys=True, default=str), "seconds": r.seconds,
        "mlflow_run_id": r.mlflow_run_id, "parent_run_id": summary.parent_run_id,
        "registered_version": summary.registered_version if r.name == summary.champion else None, "trained_at": now,
    } for r in summary.candidates])
    committed(con, lambda: write_department_rows(con, "gold.model_runs", "SELECT * FROM _model_runs"), _model_runs=rows)
    return len(rows)
