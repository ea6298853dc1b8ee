import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest

from pipeline.core.errors import AccidentsError
from pipeline.gold.registry import list_model_versions, load_champion, load_version
from tests.support.net import free_port

MODEL = "accidents-risk-988"


@pytest.mark.slow  # shares one MLflow-tracked training of both protocols (~40 s CPU)
def test_no_test_row_reaches_tuning_and_test_is_read_once_at_the_end(trained):
    kinds = [kind for kind, _ in trained.events]
    assert kinds == ["tune"] * len(trained.reference.results) + ["test"]
    test_ids = trained.events[-1][1]
    assert test_ids == {r[0] for r in trained.con.execute(
        "SELECT row_id FROM gold.test WHERE sampler = 'exclusion'").fetchall()}
    for _, seen in trained.events[:-1]:
        assert seen and not seen & test_ids


@pytest.mark.slow
def test_champion_round_trip_scores_identically_and_carries_its_validation(trained):
    from pipeline.gold.intensity.grid import ScoringGrid
    from pipeline.gold.predictions import day_hours

    uri, summary = trained.settings.resolved_mlflow_uri, trained.intensity
    model, version, record = load_champion(uri, MODEL)
    assert version == summary.registered_version == "1"
    assert model.name == summary.champion and model.kind == summary.champion_kind
    assert record["candidate"] == summary.champion and record["validation_year"] == 2024
    assert record["fit_years"] == [2022, 2023] and record["train_years"] == [2022, 2023, 2024]
    assert 0.8 <= record["validation_expected_observed"] <= 1.25
    assert set(record["rivals"]) == set(c.name for c in summary.candidates)
    week = [dt.date(2025, 3, 3) + dt.timedelta(days=i) for i in range(7)]
    for weather in (1, 3, trained.world.history()):
        grid = ScoringGrid(trained.world.points, day_hours(week), weather, "988")
        np.testing.assert_allclose(model.expected_counts(grid), summary.model.expected_counts(grid), rtol=1e-9)


@pytest.mark.slow
def test_a_reference_classifier_or_a_missing_version_cannot_be_loaded_for_publication(trained):
    uri = trained.settings.resolved_mlflow_uri
    assert trained.reference.registered_version == "2"
    with pytest.raises(AccidentsError, match="version 2: .*case-control classifier.*cannot be published"):
        load_version(uri, MODEL, "2")
    with pytest.raises(AccidentsError, match="has no version 9"):
        load_version(uri, MODEL, "9")
    model, version, _ = load_version(uri, MODEL, "1")
    assert version == "1" and model.name == trained.intensity.champion


@pytest.mark.slow
def test_logged_artifacts_are_native_never_pickled(trained):
    files = [p for p in (trained.settings.mlflow_dir / "artifacts").rglob("*") if p.is_file()]
    names = {p.name for p in files}
    assert {"model.json", "model.cbm", "model.txt", "model.ubj", "bundle.json", "MLmodel", "roc_curve.png",
            "pr_curve.png", "confusion_matrix.png", "feature_importance.png", "calibration.png"} <= names
    assert not [p for p in files if p.suffix in (".pkl", ".pickle", ".joblib")]
    mlmodels = [p.read_text() for p in files if p.name == "MLmodel"]
    assert len(mlmodels) == 3 and all("signature" in text for text in mlmodels)  # the reference's classifiers
    stored = [json.loads(p.read_text()) for p in files if p.name == "model.json" and p.parent.name == "risk_model"]
    assert [d["name"] for d in stored] == [trained.intensity.champion]  # only the champion is stored


@pytest.mark.slow
def test_model_runs_tables_and_version_listing(trained):
    import mlflow

    from tests.gold.conftest import INTENSITY_CANDIDATES

    settings, con, summary = trained.settings, trained.con, trained.intensity
    runs = con.execute("SELECT candidate, kind, validation_year, fit_years, validation_loglik_per_accident, "
                       "validation_expected_observed, calibrated, is_champion, params, mlflow_run_id, "
                       "registered_version FROM gold.model_runs ORDER BY candidate").df()
    assert sorted(runs["candidate"]) == sorted(INTENSITY_CANDIDATES)
    assert set(runs["validation_year"]) == {2024} and set(runs["fit_years"]) == {"2022,2023"}
    assert runs["mlflow_run_id"].notna().all() and all(isinstance(json.loads(p), dict) for p in runs["params"])
    ratio = runs["validation_expected_observed"]
    assert (runs["calibrated"] == ratio.between(0.8, 1.25)).all()
    champion = runs[runs["is_champion"]]
    assert champion["candidate"].tolist() == [summary.champion] and champion["registered_version"].tolist() == ["1"]
    calibrated = runs[runs["calibrated"]]  # the champion has the best validation likelihood of the calibrated
    assert champion["validation_loglik_per_accident"].iloc[0] == calibrated["validation_loglik_per_accident"].max()
    assert runs.loc[~runs["is_champion"], "registered_version"].isna().all()
    reference = con.execute("SELECT algorithm, protocol, is_best, registered_version FROM gold.reference_model_runs "
                            "ORDER BY algorithm").fetchall()
    assert [r[0] for r in reference] == ["catboost", "lightgbm", "xgboost"] and {r[1] for r in reference} == {"reference"}
    assert [(r[0], r[3]) for r in reference if r[2]] == [(trained.reference.best_algorithm, "2")]
    versions = list_model_versions(settings.resolved_mlflow_uri, MODEL)
    assert [v["version"] for v in versions] == ["1", "2"]
    assert versions[0]["aliases"] == ["champion"] and versions[1]["aliases"] == []
    assert versions[0]["algorithm"] == summary.champion and versions[0]["kind"] == summary.champion_kind
    assert versions[0]["protocol"] == "intensity"
    assert versions[0]["metrics"]["valid_loglik_per_accident"] == pytest.approx(
        champion["validation_loglik_per_accident"].iloc[0])
    assert versions[1]["protocol"] == "reference" and versions[1]["algorithm"] == trained.reference.best_algorithm
    parent = mlflow.MlflowClient(settings.resolved_mlflow_uri).get_run(summary.parent_run_id).data
    assert parent.params["validation_year"] == "2024" and parent.params["fit_years"] == "2022,2023"
    assert parent.tags["champion"] == summary.champion and parent.tags["registered_version"] == "1"


