"""The predecessor's protocol, reproduced for comparison: CatBoost / LightGBM / XGBoost case-control
classifiers tuned with Optuna on a random 80/20 split of silver.features_reference (leave-one-out
history over every year), tested once, tracked in MLflow. Its scores flatter (location alone
separates the classes, and the split leaks time); its models are registered but never published
(pipeline.gold.intensity.bundle refuses them): the product's models are the intensity candidates of
pipeline.gold.training.

Order of work, so that the test rows can influence nothing:
1. tune each algorithm on (train, valid) rows (see pipeline.gold.modeling.data);
2. refit the best parameters with the chosen number of rounds;
3. only then read the test rows, score every final model once, log runs, register the best
   (by the validation objective), never as `champion`.
Models are trained unweighted on the case-control sample; the negatives' sampling weight is stored
in the bundle for prior correction (see pipeline.gold.model_bundle). Large trainings fit on capped
random samples (`tune_rows`, `refit_rows`, see pipeline.gold.modeling.data.fit_rows) whose extra
negative subsampling multiplies that weight.
"""

from __future__ import annotations

import json
import multiprocessing
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from pipeline.core.errors import AccidentsError
from pipeline.core.features import FEATURE_COLUMNS
from pipeline.core.lake import committed, ensure_tables, replace_department_table, write_department_rows
from pipeline.gold import algorithms as algorithm_registry
from pipeline.gold import registry
from pipeline.gold.model_bundle import RiskModel
from pipeline.gold.modeling import data as data_module
from pipeline.gold.modeling.figures import save_figures
from pipeline.gold.modeling.parallelism import check_parallelism, parallelism
from pipeline.gold.modeling.reference import reference_report
from pipeline.gold.modeling.scores import classification_metrics, is_better
from pipeline.gold.modeling.tuning import tune_algorithm
from pipeline.gold.params import MIN_ROWS_CAP, REFIT_ROWS, TUNE_ROWS
from pipeline.gold.run_owner import owner_tags

if TYPE_CHECKING:
    import duckdb

    from pipeline.gold.modeling.data import FitRows, Rows, TrainingData

OBJECTIVE_CHOICES = ("pr_auc", "logloss", "recall")
PROTOCOL_CHOICES = ("reference",)
SAMPLER_CHOICES = ("exclusion", "uniform")

MODEL_RUNS_DDL = """
CREATE TABLE IF NOT EXISTS gold.reference_model_runs (
    algorithm VARCHAR, protocol VARCHAR, sampler VARCHAR, objective VARCHAR, mlflow_run_id VARCHAR,
    parent_run_id VARCHAR, best_params VARCHAR, best_rounds INTEGER, trials INTEGER,
    validation_value DOUBLE, validation_metrics VARCHAR, test_metrics VARCHAR,
    test_recall DOUBLE, test_precision DOUBLE, test_f1 DOUBLE, test_roc_auc DOUBLE, test_pr_auc DOUBLE,
    test_log_loss DOUBLE, seconds DOUBLE, is_best BOOLEAN, registered_version VARCHAR,
    trained_at TIMESTAMP)
"""


@dataclass(frozen=True)
class AlgorithmResult:
    algorithm: str
    best_params: dict[str, Any]
    best_rounds: int
    validation_value: float
    trials: int
    pruned: int
    seconds: float  # tuning + refit, wall clock
    validation_metrics: dict[str, float]
    test_metrics: dict[str, float] = field(default_factory=dict)
    mlflow_run_id: str | None = None
    registered_version: str | None = None
    cpu_seconds: float = 0.0  # process CPU time of tuning + refit (wall time on an idle machine)
    tuning_seconds: float = 0.0  # the Optuna trials alone, wall clock


@dataclass(frozen=True)
class TrainingSummary:
    protocol: str
    sampler: str
    objective: str
    best_algorithm: str
    registered_version: str | None
    parent_run_id: str
    results: tuple[AlgorithmResult, ...]
    seconds: float
    reference_text: str | None = None
    models: dict[str, RiskModel] = field(default_factory=dict, repr=False)
    fit_seconds: float = 0.0  # tuning + refit of every algorithm, wall clock (before MLflow logging)
    tune_rows: int = 0  # rows the trials fitted on (a sample past the tune_rows cap)
    refit_rows: int = 0  # rows the final models fitted on
    workers: int = 1
    threads: int = 1


