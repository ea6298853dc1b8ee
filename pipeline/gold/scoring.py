"""Scoring feature rows block by block, each distinct block once.

A scoring grid repeats itself: two Tuesdays of the same month, outside holidays, give every road
point the same feature values (history features are constant over a year), so a deterministic model
gives them the same probabilities. Hashing each block of rows (an hour or a day of every road point)
and scoring only blocks not seen before cuts a year's scoring several-fold.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import numpy as np

from pipeline.core.errors import AccidentsError

if TYPE_CHECKING:
    import pandas as pd


class ProbabilityModel(Protocol):
    def predict_probability(self, df: pd.DataFrame) -> np.ndarray: ...


def score_distinct_blocks(model: ProbabilityModel, features: pd.DataFrame, block_rows: int,
                          cache: dict[bytes, np.ndarray]) -> np.ndarray:
    """Probabilities of `features`, whose rows form consecutive blocks of `block_rows` rows.

    `cache` maps a block's fingerprint to its probabilities and is shared across calls (chunks)."""
    import pandas as pd

    if len(features) % block_rows:
        raise ValueError(f"{len(features)} rows do not split into blocks of {block_rows}")
    n_blocks = len(features) // block_rows
    hashes = pd.util.hash_pandas_object(features, index=False).to_numpy().reshape(n_blocks, block_rows)
    keys = [row.tobytes() for row in hashes]
    todo = [i for i, key in enumerate(keys) if key not in cache and keys.index(key) == i]
    if todo:
        rows = np.concatenate([np.arange(i * block_rows, (i + 1) * block_rows) for i in todo])
        proba = np.asarray(model.predict_probability(features.iloc[rows]), dtype=np.float64)
        if proba.shape != (len(rows),):
            raise AccidentsError(f"model returned {proba.shape} probabilities for {len(rows)} rows")
        for j, i in enumerate(todo):
            cache[keys[i]] = proba[j * block_rows:(j + 1) * block_rows]
    return np.concatenate([cache[key] for key in keys])
