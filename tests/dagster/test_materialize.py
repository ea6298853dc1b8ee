"""The whole graph on the offline demo, once through the CLI and once through Dagster's `materialize`,
in two temporary lakes: the same use cases must give the same tables (parity), a reference-protocol
training under Dagster must not move the champion, and the data checks pass. Small: two intensity
candidates (the hotspot map and the GLM), which need no tuning trial."""

from __future__ import annotations

import time

import dagster as dg
import pytest

from dagster_accidents.assets.bronze import bronze_ingest, roads
from dagster_accidents.assets.gold import (DatasetsConfig, EvaluationConfig, TrainingConfig, datasets, evaluation,
                                          trained_models)
from dagster_accidents.assets.predictions import predictions
from dagster_accidents.assets.silver import FeaturesConfig, silver_features
from dagster_accidents.checks import ALL_CHECKS
from dagster_accidents.jobs import MODEL_BUILD
from dagster_accidents.partitions import dep_day_key, dep_year_key
from dagster_accidents.resources import BaacSourceResource, DuckLakeResource, MLflowResource
from pipeline.core.settings import Settings

ASSETS = [bronze_ingest, roads, silver_features, datasets, trained_models, evaluation, predictions]
DATA_CHECKS = {"unique_accident_ids", "coordinates_inside_departement", "rejected_share_below_threshold",
               "exclusion_negatives_outside_buffer", "no_null_features", "rows_cover_every_point_hour",
               "probabilities_in_unit_interval"}
# gold.train/test (the reference protocol's split) are left out: Dagster's model build materialises them as
# an asset, `accidents train` builds them only for --protocol reference|both
TABLES = ("bronze.accidents", "bronze.rejected_rows", "bronze.roads", "silver.road_points", "silver.accident_points",
          "silver.weather_hourly", "silver.features", "silver.features_reference", "gold.model_runs",
          "gold.evaluation", "gold.calibration", "gold.predictions", "gold.prediction_totals")
CANDIDATES = ["hotspot", "glm"]
DAY = "2025-03-11"


def lake_state(settings: Settings) -> dict:
    from pipeline.core.lake import lake_connection
    from pipeline.gold.registry import list_model_versions

    with lake_connection(settings, read_only=True) as con:
        counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
        evaluation_rows = con.execute(
            "SELECT method, metric, round(value, 6) FROM gold.evaluation WHERE metric IN "
            "('loglik_per_accident', 'cell_pai_5pct', 'expected_observed_ratio') ORDER BY 1, 2").fetchall()
        predicted = con.execute("SELECT round(sum(expected_accidents), 6) FROM gold.predictions").fetchone()[0]
    versions = list_model_versions(settings.resolved_mlflow_uri, settings.registered_model)
    champion = [(v["algorithm"], v["protocol"]) for v in versions if "champion" in v["aliases"]]
    return {"counts": counts, "evaluation": evaluation_rows, "predicted": predicted, "champion": champion,
            "versions": len(versions)}


def run_cli(data_dir, monkeypatch) -> Settings:
    from pipeline.cli import main

    monkeypatch.setenv("ACCIDENTS_DATA_DIR", str(data_dir))
    candidates = ",".join(CANDIDATES)
    for argv in (["ingest"], ["features"], ["train", "--trials", "1", "--candidates", candidates],
                 ["evaluate", "--trials", "1", "--candidates", candidates], ["predict", "--date", DAY]):
        assert main(argv) == 0, argv
    return Settings.from_env()


@pytest.mark.slow
def test_cli_and_dagster_give_the_same_tables(tmp_path, monkeypatch, capsys):
    started = time.perf_counter()
    cli_settings = run_cli(tmp_path / "cli", monkeypatch)
    cli_seconds = time.perf_counter() - started

    lake = DuckLakeResource(data_dir=str(tmp_path / "dagster"))
    resources = {"lake": lake, "mlflow": MLflowResource(), "baac_source": BaacSourceResource(source="demo")}
    instance = dg.DagsterInstance.ephemeral()
    evaluated = {}

    def materialize(**kwargs) -> dg.ExecuteInProcessResult:
        result = dg.materialize([*ASSETS, *ALL_CHECKS], resources=resources, instance=instance, **kwargs)
        assert result.success
        evaluated.update({e.check_name: e.passed for e in result.get_asset_check_evaluations()})
        return result

    started = time.perf_counter()
    for year in range(2019, 2025):  # one run per (département, year) partition, as a UI backfill launches them
        ingest = materialize(selection=dg.AssetSelection.assets(bronze_ingest),
                             partition_key=dep_year_key("988", str(year)))
        by_key = {m.asset_key.to_user_string(): m.metadata for m in ingest.asset_materializations_for_node("bronze_ingest")}
        with lake.connect(read_only=True) as con:
            in_year = con.execute("SELECT count(*) FROM bronze.accidents WHERE year = ?", [year]).fetchone()[0]
        assert by_key["bronze/accidents"]["dagster/row_count"].value == in_year  # that year's rows only
        assert all(meta["synthetic"].value is True for meta in by_key.values())  # demo data, said everywhere
    training = TrainingConfig(trials=1, candidates=CANDIDATES)
    built = materialize(selection=MODEL_BUILD, partition_key="988", run_config=dg.RunConfig(ops={
        "silver_features": FeaturesConfig(), "gold__datasets": DatasetsConfig(),
        "gold__trained_models": training, "gold__evaluation": EvaluationConfig(trials=1, candidates=CANDIDATES)}))
    for node in ("silver_features", "gold__datasets", "gold__trained_models", "gold__evaluation"):
        materializations = built.asset_materializations_for_node(node)  # the model build says so too
        assert materializations and all(m.metadata["synthetic"].value is True for m in materializations), node
    predicted = materialize(selection=dg.AssetSelection.assets(predictions), partition_key=dep_day_key("988", DAY))
    [day_meta] = [m.metadata for m in predicted.asset_materializations_for_node("gold__predictions")]
    assert day_meta["synthetic"].value is True and "SYNTHETIC" in day_meta["data_notice"].value
    dagster_seconds = time.perf_counter() - started

    dagster_settings = lake.settings()
    cli, dagster = lake_state(cli_settings), lake_state(dagster_settings)
    assert dagster["counts"] == cli["counts"]
    assert len(cli["champion"]) == 1 and cli["champion"][0][0] in CANDIDATES and cli["champion"][0][1] == "intensity"
    assert dagster["champion"] == cli["champion"]
    assert dagster["evaluation"] == cli["evaluation"] and dagster["predicted"] == cli["predicted"]
    failed = sorted(name for name in DATA_CHECKS if not evaluated[name])
    assert not failed, f"data checks failed on the demo: {failed}"

    # A reference-protocol training registers a version but never moves the champion.
    reference = TrainingConfig(trials=2, algorithms=["lightgbm"], sampler="exclusion", protocol="reference")
    materialize(selection=dg.AssetSelection.assets(trained_models), partition_key="988",
                run_config=dg.RunConfig(ops={"gold__trained_models": reference}))
    after = lake_state(dagster_settings)
    assert after["champion"] == dagster["champion"] and after["versions"] == dagster["versions"] + 1
    with capsys.disabled():
        print(f"\nparity: CLI chain {cli_seconds:.0f} s, Dagster chain {dagster_seconds:.0f} s; "
              f"tables {dagster['counts']}")