def validate_training_args(*, protocol: str, sampler: str, algorithms, trials: int, objective: str) -> tuple[str, ...]:
    if protocol not in PROTOCOL_CHOICES:
        raise AccidentsError(f"protocol={protocol!r}: expected one of {', '.join(PROTOCOL_CHOICES)}")
    if sampler not in SAMPLER_CHOICES:
        raise AccidentsError(f"sampler={sampler!r}: expected one of {', '.join(SAMPLER_CHOICES)}")
    if objective not in OBJECTIVE_CHOICES:
        raise AccidentsError(f"objective={objective!r}: expected one of {', '.join(OBJECTIVE_CHOICES)}")
    algos = tuple(dict.fromkeys(a.strip().lower() for a in algorithms if a.strip()))
    if not algos:
        raise AccidentsError("algorithms: give at least one of " + ", ".join(algorithm_registry.names()))
    for name in algos:
        algorithm_registry.get(name)  # an unknown name is an error listing the known ones
    if not isinstance(trials, int) or trials < 1:
        raise AccidentsError(f"trials={trials!r}: expected a positive integer")
    return algos


def model_template(data: TrainingData, algorithm: str) -> RiskModel:
    """A RiskModel without booster: the encoding and calibration every fit of `algorithm` shares."""
    return RiskModel(
        algorithm=algorithm, booster=None, feature_columns=list(FEATURE_COLUMNS),
        categorical_codes=data.categorical_codes, negative_weight=data.negative_weight,
        sampler=data.sampler, history_cutoff=data.history_cutoff, train_years=data.train_years,
        history_lookback_years=data.history_lookback_years,
    )


def fit_final_model(template: RiskModel, rows: Rows, params: dict[str, Any], rounds: int,
                    *, objective: str, seed: int, threads: int = 2) -> RiskModel:
    """Fit `params` for exactly `rounds` boosting rounds on `rows` (no early stopping)."""
    booster, _ = template.spec.train(template, params, template.encode(rows.frame), rows.y,
                                     objective=objective, seed=seed, rounds=rounds, threads=threads)
    return replace(template, booster=booster, params={**params, "rounds": int(rounds), "seed": int(seed)})


def with_negative_weight(template: RiskModel, negative_weight: float) -> RiskModel:
    return replace(template, negative_weight=float(negative_weight))


def tune_and_refit(template: RiskModel, rows: FitRows, *, objective: str, trials: int, seed: int,
                   timeout: float | None, progress: bool, threads: int):
    """Tune one algorithm on `rows.tune`, then fit its best parameters on the tuning rows (the tuned
    model, scored on the validation rows) and on the refit rows (the final model) -> (tuning result,
    tuned model, final model, wall s, CPU s)."""
    t0, cpu0 = time.perf_counter(), time.process_time()
    tuned_template = with_negative_weight(template, rows.tune_negative_weight)
    tuned = tune_algorithm(tuned_template, rows.tune, rows.tune_valid, objective=objective, trials=trials,
                           seed=seed, timeout=timeout, progress=progress, threads=threads)
    refit = dict(objective=objective, seed=seed, threads=threads)
    tuned_model = fit_final_model(tuned_template, rows.tune, tuned.best_params, tuned.best_rounds, **refit)
    final = fit_final_model(with_negative_weight(template, rows.refit_negative_weight), rows.refit,
                            tuned.best_params, tuned.best_rounds, **refit)
    return tuned, tuned_model, final, time.perf_counter() - t0, time.process_time() - cpu0


