"""Gold: train/test datasets, trained + registered models (MLflow), hold-out evaluation."""

import dagster as dg

from dagster_accidents.assets.common import LAKE_KINDS, OWNERS
from dagster_accidents.metadata import markdown_table, summary_metadata, table_metadata
from dagster_accidents.resources import BaacSourceResource, DuckLakeResource, MLflowResource
from pipeline.gold.model_bundle import ALGORITHMS
from pipeline.gold.datasets import DEFAULT_TEST_YEARS, DEFAULT_TRAIN_YEARS, DEFAULT_VALID_YEARS

DATASET_TABLES = ("gold.train", "gold.test", "gold.temporal_train", "gold.temporal_valid", "gold.temporal_test")


class DatasetsConfig(dg.Config):
    sampler: str = "exclusion"
    test_size: float = 0.2
    train_years: list[int] = list(DEFAULT_TRAIN_YEARS)
    valid_years: list[int] = list(DEFAULT_VALID_YEARS)
    test_years: list[int] = list(DEFAULT_TEST_YEARS)


@dg.asset(
    key=["gold", "datasets"],
    deps=[["silver", "features"], ["silver", "features_reference"]],
    group_name="gold",
    kinds=LAKE_KINDS,
    owners=OWNERS,
    description="pipeline.gold.datasets.build_datasets: gold.train/test (80/20 reference split), "
                "gold.temporal_train/valid/test (by year), gold.feature_metadata, gold.weather_encoding.",
)
def datasets(config: DatasetsConfig, lake: DuckLakeResource) -> dg.MaterializeResult:
    from pipeline.gold.datasets import build_datasets

    with lake.connect() as con:
        summary = build_datasets(con, sampler=config.sampler, test_size=config.test_size,
                                 train_years=config.train_years, valid_years=config.valid_years,
                                 test_years=config.test_years, seed=lake.seed)
        preview = table_metadata(con, "gold.temporal_train")["preview"]
    return dg.MaterializeResult(metadata={
        "dagster/row_count": summary.rows.get("gold.temporal_train", 0),
        **summary_metadata(summary),
        "preview": preview,
    })


class TrainingConfig(dg.Config):
    """Defaults of `accidents train`."""

    protocol: str = "temporal"
    sampler: str = "uniform"
    algorithms: list[str] = list(ALGORITHMS)
    trials: int = 50
    objective: str = "pr_auc"
    timeout_per_algorithm_s: float | None = None


@dg.asset(
    key=["gold", "trained_models"],
    deps=[["gold", "datasets"]],
    group_name="gold",
    kinds={"catboost", "lightgbm", "xgboost", "mlflow", "duckdb"},
    owners=OWNERS,
    description="pipeline.gold.training.train_models: Optuna tuning per algorithm, one MLflow run each, "
                "the best registered as a new version with alias `champion`; writes gold.model_runs.",
)
def trained_models(context: dg.AssetExecutionContext, config: TrainingConfig, lake: DuckLakeResource,
                   mlflow: MLflowResource) -> dg.MaterializeResult:
    from pipeline.gold.training import train_models

    settings = lake.settings()
    tracking_uri = mlflow.uri_for(settings)
    with lake.connect() as con:
        summary = train_models(
            con, protocol=config.protocol, sampler=config.sampler, algorithms=tuple(config.algorithms),
            trials=config.trials, objective=config.objective, seed=lake.seed, tracking_uri=tracking_uri,
            experiment=mlflow.experiment, registered_model=mlflow.registered_model,
            department=lake.department, progress=False,
            timeout_per_algorithm=config.timeout_per_algorithm_s,
        )
        runs = table_metadata(con, "gold.model_runs")
    test_rows = [(r.algorithm, r.mlflow_run_id, r.registered_version or "",
                  *(r.test_metrics.get(m) for m in ("pr_auc", "roc_auc", "brier")), r.seconds)
                 for r in summary.results]
    context.log.info(f"registered {mlflow.registered_model} version {summary.registered_version} "
                     f"({summary.best_algorithm}), MLflow run {summary.parent_run_id}")
    return dg.MaterializeResult(metadata={
        "mlflow_run_id": summary.parent_run_id,
        "registered_model": mlflow.registered_model,
        "registered_version": summary.registered_version or "",
        "best_algorithm": summary.best_algorithm,
        "tracking_uri": tracking_uri if "@" not in tracking_uri else "(hidden: contains credentials)",
        "seconds": round(summary.seconds, 1),
        "results": dg.MetadataValue.md(markdown_table(
            ["algorithm", "mlflow run", "version", "test PR AUC", "test ROC AUC", "test Brier", "seconds"],
            test_rows)),
        "dagster/row_count": runs["dagster/row_count"],
        "preview": runs["preview"],
    })


class EvaluationConfig(dg.Config):
    sampler: str = "uniform"
    train_years: list[int] = list(DEFAULT_TRAIN_YEARS)
    valid_year: int = DEFAULT_VALID_YEARS[-1]
    test_year: int = DEFAULT_TEST_YEARS[0]
    atm: int = 1


@dg.asset(
    key=["gold", "evaluation"],
    deps=[["gold", "trained_models"], ["silver", "road_points"], ["silver", "accident_points"]],
    group_name="gold",
    kinds=LAKE_KINDS | {"mlflow"},
    owners=OWNERS,
    description="pipeline.gold.evaluation.evaluate: the champion on the hold-out year's full "
                "point x hour grid against the history and KDE baselines (and the demo's oracle).",
)
def evaluation(context: dg.AssetExecutionContext, config: EvaluationConfig, lake: DuckLakeResource,
               mlflow: MLflowResource, baac_source: BaacSourceResource) -> dg.MaterializeResult:
    from pipeline.gold.evaluation_mlflow import log_evaluation_to_mlflow
    from pipeline.gold.registry import load_champion
    from pipeline.gold.evaluation import evaluate

    settings = lake.settings()
    tracking_uri = mlflow.uri_for(settings)
    model, version = load_champion(tracking_uri, mlflow.registered_model)
    with lake.connect() as con:
        summary = evaluate(
            con, model=model, model_name=f"{mlflow.registered_model}-v{version}", sampler=config.sampler,
            test_year=config.test_year, train_years=config.train_years, valid_year=config.valid_year,
            truth=baac_source.demo_truth(settings), atm=config.atm, figure_dir=settings.data_dir / "evaluation",
        )
    run_id = log_evaluation_to_mlflow(tracking_uri, summary)
    context.log.info("\n" + summary.table)
    model_metrics = summary.metrics.get("model", {})
    metadata = {
        "mlflow_run_id": run_id,
        "model": summary.model_name,
        "model_version": version,
        "test_year": summary.test_year,
        "observed_accidents": summary.observed_accidents,
        "grid_rows": summary.n_rows,
        "model_pai_5pct": model_metrics.get("cell_pai_5pct"),
        "model_pr_auc": model_metrics.get("pr_auc"),
        "table": dg.MetadataValue.md(f"```\n{summary.table}\n```"),
        **summary_metadata(summary, skip=("curves", "table", "calibration", "rows_written")),
        "dagster/row_count": summary.rows_written,
    }
    return dg.MaterializeResult(metadata={k: v for k, v in metadata.items() if v is not None})
