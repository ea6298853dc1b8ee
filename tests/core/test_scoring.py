from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.core.errors import AccidentsError
from pipeline.gold.scoring import score_distinct_blocks


class CountingModel:
    def __init__(self):
        self.rows_seen = 0

    def predict_probability(self, df):
        self.rows_seen += len(df)
        return 1.0 / (1.0 + np.exp(-(df["a"].to_numpy() - df["b"].to_numpy())))


def test_identical_blocks_are_scored_once_and_results_match_direct_scoring():
    block = pd.DataFrame({"a": [0.1, 0.5, 0.9], "b": [1.0, 2.0, 3.0]})
    other = block.assign(a=block["a"] + 1)
    features = pd.concat([block, other, block, block], ignore_index=True)
    model, cache = CountingModel(), {}
    proba = score_distinct_blocks(model, features, 3, cache)
    np.testing.assert_allclose(proba, CountingModel().predict_probability(features))
    assert model.rows_seen == 6  # two distinct blocks of three rows
    again = score_distinct_blocks(model, pd.concat([other, block], ignore_index=True), 3, cache)
    assert model.rows_seen == 6  # the cache spans calls
    np.testing.assert_allclose(again, np.concatenate([proba[3:6], proba[:3]]))


def test_wrong_shapes_are_errors():
    with pytest.raises(ValueError, match="do not split into blocks of 4"):
        score_distinct_blocks(CountingModel(), pd.DataFrame({"a": [1.0] * 6, "b": [0.0] * 6}), 4, {})

    class Broken:
        def predict_probability(self, df):
            return np.zeros(len(df) + 1)

    with pytest.raises(AccidentsError, match="model returned"):
        score_distinct_blocks(Broken(), pd.DataFrame({"a": [1.0, 2.0], "b": [0.0, 0.0]}), 1, {})