def _tune_all(algos: tuple[str, ...], workers: int, *, data: TrainingData, rows: FitRows, **tune):
    """(algorithm, tune_and_refit outcome) in the order of `algos`: in this process, or in `workers`
    spawned processes (spawn, not fork: a forked child of a process that already ran OpenMP can hang).
    Algorithms are submitted in order, so the slowest (catboost, first by name) starts first. A worker
    receives only the FitRows (the samples), not the whole TrainingData."""
    if workers == 1 or len(algos) == 1:
        for algorithm in algos:
            yield algorithm, tune_and_refit(model_template(data, algorithm), rows, **tune)
        return

    with ProcessPoolExecutor(max_workers=min(workers, len(algos)),
                             mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [(a, pool.submit(tune_and_refit, model_template(data, a), rows, **tune)) for a in algos]
        for algorithm, future in futures:
            yield algorithm, future.result()


def _log(progress: bool, message: str) -> None:
    if progress:
        print(message, file=sys.stderr, flush=True)


def train_models(
    con: duckdb.DuckDBPyConnection,
    *,
    protocol: str = "reference",
    sampler: str = "exclusion",
    algorithms: tuple[str, ...] | None = None,
    trials: int = 50,
    objective: str = "pr_auc",
    seed: int = 42,
    tracking_uri: str,
    experiment: str = "accidents-988",
    registered_model: str = "accidents-risk-988",
    department: str = "988",
    progress: bool = True,
    timeout_per_algorithm: float | None = None,
    threads: int | None = None,
    workers: int | None = None,
    tune_rows: int | None = TUNE_ROWS,
    refit_rows: int | None = REFIT_ROWS,
) -> TrainingSummary:
    """Tune, refit, test once, log to MLflow, register the best model; writes gold.model_runs
    (and gold.reference_report for protocol='reference').

    `threads` is per model fit. Processes that train with threads > 1 should start with
    OMP_WAIT_POLICY=PASSIVE (the CLI sets it): spinning OpenMP threads slow LightGBM/XGBoost 4-10x
    on a shared machine. The best model is registered; the
    `champion` alias never moves to it.
    `workers` > 1 tunes that many algorithms at once, each in its own process (results do not depend
    on it: every study is sequential and seeded); with threads=1 a 2-core machine runs two
    single-threaded fits instead of one fit whose two threads wait on each other at every split.
    None for either: `parallelism` fills the cores (2 workers x 1 thread on 2 cores).
    `tune_rows` / `refit_rows` cap the rows of the trials / of the final fit (None: every row); see
    pipeline.gold.modeling.data.fit_rows. Below the caps nothing is sampled.
    """
    algos = validate_training_args(protocol=protocol, sampler=sampler,
                                   algorithms=algorithms or algorithm_registry.names(),
                                   trials=trials, objective=objective)
    check_parallelism(workers, threads)  # before reading any row: a bad value fails at once
    _check_caps(tune_rows, refit_rows)
    started = time.perf_counter()
    data = data_module.load_training_data(con, protocol, sampler, seed=seed)
    rows = data_module.fit_rows(data, tune_rows=tune_rows, refit_rows=refit_rows, seed=seed)
    workers, threads = parallelism(workers, threads, len(algos), row_trials=len(rows.tune) * trials)
    _log(progress, f"training {protocol}/{sampler}: {len(data.train)} train rows, {len(data.valid)} "
                   f"validation rows, negative weight {data.negative_weight:.1f}; {workers} worker(s) x "
                   f"{threads} thread(s)")
    if rows.tune is not data.train or rows.refit is not data.refit:
        _log(progress, f"capped samples: trials fit on {len(rows.tune)} rows (early stopping on "
                       f"{len(rows.tune_valid)}), final models on {len(rows.refit)} rows (negative weight "
                       f"{rows.refit_negative_weight:.1f})")
    # 1-2. Tuning and refit see only train/valid rows.
    models, partial = _fit_all(algos, workers, data=data, rows=rows, objective=objective, trials=trials, seed=seed,
                               timeout=timeout_per_algorithm, progress=progress, threads=threads)
    fit_seconds = time.perf_counter() - started
    best_algorithm = _best(algos, partial, objective)
    # 3. The test rows are read now, once, and scored by the final models.
    test = data_module.load_test_rows(con, protocol, sampler)
    test_scores = _test_once(test, models, partial)
    run = _Run(protocol, sampler, objective, trials, seed, department, tune_rows, refit_rows, workers, threads)
    parent_run_id, version, reference_text = _log_and_register(
        con, run, models, partial, data, rows, test, test_scores, best_algorithm, started=started,
        tracking_uri=tracking_uri, experiment=experiment, registered_model=registered_model, progress=progress)
    results = tuple(partial[a] for a in algos)
    write_model_runs(con, results, protocol=protocol, sampler=sampler, objective=objective,
                     parent_run_id=parent_run_id, best_algorithm=best_algorithm)
    _log(progress, f"best: {best_algorithm} -> {registered_model} version {version}"
                   + " (reference protocol: never champion)")
    return TrainingSummary(
        protocol=protocol, sampler=sampler, objective=objective, best_algorithm=best_algorithm,
        registered_version=version, parent_run_id=parent_run_id, results=results,
        seconds=time.perf_counter() - started, reference_text=reference_text, models=models,
        fit_seconds=fit_seconds, tune_rows=len(rows.tune), refit_rows=len(rows.refit), workers=workers,
        threads=threads)


def _check_caps(tune_rows: int | None, refit_rows: int | None) -> None:
    for name, cap in (("tune_rows", tune_rows), ("refit_rows", refit_rows)):
        if cap is not None and (not isinstance(cap, int) or isinstance(cap, bool) or cap < MIN_ROWS_CAP):
            raise AccidentsError(f"{name}={cap!r}: expected at least {MIN_ROWS_CAP} rows (or None: every row)")


def _fit_all(algos, workers: int, *, data: TrainingData, progress: bool, objective: str, **tune):
    """Tune and refit every algorithm -> ({algorithm: final model}, {algorithm: AlgorithmResult})."""
    models: dict[str, RiskModel] = {}
    partial: dict[str, AlgorithmResult] = {}
    for algorithm, (tuned, tuned_model, final, seconds, cpu) in _tune_all(
            algos, workers, data=data, progress=progress, objective=objective, **tune):
        valid_metrics = classification_metrics(data.valid.y, tuned_model.predict_score(data.valid.frame))
        models[algorithm] = final
        partial[algorithm] = AlgorithmResult(
            algorithm=algorithm, best_params=tuned.best_params, best_rounds=tuned.best_rounds,
            validation_value=tuned.best_value, trials=tuned.trials, pruned=tuned.pruned, seconds=seconds,
            validation_metrics=valid_metrics, cpu_seconds=cpu, tuning_seconds=tuned.seconds)
        _log(progress, f"[{algorithm}] best {objective}={tuned.best_value:.4f} rounds={tuned.best_rounds} "
                       f"({tuned.trials} trials, {tuned.pruned} pruned, {seconds:.1f}s)")
    return models, partial


def _best(algos, partial: dict[str, AlgorithmResult], objective: str) -> str:
    best = algos[0]
    for algorithm in algos[1:]:
        if is_better(objective, partial[algorithm].validation_value, partial[best].validation_value):
            best = algorithm
    return best


def _test_once(test: Rows, models: dict[str, RiskModel], partial: dict[str, AlgorithmResult]) -> dict:
    """Score the held-out rows with every final model, once; their metrics go to `partial`."""
    scores = {a: models[a].predict_score(test.frame) for a in models}
    for a, score in scores.items():
        metrics = classification_metrics(test.y, score)
        models[a].metrics = {**{f"valid_{k}": v for k, v in partial[a].validation_metrics.items()},
                             **{f"test_{k}": v for k, v in metrics.items()}}
        partial[a] = replace(partial[a], test_metrics=metrics)
    return scores


@dataclass(frozen=True)
class _Run:
    """What one training was asked, as MLflow records it."""

    protocol: str
    sampler: str
    objective: str
    trials: int
    seed: int
    department: str
    tune_rows_cap: int | None
    refit_rows_cap: int | None
    workers: int
    threads: int


def _log_and_register(con, run: _Run, models, partial, data, rows, test, test_scores, best_algorithm: str, *,
                      started: float, tracking_uri: str, experiment: str, registered_model: str, progress: bool):
    """One parent MLflow run with a child per algorithm; the best registered (never as champion)
    -> (parent run id, version, reference report text)."""
    import mlflow

    registry.ensure_experiment(tracking_uri, experiment)
    with mlflow.start_run(run_name=f"train-{run.protocol}-{run.sampler}", tags=owner_tags()) as parent:
        mlflow.set_tags({"protocol": run.protocol, "sampler": run.sampler, "objective": run.objective,
                         "department": run.department, "best_algorithm": best_algorithm})
        mlflow.log_params({"protocol": run.protocol, "sampler": run.sampler, "objective": run.objective,
                           "trials": run.trials, "seed": run.seed, "algorithms": ",".join(models),
                           "negative_weight": rows.refit_negative_weight, "train_rows": len(rows.refit),
                           "tune_rows": len(rows.tune), "tune_valid_rows": len(rows.tune_valid),
                           "tune_rows_cap": run.tune_rows_cap, "refit_rows_cap": run.refit_rows_cap,
                           "available_train_rows": len(data.refit), "valid_rows": len(data.valid),
                           "test_rows": len(test), "workers": run.workers, "threads": run.threads})
        model_uris: dict[str, str] = {}
        for algorithm in models:
            run_id, model_uris[algorithm] = _log_algorithm_run(models[algorithm], partial[algorithm], test,
                                                               test_scores[algorithm], data, protocol=run.protocol,
                                                               objective=run.objective)
            partial[algorithm] = replace(partial[algorithm], mlflow_run_id=run_id)
        best = partial[best_algorithm]
        mlflow.log_metrics({f"best_valid_{run.objective}": best.validation_value,
                            "seconds": time.perf_counter() - started})
        reference_text = _reference_outputs(con, test, test_scores, partial, progress)
        version = registry.register_version(
            tracking_uri, registered_model, model_uris[best_algorithm], best.mlflow_run_id,
            {"algorithm": best_algorithm, "protocol": run.protocol, "sampler": run.sampler,
             "objective": run.objective, "department": run.department}, champion=False)
        partial[best_algorithm] = replace(best, registered_version=version)
        mlflow.set_tag("registered_version", version)
        return parent.info.run_id, version, reference_text


def _log_algorithm_run(model: RiskModel, result: AlgorithmResult, test: Rows, test_score,
                       data: TrainingData, *, protocol: str, objective: str) -> tuple[str, str]:
    """Nested child run: params, validation/test metrics, figures, native model and bundle.
    Returns (run id, logged model URI)."""
    import mlflow

    with mlflow.start_run(run_name=model.algorithm, nested=True, tags=owner_tags()) as run:
        mlflow.set_tags({"algorithm": model.algorithm, "protocol": protocol, "sampler": model.sampler,
                         "objective": objective})
        mlflow.log_params({**{f"param_{k}": v for k, v in result.best_params.items()},
                           "rounds": result.best_rounds, "trials": result.trials, "pruned": result.pruned,
                           "negative_weight": model.negative_weight})
        mlflow.log_metrics({**{f"valid_{k}": v for k, v in result.validation_metrics.items()},
                            **{f"test_{k}": v for k, v in result.test_metrics.items()},
                            f"valid_objective_{objective}": result.validation_value,
                            "train_seconds": result.seconds, "train_cpu_seconds": result.cpu_seconds})
        with tempfile.TemporaryDirectory() as tmp:
            paths = save_figures(test.y, test_score, model.spec.importance(model), Path(tmp),
                                 title=f"{model.algorithm} ({protocol}, test)")
            for path in paths:
                mlflow.log_artifact(str(path), artifact_path="figures")
        model_uri = registry.log_risk_model(model, data.valid.frame.head(50))
        return run.info.run_id, model_uri


def _reference_outputs(con, test: Rows, test_scores, results: dict[str, AlgorithmResult], progress: bool) -> str:
    import mlflow

    frame, text = reference_report(test.y, test_scores, {a: r.seconds for a, r in results.items()})
    con.register("_reference_report", frame)
    try:
        replace_department_table(con, "gold.reference_report",
                      'SELECT algorithm, metric, "class", CAST(value AS DOUBLE) AS value FROM _reference_report')
    finally:
        con.unregister("_reference_report")
    mlflow.log_text(text, "reference_report.txt")
    mlflow.log_table(frame, "reference_report.json")
    if progress:
        print(text, flush=True)
    return text


def write_model_runs(con, results, *, protocol: str, sampler: str, objective: str,
                     parent_run_id: str, best_algorithm: str) -> int:
    """Replace this (département, protocol, sampler)'s rows of gold.reference_model_runs in one transaction."""
    rows = pd.DataFrame([{
        "algorithm": r.algorithm, "protocol": protocol, "sampler": sampler, "objective": objective,
        "mlflow_run_id": r.mlflow_run_id, "parent_run_id": parent_run_id,
        "best_params": json.dumps(r.best_params, sort_keys=True), "best_rounds": r.best_rounds,
        "trials": r.trials, "validation_value": r.validation_value,
        "validation_metrics": json.dumps(r.validation_metrics, sort_keys=True),
        "test_metrics": json.dumps(r.test_metrics, sort_keys=True),
        "test_recall": r.test_metrics.get("recall"), "test_precision": r.test_metrics.get("precision"),
        "test_f1": r.test_metrics.get("f1"), "test_roc_auc": r.test_metrics.get("roc_auc"),
        "test_pr_auc": r.test_metrics.get("pr_auc"), "test_log_loss": r.test_metrics.get("log_loss"),
        "seconds": r.seconds, "is_best": r.algorithm == best_algorithm,
        "registered_version": r.registered_version, "trained_at": pd.Timestamp.now().floor("s"),
    } for r in results])
    ensure_tables(con, MODEL_RUNS_DDL)
    committed(con, lambda: write_department_rows(con, "gold.reference_model_runs", "SELECT * FROM _model_runs",
                                                 key={"protocol": protocol, "sampler": sampler}),
              _model_runs=rows)
    return len(rows)
