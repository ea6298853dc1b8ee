"""A tuning study builds each library's native inputs once and every trial fits on them; reusing
them changes no model; CatBoost evaluates (and early-stops on) the validation metric every
REPORT_EVERY rounds only."""

import numpy as np
import pytest

from pipeline.gold.algorithms.base import EARLY_STOPPING, MAX_ROUNDS, REPORT_EVERY
from pipeline.gold.model_bundle import RiskModel
from pipeline.gold.modeling.data import Rows
from tests.gold.conftest import model_template
from pipeline.gold.modeling.tuning import tune_algorithm

ALGORITHMS = ["catboost", "lightgbm", "xgboost"]
PARAMS = {"catboost": {"learning_rate": 0.1, "depth": 4, "rsm": 0.8},
          "lightgbm": {"learning_rate": 0.1, "max_depth": 4, "num_leaves": 15, "min_child_samples": 40,
                       "feature_fraction": 0.8, "bagging_fraction": 0.8},
          "xgboost": {"learning_rate": 0.1, "max_depth": 4, "subsample": 0.8, "colsample_bytree": 0.8}}


def _template(algorithm, train: Rows) -> RiskModel:
    return model_template(algorithm, train, negative_weight=100.0)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_a_study_builds_the_native_inputs_once_and_every_trial_fits_on_them(algorithm, rows, monkeypatch):
    train, valid = rows
    template = _template(algorithm, train)
    spec = template.spec
    built, fitted_on = [], []
    fit_data, train_on = spec.fit_data, spec.train_on

    def counting_fit_data(*args, **kwargs):
        built.append(fit_data(*args, **kwargs))
        return built[-1]

    def recording_train_on(template, params, data, **kwargs):
        fitted_on.append(data)
        return train_on(template, params, data, **kwargs)

    monkeypatch.setattr(spec, "fit_data", counting_fit_data)
    monkeypatch.setattr(spec, "train_on", recording_train_on)
    result = tune_algorithm(template, train, valid, objective="pr_auc", trials=4, seed=3, progress=False, threads=1)
    assert result.trials == 4
    assert len(built) == 1
    assert len(fitted_on) == 4 and all(data is built[0] for data in fitted_on)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_fitting_again_on_reused_inputs_gives_the_model_of_fresh_inputs(algorithm, rows):
    """Determinism: the second and third fits on one FitData (as trials do) equal a fit on inputs
    built from scratch, with the same rounds and validation predictions."""
    train, valid = rows
    template = _template(algorithm, train)
    spec = template.spec
    X_train, X_valid = template.encode(train.frame), template.encode(valid.frame)

    def fit(data):
        booster, rounds = spec.train_on(template, PARAMS[algorithm], data, seed=5, rounds=120, threads=1)
        return rounds, spec.predict(booster, data.valid_matrix)

    shared = spec.fit_data(template, X_train, train.y, X_valid, valid.y)
    fit(shared)  # a first trial with other parameters must not leave anything behind
    spec.train_on(template, {**PARAMS[algorithm], "learning_rate": 0.3}, shared, seed=9, rounds=30, threads=1)
    again_rounds, again = fit(shared)
    fresh_rounds, fresh = fit(spec.fit_data(template, X_train, train.y, X_valid, valid.y))
    assert again_rounds == fresh_rounds
    np.testing.assert_allclose(again, fresh, rtol=1e-12)


def test_lightgbm_inputs_do_not_depend_on_the_trial_leaf_size(rows):
    """min_child_samples varies per trial; the Dataset is binned once without pre-filtering on it,
    so smaller and larger leaves both fit on the same Dataset (LightGBM would refuse otherwise)."""
    train, valid = rows
    template = _template("lightgbm", train)
    spec = template.spec
    data = spec.fit_data(template, template.encode(train.frame), train.y, template.encode(valid.frame), valid.y)
    for leaf in (100, 10, 60):
        booster, _ = spec.train_on(template, {**PARAMS["lightgbm"], "min_child_samples": leaf}, data,
                                   rounds=20, threads=1)
        assert booster.num_trees() >= 1


def test_catboost_evaluates_every_report_step_and_stops_early_on_those_evaluations(rows):
    train, valid = rows
    template = _template("catboost", train)
    spec = template.spec
    data = spec.fit_data(template, template.encode(train.frame), train.y, template.encode(valid.frame), valid.y)
    reported = []

    def report(step, value):
        reported.append((step, value))
        return False

    # a high learning rate overfits fast: early stopping must end the fit well before MAX_ROUNDS
    booster, rounds = spec.train_on(template, {**PARAMS["catboost"], "learning_rate": 0.5, "depth": 8}, data,
                                    rounds=MAX_ROUNDS, report=report, threads=1)
    steps = [s for s, _ in reported]
    assert steps == list(range(0, REPORT_EVERY * len(steps), REPORT_EVERY))
    values = booster.get_evals_result()["validation"]["PRAUC"]
    assert len(values) <= MAX_ROUNDS // REPORT_EVERY + 1  # not one evaluation per round
    best_step = steps[int(np.argmax([v for _, v in reported]))]
    assert rounds == best_step + 1 and booster.tree_count_ == rounds  # the best evaluated round is kept
    assert steps[-1] - best_step == EARLY_STOPPING < MAX_ROUNDS - REPORT_EVERY


def test_catboost_pruning_stops_the_fit_at_the_reported_step(rows):
    from pipeline.gold.algorithms.base import Pruned

    train, valid = rows
    template = _template("catboost", train)
    data = template.spec.fit_data(template, template.encode(train.frame), train.y,
                                  template.encode(valid.frame), valid.y)
    with pytest.raises(Pruned) as stopped:
        template.spec.train_on(template, PARAMS["catboost"], data, rounds=100, threads=1,
                               report=lambda step, value: step >= 2 * REPORT_EVERY)
    assert stopped.value.args == (2 * REPORT_EVERY,)


def test_algorithms_tuned_in_worker_processes_give_the_results_of_one_process(features_lake):
    """`workers` only changes where the studies run: each is sequential and seeded, so the best
    parameters, rounds and final models are those of the in-process run."""
    from pipeline.gold.datasets import build_datasets
    from pipeline.gold.modeling.data import fit_rows, load_training_data
    from pipeline.gold.reference_training import _tune_all

    build_datasets(features_lake, sampler="exclusion")
    data = load_training_data(features_lake, "reference", "exclusion", seed=4)
    rows = fit_rows(data, tune_rows=None, refit_rows=None, seed=4)
    tune = dict(data=data, rows=rows, objective="pr_auc", trials=3, seed=4, timeout=None, progress=False,
                threads=1)
    algos = ("lightgbm", "xgboost")
    alone = dict(_tune_all(algos, 1, **tune))
    parallel = dict(_tune_all(algos, 2, **tune))
    assert list(parallel) == list(algos)
    for algorithm in algos:
        (tuned_a, _, final_a, *_), (tuned_p, _, final_p, *_) = alone[algorithm], parallel[algorithm]
        assert (tuned_p.best_params, tuned_p.best_value, tuned_p.best_rounds) == \
               (tuned_a.best_params, tuned_a.best_value, tuned_a.best_rounds)
        np.testing.assert_allclose(final_p.predict_score(data.valid.frame), final_a.predict_score(data.valid.frame))


def test_workers_must_be_a_positive_integer(features_lake):
    from pipeline.core.errors import AccidentsError
    from pipeline.gold.reference_training import train_models

    with pytest.raises(AccidentsError, match="workers=0"):
        train_models(features_lake, workers=0, tracking_uri="sqlite:///unused.db")
