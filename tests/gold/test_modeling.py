import numpy as np
import pandas as pd
import pytest

from pipeline.core.errors import AccidentsError
from pipeline.core.features import FEATURE_COLUMNS
from pipeline.gold.model_bundle import RiskModel, prior_correction
from pipeline.gold.modeling.data import Rows
from tests.gold.conftest import model_template
from pipeline.gold.modeling.reference import reference_report
from pipeline.gold.modeling.tuning import tune_algorithm
from pipeline.gold.reference_training import fit_final_model, validate_training_args


def test_prior_correction_recovers_the_population_rate():
    """Simulate a rare event with known p, keep 1 negative in w, fit, correct: mean p ≈ true rate."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(1)
    n = 400_000
    x = rng.normal(size=(n, 2))
    p_true = 1 / (1 + np.exp(-(-6.0 + 1.2 * x[:, 0] - 0.8 * x[:, 1])))
    y = rng.random(n) < p_true
    w = 50.0
    keep = y | (rng.random(n) < 1 / w)  # every positive, one negative in w
    model = LogisticRegression().fit(x[keep], y[keep])
    case_control = model.predict_proba(x)[:, 1]
    corrected = prior_correction(case_control, w)
    assert case_control.mean() > 5 * y.mean()  # uncorrected scores are far too high
    assert corrected.mean() == pytest.approx(y.mean(), rel=0.10)
    assert corrected.mean() == pytest.approx(p_true.mean(), rel=0.10)


NEGATIVE_WEIGHT = 500.0


def _template(algorithm, train: Rows) -> RiskModel:
    return model_template(algorithm, train, negative_weight=NEGATIVE_WEIGHT)


@pytest.mark.parametrize("algorithm", ["catboost", "lightgbm", "xgboost"])
def test_bundle_round_trip_is_native_and_predicts_identically(tmp_path, algorithm, rows):
    train, valid = rows
    model = fit_final_model(_template(algorithm, train), train, {"learning_rate": 0.1, "max_depth": 4}
                            if algorithm != "catboost" else {"learning_rate": 0.1, "depth": 4},
                            rounds=40, objective="pr_auc", seed=1, threads=1)
    model.save(tmp_path / "bundle")
    files = sorted(p.name for p in (tmp_path / "bundle").iterdir())
    assert files == sorted(["bundle.json", model.model_file])
    loaded = RiskModel.load(tmp_path / "bundle")
    np.testing.assert_allclose(loaded.predict_score(valid.frame), model.predict_score(valid.frame), rtol=1e-6)
    # prior correction: same ranking, odds divided by the negative weight
    score, prob = model.predict_score(valid.frame), model.predict_probability(valid.frame)
    np.testing.assert_allclose(prob / (1 - prob), score / (1 - score) / NEGATIVE_WEIGHT, rtol=1e-6)
    # the model separates the synthetic classes
    from sklearn.metrics import roc_auc_score
    assert roc_auc_score(valid.y, score) > 0.8
    # unseen categories are scored, not rejected
    odd = valid.frame.head(3).assign(road_type="unheard_of", atm=None)
    assert np.isfinite(loaded.predict_score(odd)).all()


def test_bundle_load_errors_name_the_file(tmp_path):
    with pytest.raises(AccidentsError, match="bundle.json missing"):
        RiskModel.load(tmp_path)
    (tmp_path / "bundle.json").write_text("{not json")
    with pytest.raises(AccidentsError, match="invalid JSON"):
        RiskModel.load(tmp_path)


def test_encoding_uses_stored_codes_and_unknown_is_minus_one():
    frame = pd.DataFrame({c: [1.0, 2.0] for c in FEATURE_COLUMNS}).assign(atm=[2, 7], road_type=["primary", "x"])
    model = RiskModel("lightgbm", None, list(FEATURE_COLUMNS),
                      {"atm": {"1": 0, "2": 1}, "road_type": {"primary": 0}}, 10.0, "exclusion")
    encoded = model.encode(frame)
    assert encoded["atm"].tolist() == [1, -1]
    assert encoded["road_type"].tolist() == [0, -1]
    with pytest.raises(AccidentsError, match="lacks feature columns: latitude"):
        model.encode(frame.drop(columns=["latitude"]))


def test_same_seed_gives_same_best_params(rows):
    train, valid = rows
    runs = [tune_algorithm(_template("xgboost", train), train, valid, objective="pr_auc",
                           trials=3, seed=11, progress=False, threads=1) for _ in range(2)]
    assert runs[0].best_params == runs[1].best_params
    assert runs[0].best_value == runs[1].best_value
    assert runs[0].best_rounds == runs[1].best_rounds


def test_tuning_prints_a_progress_line_per_trial(capsys, rows):
    train, valid = rows
    tune_algorithm(_template("lightgbm", train), train, valid, objective="logloss", trials=2, seed=1, threads=1)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("[lightgbm] trial")]
    assert len(lines) == 2 and "trial 2/2" in lines[1] and "best=" in lines[1]


def test_reference_report_tables():
    y = np.array([0, 0, 0, 1, 1])
    frame, text = reference_report(y, {"m": np.array([0.1, 0.6, 0.2, 0.9, 0.4])}, {"m": 1.5})
    value = frame.set_index(["metric", "class"])["value"]
    assert value[("recall", "1")] == 0.5 and value[("precision", "1")] == 0.5
    assert value[("recall", "0")] == pytest.approx(2 / 3)
    assert value[("confusion_tp", "all")] == 1 and value[("confusion_fp", "all")] == 1
    assert value[("accuracy", "all")] == pytest.approx(0.6)
    assert "comparison" in text and "m " in text


@pytest.mark.parametrize("kwargs, message", [
    ({"protocol": "random"}, "protocol='random'"),
    ({"sampler": "grid"}, "sampler='grid'"),
    ({"objective": "auc"}, "objective='auc'"),
    ({"algorithms": ("catboost", "rf")}, "algorithm 'rf': unknown; known algorithms are catboost, lightgbm, xgboost"),
    ({"trials": 0}, "trials=0"),
])
def test_training_arguments_are_validated(kwargs, message):
    args = {"protocol": "reference", "sampler": "exclusion", "algorithms": ("catboost",), "trials": 2,
            "objective": "pr_auc", **kwargs}
    with pytest.raises(AccidentsError, match=message):
        validate_training_args(**args)


def test_scores_match_scikit_learn_including_ties():
    from sklearn.metrics import average_precision_score, roc_auc_score

    from pipeline.gold.modeling.scores import classification_metrics

    rng = np.random.default_rng(3)
    y = (rng.random(2000) < 0.1).astype(int)
    p = np.round(np.clip(rng.random(2000) * 0.6 + 0.3 * y, 0, 1), 1)  # many ties
    m = classification_metrics(y, p)
    assert m["roc_auc"] == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert m["pr_auc"] == pytest.approx(average_precision_score(y, p), abs=1e-12)


@pytest.mark.parametrize("algorithm", ["catboost", "lightgbm", "xgboost"])
def test_a_bundle_stored_with_an_earlier_feature_name_still_scores(algorithm, tmp_path):
    """Bundles trained before `dist_to_noumea_km` became `dist_to_main_city_km` load and score frames
    that carry the new name, with the same probabilities."""
    import numpy as np
    import pandas as pd

    from pipeline.gold import algorithms
    from pipeline.gold.model_bundle import RiskModel

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"speed_limit": rng.uniform(30, 110, 400), "dist_to_noumea_km": rng.uniform(0, 300, 400)})
    y = (rng.random(400) < 0.2 + 0.002 * frame["speed_limit"].to_numpy() / 10).astype(int)
    template = RiskModel(algorithm=algorithm, booster=None, feature_columns=list(frame.columns),
                         categorical_codes={}, negative_weight=10.0, sampler="uniform")
    booster, _ = algorithms.get(algorithm).train(template, {"learning_rate": 0.1}, template.encode(frame), y,
                                                 rounds=20, threads=1)
    old = RiskModel(**{**template.__dict__, "booster": booster})
    expected = old.predict_probability(frame)
    loaded = RiskModel.load(old.save(tmp_path / "bundle"))
    assert loaded.feature_columns == ["speed_limit", "dist_to_main_city_km"]
    renamed = frame.rename(columns={"dist_to_noumea_km": "dist_to_main_city_km"})
    np.testing.assert_allclose(loaded.predict_probability(renamed), expected, rtol=1e-6)