@pytest.mark.slow
def test_reference_protocol_writes_the_predecessor_report(trained):
    con, reference = trained.con, trained.reference
    report = con.execute('SELECT metric, "class", value FROM lake.gold.reference_report '
                         "WHERE algorithm = 'lightgbm'").fetchall()
    keys = {(m, c) for m, c, _ in report}
    for cls in ("0", "1"):
        assert {("recall", cls), ("precision", cls), ("f1", cls)} <= keys
    assert {("accuracy", "all"), ("roc_auc", "all"), ("confusion_tp", "all"), ("train_seconds", "all")} <= keys
    tp = next(v for m, c, v in report if m == "confusion_tp")
    n_test = con.execute("SELECT count(*) FROM gold.test").fetchone()[0]
    assert sum(v for m, c, v in report if m.startswith("confusion_")) == n_test and tp >= 0
    assert "comparison" in reference.reference_text and "lightgbm" in reference.reference_text


@pytest.mark.slow
def test_models_cli_lists_the_champion(trained, monkeypatch, capsys):
    from pipeline.cli import main

    monkeypatch.setenv("ACCIDENTS_DATA_DIR", str(trained.settings.data_dir))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    first = next(line.split() for line in lines if line.strip().startswith("1 "))
    second = next(line.split() for line in lines if line.strip().startswith("2 "))
    assert first[1:3] == [trained.intensity.champion, "intensity"] and first[-1] == "champion"
    assert second[1:3] == [trained.reference.best_algorithm, "reference"] and second[-1] != "champion"


def test_missing_champion_is_a_clear_error(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with pytest.raises(AccidentsError, match="no champion registered for accidents-risk-988; run accidents train"):
        load_champion(uri, MODEL)
    assert list_model_versions(uri, MODEL) == []


@pytest.mark.parametrize("argv, message", [
    (["train", "--trials", "0"], "trials=0: expected 1..10000"),
    (["train", "--trials", "many"], "trials='many': expected a whole number"),
    (["train", "--objective", "auc"], "objective='auc': expected one of pr_auc, logloss, recall"),
    (["train", "--algorithms", "catboost,svm"],
     "algorithms=('catboost', 'svm'): expected a comma list of catboost, lightgbm, xgboost"),
    (["train", "--protocol", "random"], "protocol='random'"),
    (["train", "--sampler", "grid"], "sampler='grid'"),
    (["train", "--seed", "-3"], "seed=-3: expected >= 0"),
])
def test_train_cli_rejects_bad_arguments_in_one_line(argv, message, capsys, tmp_path, monkeypatch):
    from pipeline.cli import main

    monkeypatch.setenv("ACCIDENTS_DATA_DIR", str(tmp_path))
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err
    assert not Path(tmp_path / "lake").exists()  # rejected before touching the lake


@pytest.mark.parametrize("argv", [["models"], ["predict", "--date", "2026-03-01"]])
def test_an_unreachable_mlflow_server_is_a_quick_one_line_error(argv, tmp_path, monkeypatch, capsys):
    """Not 'no champion registered' after minutes of retries: the error says the server is down."""
    import time

    from pipeline.cli import main

    port = free_port()  # a loopback port nothing listens on
    monkeypatch.setenv("ACCIDENTS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://user:s3cret@127.0.0.1:{port}")
    started = time.perf_counter()
    code = main(argv)
    elapsed = time.perf_counter() - started
    err = capsys.readouterr().err
    assert code == 2 and elapsed < 30
    assert err.startswith("error: MLflow tracking server http://127.0.0.1:") and "is unreachable" in err
    assert err.count("\n") == 1 and "s3cret" not in err


@pytest.mark.slow
def test_the_reference_run_records_the_rows_and_parallelism_it_trained_with(trained):
    import mlflow

    summary = trained.reference
    assert (summary.workers, summary.threads) == (1, 1)
    assert 0 < summary.tune_rows < summary.refit_rows  # below the caps: the trials' share, then every row
    params = mlflow.MlflowClient(trained.settings.resolved_mlflow_uri).get_run(summary.parent_run_id).data.params
    assert params["tune_rows"] == str(summary.tune_rows) and params["train_rows"] == str(summary.refit_rows)
    assert params["available_train_rows"] == params["train_rows"]
    assert (params["workers"], params["threads"]) == ("1", "1")
