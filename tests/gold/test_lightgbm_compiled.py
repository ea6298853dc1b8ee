"""LightGBM trees compiled by numba: the booster's own numbers, bit for bit, on every kind of split
(numeric with NaN or None missing values, categorical bitsets) and on awkward inputs."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest

from pipeline.gold.lightgbm_compiled import CompiledTrees


@pytest.fixture(scope="module")
def booster_and_inputs():
    rng = np.random.default_rng(0)
    n = 4000
    x = np.column_stack([rng.integers(0, 40, n).astype(float), rng.normal(size=n), rng.integers(0, 5, n).astype(float),
                         rng.normal(size=n)])
    x[rng.random(n) < 0.1, 1] = np.nan  # learned with missing values: NaN-type splits
    y = ((x[:, 0] % 7 < 3) ^ (np.nan_to_num(x[:, 1]) > 0.3) ^ (x[:, 2] == 2)).astype(int)
    booster = lgb.train({"objective": "binary", "verbose": -1, "num_leaves": 15, "min_data_per_group": 5,
                         "cat_smooth": 1, "num_threads": 1}, lgb.Dataset(x, y, categorical_feature=[0, 2]), 30)
    odd = x[:400].copy()
    odd[:40, 0], odd[40:80, 0], odd[80:120, 0] = np.nan, -1.0, 1000.0  # unknown, negative, beyond the bitsets
    odd[120:160, 0], odd[160:200, 0], odd[200:220, 0] = -0.5, 3.7, 1e12  # fractional, out of int range
    odd[220:260, 3], odd[260:300, 3] = np.nan, 1e-40  # NaN in a feature learned without; LightGBM's zero band
    odd[300:340, 1] = -1e-36
    return booster, np.vstack([x, odd])


def test_compiled_trees_give_the_boosters_probabilities_bit_for_bit(booster_and_inputs):
    booster, x = booster_and_inputs
    trees = CompiledTrees.from_booster(booster)
    assert (trees.categorical >= 0).any() and np.isnan(x).any()  # both kinds of split are exercised
    np.testing.assert_array_equal(trees.predict(x, threads=2), booster.predict(x))
    np.testing.assert_array_equal(trees.predict(x, raw_score=True, threads=1), booster.predict(x, raw_score=True))
    np.testing.assert_array_equal(trees.predict(np.asfortranarray(x)), booster.predict(x))


def test_models_it_does_not_cover_are_left_to_the_booster():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(300, 3)), rng.normal(size=300)
    regression = lgb.train({"objective": "regression", "verbose": -1, "num_threads": 1}, lgb.Dataset(x, y), 5)
    assert CompiledTrees.from_booster(regression) is None
    from pipeline.gold.algorithms import get

    assert get("lightgbm").compiled(regression) is regression


def test_a_matrix_of_the_wrong_width_is_an_error(booster_and_inputs):
    from pipeline.core.errors import AccidentsError

    booster, x = booster_and_inputs
    with pytest.raises(AccidentsError, match=r"expected a \(rows, 4\) matrix"):
        CompiledTrees.from_booster(booster).predict(x[:, :3])
