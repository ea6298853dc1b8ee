"""Gold: train/test datasets, trained + registered models (MLflow), hold-out evaluation.

Every rule (which model may become champion, which version is evaluated and how it is labelled,
the demo truth) is in pipeline.usecases; these assets translate config and present metadata."""

import dagster as dg

from dagster_accidents.assets.common import LAKE_KINDS, OWNERS
from dagster_accidents.config import config_class, params_from
from dagster_accidents.metadata import evaluation_table, summary_metadata, table_metadata
from dagster_accidents.partitions import departements
from dagster_accidents.resources import BaacSourceResource, DuckLakeResource, MLflowResource
from pipeline.gold import algorithms
from pipeline.gold.params import EvaluateParams, TrainParams

TrainingConfig = config_class(TrainParams, "TrainingConfig", skip=("test_size",))
DatasetsConfig = config_class(TrainParams, "DatasetsConfig", only=("protocol", "sampler", "test_size", "seed"))
EvaluationConfig = config_class(EvaluateParams, "EvaluationConfig", skip=("truth", "figures"))


@dg.asset(
    key=["gold", "datasets"],
    deps=[["silver", "features"], ["silver", "features_reference"]],
    partitions_def=departements,
    group_name="gold",
    kinds=LAKE_KINDS,
    owners=OWNERS,
    description="pipeline.usecases.training.build_gold_datasets: gold.train/test (80/20 reference split), "
                "gold.temporal_train/valid/test (by year), gold.feature_metadata, gold.weather_encoding.",
)
def datasets(context: dg.AssetExecutionContext, config: DatasetsConfig, lake: DuckLakeResource) -> dg.MaterializeResult:
    from pipeline.usecases.training import build_gold_datasets

    dep = context.partition_key
    summary = build_gold_datasets(lake.settings_for(dep), params_from(config, TrainParams))
    with lake.connect(read_only=True, dep=dep) as con:
        preview = table_metadata(con, "gold.temporal_train", where="WHERE dep = ?", params=[dep])["preview"]
    return dg.MaterializeResult(metadata={
        "dagster/row_count": summary.rows.get("gold.temporal_train", 0),
        **summary_metadata(summary),
        "preview": preview,
    })


@dg.asset(
    key=["gold", "trained_models"],
    deps=[["gold", "datasets"]],
    partitions_def=departements,
    group_name="gold",
    kinds={*algorithms.names(), "mlflow", "duckdb"},
    owners=OWNERS,
    description="pipeline.usecases.training.train_and_register: Optuna tuning per algorithm, one MLflow run "
                "each, the best registered as a new version; only a temporal model moves `champion`.",
)
def trained_models(context: dg.AssetExecutionContext, config: TrainingConfig, lake: DuckLakeResource,
                   mlflow: MLflowResource) -> dg.MaterializeResult:
    from pipeline.usecases.training import may_become_champion, train_and_register

    settings = lake.settings_for(context.partition_key)
    tracking_uri = mlflow.uri_for(settings)
    summaries = train_and_register(settings, params_from(config, TrainParams), tracking_uri=tracking_uri,
                                   progress=False, build_datasets=False)
    rows = [dg.TableRecord({"protocol": s.protocol, "algorithm": r.algorithm, "mlflow_run": r.mlflow_run_id or "",
                            "version": r.registered_version or "",
                            "test_pr_auc": round(r.test_metrics.get("pr_auc", float("nan")), 4),
                            "test_roc_auc": round(r.test_metrics.get("roc_auc", float("nan")), 4),
                            "seconds": round(r.seconds, 1)})
            for s in summaries for r in s.results]
    last = summaries[-1]
    for s in summaries:
        moved = "moved `champion` to it" if may_become_champion(s.protocol) else "champion unchanged"
        context.log.info(f"{s.protocol}: registered {settings.registered_model} version {s.registered_version} "
                         f"({s.best_algorithm}); {moved}")
    with lake.connect(read_only=True, dep=context.partition_key) as con:
        runs = table_metadata(con, "gold.model_runs", where="WHERE dep = ?", params=[context.partition_key])
    return dg.MaterializeResult(metadata={
        "mlflow_run_id": last.parent_run_id,
        "registered_model": settings.registered_model,
        "registered_version": last.registered_version or "",
        "best_algorithm": last.best_algorithm,
        "champion_moved": any(may_become_champion(s.protocol) for s in summaries),
        "tracking_uri": tracking_uri if "@" not in tracking_uri else "(hidden: contains credentials)",
        "seconds": round(sum(s.seconds for s in summaries), 1),
        "results": dg.MetadataValue.table(rows),
        "dagster/row_count": runs["dagster/row_count"],
        "preview": runs["preview"],
    })


@dg.asset(
    key=["gold", "evaluation"],
    deps=[["gold", "trained_models"], ["silver", "road_points"], ["silver", "accident_points"]],
    partitions_def=departements,
    group_name="gold",
    kinds=LAKE_KINDS | {"mlflow"},
    owners=OWNERS,
    description="pipeline.usecases.evaluation.evaluate_models: the temporal model(s) on the hold-out year's "
                "full point x hour grid against the hotspot baselines (counts, KDE, shrunk counts) and, "
                "on the demo, the oracles.",
)
def evaluation(context: dg.AssetExecutionContext, config: EvaluationConfig, lake: DuckLakeResource,
               mlflow: MLflowResource, baac_source: BaacSourceResource) -> dg.MaterializeResult:
    from pipeline.usecases.evaluation import evaluate_models

    settings = lake.settings_for(context.partition_key)
    results = evaluate_models(settings, params_from(config, EvaluateParams), source=baac_source.open(settings),
                              tracking_uri=mlflow.uri_for(settings), progress=context.log.info)
    metadata = {"grid_rows": results[0].summary.n_rows, "test_year": results[0].summary.test_year,
                "observed_accidents": results[0].summary.observed_accidents,
                "dagster/row_count": sum(r.summary.rows_written for r in results)}
    for r in results:
        context.log.info("\n" + r.summary.table)
        prefix = f"{r.sampler}/"
        metadata[f"{prefix}model"] = f"{r.summary.model_name} ({r.algorithm})"
        metadata[f"{prefix}mlflow_run_id"] = r.mlflow_run_id or ""
        metadata[f"{prefix}metrics"] = evaluation_table(r.summary.metrics)
    return dg.MaterializeResult(metadata=metadata)
