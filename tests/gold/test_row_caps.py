"""Row caps of a training (tune_rows, refit_rows) and the default parallelism (workers x threads)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.core.errors import AccidentsError
from pipeline.gold.modeling.data import Rows, fit_rows, load_training_data, sample_rows
from pipeline.gold.params import REFIT_ROWS, TUNE_ROWS, TrainParams
from pipeline.core.cores import usable_cores
from pipeline.gold.modeling.parallelism import parallelism


def _rows(positives: int, negatives: int, years=(2019, 2020, 2021)) -> Rows:
    rng = np.random.default_rng(0)
    n = positives + negatives
    return Rows(pd.DataFrame({
        "row_id": np.arange(n), "target": np.r_[np.ones(positives, int), np.zeros(negatives, int)],
        "year": rng.choice(np.asarray(years), n), "sampling_weight": np.r_[np.ones(positives), np.full(negatives, 40.0)],
    }))


def test_below_the_cap_the_rows_are_the_same_object():
    rows = _rows(100, 900)
    assert sample_rows(rows, 1000, seed=1) == (rows, 1.0)
    assert sample_rows(rows, None, seed=1)[0] is rows


def test_a_capped_sample_keeps_every_positive_and_scales_the_negative_weight():
    rows = _rows(300, 6000)
    sample, factor = sample_rows(rows, 2000, seed=3)
    frame, source = sample.frame, rows.frame
    assert len(frame) <= 2000 and len(frame) > 1990  # rounded down within each (label, year)
    assert frame["row_id"].is_unique and set(frame["row_id"]) <= set(source["row_id"])
    assert (frame["target"] == 1).sum() == 300  # every positive
    kept_negatives = int((frame["target"] == 0).sum())
    assert factor == pytest.approx(6000 / kept_negatives)
    # the odds one positive stands against are unchanged: negatives x their weight, per positive
    assert kept_negatives * 40.0 * factor / 300 == pytest.approx(6000 * 40.0 / 300)
    # each year keeps its share of the negatives
    share = lambda f: f[f["target"] == 0]["year"].value_counts(normalize=True).sort_index()  # noqa: E731
    np.testing.assert_allclose(share(frame), share(source), atol=0.01)


def test_when_positives_would_fill_the_sample_half_of_it_is_negatives():
    sample, factor = sample_rows(_rows(3000, 3000), 1000, seed=3)
    counts = sample.frame["target"].value_counts()
    assert 490 <= counts[1] <= 500 and 490 <= counts[0] <= 500
    assert factor == pytest.approx((counts[1] / 3000) / (counts[0] / 3000))


def test_a_validation_sample_keeps_the_prevalence():
    sample, _ = sample_rows(_rows(300, 6000), 2100, seed=3, keep_positives=False)
    assert sample.frame["target"].mean() == pytest.approx(300 / 6300, abs=0.002)


def test_the_demo_sized_training_is_not_sampled(features_lake):
    """Below the default caps the fits see the TrainingData's own rows: the same models as before."""
    from pipeline.gold.datasets import build_datasets

    build_datasets(features_lake, sampler="uniform")
    data = load_training_data(features_lake, "reference", "uniform", seed=2)
    assert len(data.refit) < TUNE_ROWS < REFIT_ROWS
    rows = fit_rows(data, tune_rows=TUNE_ROWS, refit_rows=REFIT_ROWS, seed=2)
    assert rows.tune is data.train and rows.tune_valid is data.valid and rows.refit is data.refit
    assert rows.tune_negative_weight == rows.refit_negative_weight == data.negative_weight
    assert rows.refit is not rows.tune  # the final model refits on the tuning rows and the validation share


