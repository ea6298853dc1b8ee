"""The whole graph on the offline demo in a temporary lake: ingest (year range), model build,
one predicted day. Small: lightgbm only, 2 tuning trials."""

from __future__ import annotations

import time

import dagster as dg
import pytest

from dagster_accidents.assets.bronze import bronze_ingest, roads
from dagster_accidents.assets.gold import TrainingConfig, datasets, evaluation, trained_models
from dagster_accidents.assets.predictions import predictions
from dagster_accidents.assets.silver import silver_features
from dagster_accidents.checks import ALL_CHECKS
from dagster_accidents.jobs import MODEL_BUILD
from dagster_accidents.resources import BaacSourceResource, DuckLakeResource, MLflowResource

ASSETS = [bronze_ingest, roads, silver_features, datasets, trained_models, evaluation, predictions]
# Checks that must pass on the demo; the model-quality checks are reported, not asserted.
DATA_CHECKS = {"unique_accident_ids", "coordinates_inside_departement", "rejected_share_below_threshold",
               "exclusion_negatives_outside_buffer", "no_null_features", "rows_cover_every_point_hour",
               "probabilities_in_unit_interval"}


def checks_by_name(result: dg.ExecuteInProcessResult) -> dict[str, tuple[bool, dict]]:
    return {e.check_name: (e.passed, {k: v.value for k, v in e.metadata.items()})
            for e in result.get_asset_check_evaluations()}


def step_seconds(instance: dg.DagsterInstance, result: dg.ExecuteInProcessResult) -> dict[str, float]:
    return {s.step_key: s.end_time - s.start_time for s in instance.get_run_step_stats(result.run_id)
            if s.end_time and s.start_time}


@pytest.mark.slow
def test_materialize_whole_graph_on_demo(tmp_path, capsys):
    lake = DuckLakeResource(data_dir=str(tmp_path / "data"))
    resources = {"lake": lake, "mlflow": MLflowResource(), "baac_source": BaacSourceResource(source="demo")}
    timings, evaluated, steps = {}, {}, {}
    instance = dg.DagsterInstance.ephemeral()

    def run(name: str, **kwargs) -> dg.ExecuteInProcessResult:
        started = time.perf_counter()
        result = dg.materialize([*ASSETS, *ALL_CHECKS], resources=resources, instance=instance, **kwargs)
        timings[name] = time.perf_counter() - started
        assert result.success, name
        evaluated.update(checks_by_name(result))
        steps.update(step_seconds(instance, result))
        return result

    ingest = run("ingest 2019-2024", selection=dg.AssetSelection.assets(bronze_ingest),
                 tags={"dagster/asset_partition_range_start": "2019", "dagster/asset_partition_range_end": "2024"})
    accidents = ingest.asset_materializations_for_node("bronze_ingest")
    by_key = {m.asset_key.to_user_string(): m.metadata for m in accidents}
    assert by_key["bronze/accidents"]["dagster/row_count"].value > 1000
    assert by_key["bronze/accidents"]["source"].value == "demo"
    assert "| accident_id |" in by_key["bronze/accidents"]["preview"].value

    build = run("roads -> evaluation", selection=MODEL_BUILD, run_config=dg.RunConfig(
        ops={"gold__trained_models": TrainingConfig(trials=2, algorithms=["lightgbm"])}))
    trained = build.asset_materializations_for_node("gold__trained_models")[0].metadata
    assert len(trained["mlflow_run_id"].value) == 32 and trained["registered_version"].value == "1"
    evaluation_md = build.asset_materializations_for_node("gold__evaluation")[0].metadata
    assert evaluation_md["test_year"].value == 2024 and evaluation_md["model_pai_5pct"].value > 0
    assert len(evaluation_md["mlflow_run_id"].value) == 32 and "baseline_kde" in evaluation_md["table"].value

    predicted = run("predictions 2025-03-11", selection=dg.AssetSelection.assets(predictions),
                    partition_key="2025-03-11")
    day = predicted.asset_materializations_for_node("gold__predictions")[0].metadata
    with lake.connect(read_only=True) as con:
        points = con.execute("SELECT count(*) FROM silver.road_points").fetchone()[0]
    assert day["dagster/row_count"].value == 24 * points

    failed = sorted(name for name in DATA_CHECKS if not evaluated[name][0])
    assert not failed, f"data checks failed on the demo: {failed}"
    with capsys.disabled():
        print("\nmaterialize timings (s): " + ", ".join(f"{k} {v:.0f}" for k, v in timings.items())
              + f"; total {sum(timings.values()):.0f}")
        print("steps (s): " + ", ".join(f"{k} {v:.0f}" for k, v in steps.items()))
        for name, (passed, metadata) in sorted(evaluated.items()):
            print(f"check {name}: {'pass' if passed else 'FAIL'} {metadata}")
