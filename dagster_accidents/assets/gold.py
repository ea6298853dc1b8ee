"""Gold: the reference protocol's train/test split, the intensity candidates' competition (MLflow
champion), the backtest evaluation.

Every rule (which model may become champion, the backtest's years and lag, the demo truth) is in
pipeline.usecases; these assets translate config and present metadata."""

import dagster as dg

from dagster_accidents.assets.common import LAKE_KINDS, OWNERS
from dagster_accidents.config import config_class, params_from
from dagster_accidents.metadata import evaluation_table, summary_metadata, synthetic_metadata, table_metadata
from dagster_accidents.partitions import departements
from dagster_accidents.resources import BaacSourceResource, DuckLakeResource, MLflowResource
from pipeline.core.lake import table_exists
from pipeline.gold import algorithms
from pipeline.gold.params import EvaluateParams, TrainParams
from pipeline.usecases.evaluation import evaluate_backtest
from pipeline.usecases.training import build_gold_datasets, train_and_register

TrainingConfig = config_class(TrainParams, "TrainingConfig", skip=("test_size",))
DatasetsConfig = config_class(TrainParams, "DatasetsConfig", only=("sampler", "test_size", "seed"))
EvaluationConfig = config_class(EvaluateParams, "EvaluationConfig", skip=("truth", "figures"))
CANDIDATE_COLUMNS = ("candidate", "kind", "validation_ll_per_accident", "validation_expected_observed",
                     "calibrated", "champion", "backtest_ll_per_accident", "backtest_expected_pai_5pct")


@dg.asset(
    key=["gold", "datasets"],
    deps=[["silver", "features"], ["silver", "features_reference"]],
    partitions_def=departements,
    group_name="gold",
    kinds=LAKE_KINDS,
    owners=OWNERS,
    description="pipeline.usecases.training.build_gold_datasets: gold.train/test, the predecessor's 80/20 "
                "case-control split (reference protocol only), gold.feature_metadata, gold.weather_encoding.",
)
def datasets(context: dg.AssetExecutionContext, config: DatasetsConfig, lake: DuckLakeResource) -> dg.MaterializeResult:
    dep = context.partition_key
    summary = build_gold_datasets(lake.settings_for(dep), params_from(config, TrainParams))
    with lake.connect(read_only=True, dep=dep) as con:
        preview = table_metadata(con, "gold.train", where="WHERE dep = ?", params=[dep])["preview"]
        provenance = synthetic_metadata(con)
    return dg.MaterializeResult(metadata={
        "dagster/row_count": summary.rows.get("gold.train", 0),
        **summary_metadata(summary),
        "preview": preview,
        **provenance,
    })


def candidates_table(con, dep: str) -> dg.MetadataValue:
    """The champion's case: every candidate's validation figures (what the place was won on) beside its
    figures in the latest backtest (gold.evaluation), as numbers."""
    runs = con.execute("SELECT candidate, kind, validation_loglik_per_accident, validation_expected_observed, "
                       "calibrated, is_champion FROM gold.model_runs WHERE dep = ? ORDER BY "
                       "validation_loglik_per_accident DESC", [dep]).fetchall()
    backtest = {}
    if table_exists(con, "gold.evaluation"):
        for method, metric, value in con.execute(
                "SELECT method, metric, value FROM gold.evaluation WHERE dep = ? AND method LIKE 'candidate_%' AND "
                "metric IN ('loglik_per_accident', 'cell_expected_pai_5pct') AND evaluated_at = (SELECT max(evaluated_at) "
                "FROM gold.evaluation WHERE dep = ?)", [dep, dep]).fetchall():
            backtest.setdefault(method.removeprefix("candidate_"), {})[metric] = value
    rows = [dg.TableRecord({
        "candidate": name, "kind": kind, "validation_ll_per_accident": round(ll, 4),
        "validation_expected_observed": round(ratio, 3), "calibrated": bool(calibrated), "champion": bool(champion),
        "backtest_ll_per_accident": _rounded(backtest.get(name, {}).get("loglik_per_accident")),
        "backtest_expected_pai_5pct": _rounded(backtest.get(name, {}).get("cell_expected_pai_5pct"))})
        for name, kind, ll, ratio, calibrated, champion in runs]
    kinds = {"calibrated": "bool", "champion": "bool", "candidate": "string", "kind": "string"}
    schema = dg.TableSchema(columns=[dg.TableColumn(c, kinds.get(c, "float")) for c in CANDIDATE_COLUMNS])
    return dg.MetadataValue.table(rows, schema=schema)