def test_capped_trials_fit_the_sample_and_the_final_model_keeps_its_label_mix(features_lake):
    from pipeline.gold.datasets import build_datasets
    from pipeline.gold.reference_training import model_template, tune_and_refit

    build_datasets(features_lake, sampler="uniform")
    data = load_training_data(features_lake, "reference", "uniform", seed=2)
    rows = fit_rows(data, tune_rows=1000, refit_rows=1500, seed=2)
    assert len(rows.tune) <= 1000 and len(rows.tune_valid) <= 1000 and len(rows.refit) <= 1500
    assert int(rows.tune.y.sum()) == int(data.train.y.sum())  # every positive: they fit in half
    assert int(rows.refit.y.sum()) == int(data.refit.y.sum())
    assert rows.refit.y.mean() == pytest.approx(rows.tune.y.mean(), abs=0.01)  # the tuning mix
    refit_negatives = len(rows.refit) - int(rows.refit.y.sum())
    negatives = len(data.refit) - int(data.refit.y.sum())
    assert rows.refit_negative_weight == pytest.approx(data.negative_weight * negatives / refit_negatives)
    tuned, tuned_model, final, *_ = tune_and_refit(model_template(data, "lightgbm"), rows, objective="pr_auc",
                                                   trials=2, seed=2, timeout=None, progress=False, threads=1)
    assert tuned_model.negative_weight == pytest.approx(rows.tune_negative_weight)
    assert rows.tune_negative_weight > data.negative_weight
    assert final is not tuned_model and final.negative_weight == pytest.approx(rows.refit_negative_weight)


@pytest.mark.parametrize("workers, threads, algorithms, cpus, expected", [
    (None, None, 3, 2, (2, 1)),  # this machine: two single-threaded studies at once
    (None, None, 3, 8, (3, 2)),
    (None, None, 1, 2, (1, 2)),  # one algorithm: its fits take both cores
    (None, None, 3, 1, (1, 1)),
    (None, 2, 3, 2, (1, 2)),  # given threads: the workers that fit beside them
    (2, None, 3, 4, (2, 2)),
    (1, 2, 3, 16, (1, 2)),  # given values are kept
])
def test_default_parallelism_fills_the_cores_without_oversubscribing(workers, threads, algorithms, cpus, expected):
    got = parallelism(workers, threads, algorithms, cpus)
    assert got == expected
    if workers is None and threads is None:
        assert got[0] * got[1] <= max(cpus, 1)


def test_a_small_tuning_stays_in_this_process_unless_workers_are_given():
    from pipeline.gold.modeling.parallelism import PARALLEL_MIN_ROW_TRIALS

    small, large = PARALLEL_MIN_ROW_TRIALS - 1, PARALLEL_MIN_ROW_TRIALS
    assert parallelism(None, None, 3, 2, row_trials=small) == (1, 2)  # tests, a few trials: no spawn
    assert parallelism(None, None, 3, 2, row_trials=large) == (2, 1)  # the demo's 21 k rows x 20 trials
    assert parallelism(2, None, 3, 2, row_trials=small) == (2, 1)


def test_the_default_counts_the_cores_this_process_may_use():
    import os

    assert 1 <= usable_cores() <= (os.cpu_count() or 1)
    assert parallelism(None, None, 3) == parallelism(None, None, 3, usable_cores())


def test_parallelism_and_caps_come_from_train_params():
    params = TrainParams()
    assert (params.workers, params.threads) == (None, None)  # resolved by the training, one rule
    assert (params.tune_rows, params.refit_rows) == (TUNE_ROWS, REFIT_ROWS)
    with pytest.raises(AccidentsError, match="tune_rows=10"):
        TrainParams(tune_rows=10)
    with pytest.raises(AccidentsError, match="threads=0"):
        parallelism(None, 0, 3, 2)


def test_a_too_small_cap_is_an_error_naming_it(features_lake):
    from pipeline.gold.reference_training import train_models

    with pytest.raises(AccidentsError, match="refit_rows=5"):
        train_models(features_lake, refit_rows=5, tracking_uri="sqlite:///unused.db")
