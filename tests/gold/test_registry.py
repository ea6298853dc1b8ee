import json
from pathlib import Path

import numpy as np
import pytest

from pipeline.core.errors import AccidentsError
from pipeline.gold.registry import list_model_versions, load_champion, load_version

MODEL = "accidents-risk-988"


@pytest.mark.slow  # shares one MLflow-tracked training (~20 s CPU)
def test_no_test_row_reaches_tuning_and_test_is_read_once_at_the_end(trained):
    _, con, summary, events, _ = trained
    kinds = [kind for kind, _ in events]
    assert kinds == ["tune"] * len(summary.results) + ["test"]
    test_ids = events[-1][1]
    assert test_ids == {r[0] for r in con.execute(
        "SELECT row_id FROM gold.temporal_test WHERE sampler = 'exclusion'").fetchall()}
    for _, seen in events[:-1]:
        assert seen and not seen & test_ids


@pytest.mark.slow  # shares one MLflow-tracked training (~20 s CPU)
def test_champion_round_trip_predicts_identically(trained):
    settings, con, summary, _, _ = trained
    model, version = load_champion(settings.resolved_mlflow_uri, MODEL)
    assert version == summary.registered_version == "1"
    assert model.algorithm == summary.best_algorithm
    rows = con.execute("SELECT * FROM gold.temporal_test WHERE sampler = 'exclusion'").df()
    original = summary.models[summary.best_algorithm]
    np.testing.assert_allclose(model.predict_probability(rows), original.predict_probability(rows), rtol=1e-6)
    assert model.negative_weight == 500.0 and model.train_years == [2019, 2020, 2021, 2022]
    former, number = load_version(settings.resolved_mlflow_uri, MODEL, "2")
    assert number == "2" and former.algorithm == "lightgbm"
    with pytest.raises(AccidentsError, match="has no version 9"):
        load_version(settings.resolved_mlflow_uri, MODEL, "9")


@pytest.mark.slow  # shares one MLflow-tracked training (~20 s CPU)
def test_logged_artifacts_are_native_never_pickled(trained):
    settings, *_ = trained
    files = [p for p in (settings.mlflow_dir / "artifacts").rglob("*") if p.is_file()]
    names = {p.name for p in files}
    assert {"model.cbm", "model.txt", "model.ubj", "bundle.json", "MLmodel", "roc_curve.png",
            "pr_curve.png", "confusion_matrix.png", "feature_importance.png", "calibration.png"} <= names
    assert not [p for p in files if p.suffix in (".pkl", ".pickle", ".joblib")]
    mlmodels = [p.read_text() for p in files if p.name == "MLmodel"]
    assert len(mlmodels) == 4 and all("signature" in text for text in mlmodels)


@pytest.mark.slow  # shares one MLflow-tracked training (~20 s CPU)
def test_model_runs_table_and_version_listing(trained):
    settings, con, summary, _, _ = trained
    runs = con.execute("SELECT algorithm, mlflow_run_id, best_params, is_best, registered_version, "
                       "test_pr_auc FROM gold.model_runs WHERE protocol = 'temporal' ORDER BY algorithm").fetchall()
    assert [r[0] for r in runs] == ["catboost", "lightgbm", "xgboost"]
    assert all(r[1] and json.loads(r[2]) and 0 <= r[5] <= 1 for r in runs)
    assert [r[0] for r in runs if r[3]] == [summary.best_algorithm]
    assert [r[4] for r in runs if r[4]] == ["1"]
    versions = list_model_versions(settings.resolved_mlflow_uri, MODEL)
    assert [v["version"] for v in versions] == ["1", "2"]
    assert versions[0]["aliases"] == ["champion"] and versions[1]["aliases"] == []
    assert versions[0]["algorithm"] == summary.best_algorithm and versions[0]["protocol"] == "temporal"
    assert versions[1]["protocol"] == "reference" and versions[1]["algorithm"] == "lightgbm"
    assert 0 < versions[0]["metrics"]["test_roc_auc"] <= 1


@pytest.mark.slow  # shares one MLflow-tracked training (~20 s CPU)
def test_reference_protocol_writes_the_predecessor_report(trained):
    _, con, _, _, reference = trained
    assert reference.registered_version == "2"
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
    protocols = con.execute("SELECT protocol, count(*) FROM gold.model_runs GROUP BY 1 ORDER BY 1").fetchall()
    assert protocols == [("reference", 1), ("temporal", 3)]


@pytest.mark.slow  # shares one MLflow-tracked training (~20 s CPU)
def test_models_cli_lists_the_champion(trained, monkeypatch, capsys):
    from pipeline.cli import main

    settings, *_ = trained
    monkeypatch.setenv("ACCIDENTS_DATA_DIR", str(settings.data_dir))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "champion" in out and summary_line(out)


def summary_line(out: str) -> bool:
    return any(line.strip().startswith("1 ") for line in out.splitlines())


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


def test_temporal_only_training_keeps_the_reference_split_on_exclusion_negatives():
    from pipeline.gold.params import TrainParams
    from pipeline.usecases.training import reference_split_sampler

    assert reference_split_sampler(TrainParams(protocol="temporal", sampler="uniform")) == "exclusion"
    assert reference_split_sampler(TrainParams(protocol="both", sampler="uniform")) == "uniform"
    assert reference_split_sampler(TrainParams(protocol="reference", sampler="exclusion")) == "exclusion"


@pytest.mark.parametrize("argv", [["models"], ["predict", "--date", "2026-03-01"]])
def test_an_unreachable_mlflow_server_is_a_quick_one_line_error(argv, tmp_path, monkeypatch, capsys):
    """Not 'no champion registered' after minutes of retries: the error says the server is down."""
    import socket
    import time

    from pipeline.cli import main

    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("ACCIDENTS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://user:s3cret@127.0.0.1:{port}")
    started = time.perf_counter()
    code = main(argv)
    elapsed = time.perf_counter() - started
    err = capsys.readouterr().err
    assert code == 2 and elapsed < 30
    assert err.startswith("error: MLflow tracking server http://127.0.0.1:") and "is unreachable" in err
    assert err.count("\n") == 1 and "s3cret" not in err


def test_the_run_records_the_rows_and_parallelism_it_trained_with(trained):
    import mlflow

    settings, _, summary, _, _ = trained
    assert (summary.workers, summary.threads) == (1, 1)
    assert summary.tune_rows > 0 and summary.refit_rows == summary.tune_rows  # temporal, below the caps
    params = mlflow.MlflowClient(settings.resolved_mlflow_uri).get_run(summary.parent_run_id).data.params
    assert params["tune_rows"] == str(summary.tune_rows) and params["train_rows"] == str(summary.refit_rows)
    assert params["available_train_rows"] == params["train_rows"]
    assert (params["workers"], params["threads"]) == ("1", "1")