def _rounded(value):
    return None if value is None else round(float(value), 4)


def why_it_won(summary) -> str:
    ranked = sorted((c for c in summary.candidates if c.calibrated), key=lambda c: -c.loglik_per_accident)
    if not ranked:
        return "no candidate was calibrated on the validation year: the champion did not move"
    best = ranked[0]
    text = (f"{best.name} ({best.kind}) has the best log-likelihood per accident on every road point x hour of "
            f"{summary.data_end} ({best.loglik_per_accident:.3f}, expected/observed "
            f"{best.expected / max(best.observed, 1):.2f}) among the calibrated candidates")
    if len(ranked) > 1:
        text += f", {best.loglik_per_accident - ranked[1].loglik_per_accident:+.3f} over {ranked[1].name}"
    return text + "; fitted on the years before it, then refitted on every year up to it."


@dg.asset(
    key=["gold", "trained_models"],
    deps=[["silver", "road_points"], ["silver", "accident_points"], ["silver", "weather_hourly"]],
    partitions_def=departements,
    group_name="gold",
    kinds={*algorithms.names(), "mlflow", "duckdb"},
    owners=OWNERS,
    description="pipeline.usecases.training.train_and_register: the intensity candidates (hotspot map, Poisson "
                "GLM, CatBoost/LightGBM/XGBoost on the GLM tuned with Optuna, blend) fitted on the years before "
                "the newest and scored on every road point x hour of it; the best calibrated one is refitted, "
                "registered in MLflow and aliased `champion`. One MLflow run per candidate.",
)
def trained_models(context: dg.AssetExecutionContext, config: TrainingConfig, lake: DuckLakeResource,
                   mlflow: MLflowResource) -> dg.MaterializeResult:
    dep = context.partition_key
    settings = lake.settings_for(dep)
    tracking_uri = mlflow.uri_for(settings)
    summaries = train_and_register(settings, params_from(config, TrainParams), tracking_uri=tracking_uri,
                                   progress=context.log.info)
    intensity = next((s for s in summaries if hasattr(s, "candidates")), None)
    metadata = {"registered_model": settings.registered_model,
                "tracking_uri": tracking_uri if "@" not in tracking_uri else "(hidden: contains credentials)",
                "seconds": round(sum(s.seconds for s in summaries), 1)}
    with lake.connect(read_only=True, dep=dep) as con:
        metadata.update(synthetic_metadata(con))
        if intensity is not None:
            metadata.update({
                "champion": intensity.champion or "none", "champion_kind": intensity.champion_kind or "",
                "registered_version": intensity.registered_version or "", "validation_year": intensity.data_end,
                "why_it_won": dg.MetadataValue.md(why_it_won(intensity)),
                "candidates": candidates_table(con, dep), "mlflow_run_id": intensity.parent_run_id,
                "dagster/row_count": len(intensity.candidates)})
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    key=["gold", "evaluation"],
    deps=[["gold", "trained_models"], ["silver", "road_points"], ["silver", "accident_points"]],
    partitions_def=departements,
    group_name="gold",
    kinds=LAKE_KINDS | {"mlflow"},
    owners=OWNERS,
    description="pipeline.usecases.evaluation.evaluate_backtest: the training rerun with the data published "
                "before the held-out year (same lag as tomorrow's prediction), then the champion, every candidate, "
                "the hotspot baselines and, on the demo, the oracles on every point x hour of that year.",
)
def evaluation(context: dg.AssetExecutionContext, config: EvaluationConfig, lake: DuckLakeResource,
               mlflow: MLflowResource, baac_source: BaacSourceResource) -> dg.MaterializeResult:
    settings = lake.settings_for(context.partition_key)
    result = evaluate_backtest(settings, params_from(config, EvaluateParams), source=baac_source.open(settings),
                               tracking_uri=mlflow.uri_for(settings), progress=context.log.info)
    summary = result.summary
    context.log.info("\n" + summary.table)
    with lake.connect(read_only=True, dep=context.partition_key) as con:
        provenance = synthetic_metadata(con)
    return dg.MaterializeResult(metadata={
        "grid_rows": summary.n_rows, "test_year": summary.test_year, "data_end": summary.data_end,
        "lag": summary.lag, "champion": summary.champion or "none", "champion_kind": summary.champion_kind or "",
        "observed_accidents": summary.observed_accidents, "dagster/row_count": summary.rows_written,
        "mlflow_run_id": result.mlflow_run_id or "", "metrics": evaluation_table(summary.metrics), **provenance,
    })
