"""Training data per protocol. The test rows are loaded by a separate function, called once at the end.

- temporal: tune on gold.temporal_train, early-stop/score trials on gold.temporal_valid; the final
  model is refitted on gold.temporal_train only (the validation year stays out-of-sample for the
  evaluation stage's threshold and calibration checks).
- reference: a stratified validation share is carved from gold.train for tuning; the final model is
  refitted on all of gold.train (as the predecessor fitted on its whole 80 %).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.core.errors import AccidentsError
from pipeline.core.features import CATEGORICAL, FEATURE_COLUMNS
from pipeline.core.lake import DEP, table_exists
from pipeline.gold.model_bundle import fit_category_codes
from pipeline.silver.features import recorded_lookback_years

PROTOCOLS = ("temporal", "reference")
TABLES = {
    "temporal": ("gold.temporal_train", "gold.temporal_valid", "gold.temporal_test"),
    "reference": ("gold.train", None, "gold.test"),
}


@dataclass
class Rows:
    """A set of rows: the raw frame (ids, target, features) and its labels."""

    frame: pd.DataFrame

    @property
    def y(self) -> np.ndarray:
        return self.frame["target"].to_numpy(dtype=int)

    @property
    def row_ids(self) -> np.ndarray:
        return self.frame["row_id"].to_numpy()

    def __len__(self) -> int:
        return len(self.frame)


@dataclass
class TrainingData:
    protocol: str
    sampler: str
    train: Rows  # tuning fits
    valid: Rows  # tuning scores and early stopping
    refit: Rows  # the final model's rows
    categorical_codes: dict[str, dict[str, int]]
    negative_weight: float
    train_years: list[int]
    # latest history end (asof) among the refit rows: informational (evaluation warns when it falls after
    # the test year start); scoring derives its own point-in-time windows and never uses it as a cap
    history_cutoff: str | None
    history_lookback_years: int | None = None


def _read(con, table: str, sampler: str) -> pd.DataFrame:
    if not table_exists(con, table):
        raise AccidentsError(f"{table} does not exist; run the datasets stage (`accidents train` builds it)")
    frame = con.execute(f"SELECT * FROM {table} WHERE sampler = ? AND dep = {DEP} ORDER BY row_id", [sampler]).df()
    if frame.empty:
        raise AccidentsError(f"{table} has no rows for sampler={sampler!r}")
    if frame["target"].nunique() < 2:
        raise AccidentsError(f"{table} (sampler={sampler}) needs both positives and negatives")
    return frame


def carve_validation(frame: pd.DataFrame, fraction: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stratified random (train, valid) split of a frame by row_id."""
    rng = np.random.default_rng(seed)
    valid_ids = []
    for _, group in frame.groupby("target"):
        ids = np.sort(group["row_id"].to_numpy())
        valid_ids.append(rng.permutation(ids)[: int(round(len(ids) * fraction))])
    is_valid = frame["row_id"].isin(np.concatenate(valid_ids))
    return frame[~is_valid].reset_index(drop=True), frame[is_valid].reset_index(drop=True)


def negative_weight_of(frame: pd.DataFrame) -> float:
    """Road-point-hours one negative stands for (constant per sampler; the mean if it varies)."""
    weights = frame.loc[frame["target"] == 0, "sampling_weight"].astype(float)
    if weights.empty or not (weights > 0).all():
        raise AccidentsError("negatives need a positive sampling_weight to calibrate probabilities")
    return float(weights.mean())


def load_training_data(con, protocol: str, sampler: str, *, seed: int = 42,
                       valid_fraction: float = 0.2) -> TrainingData:
    if protocol not in PROTOCOLS:
        raise AccidentsError(f"protocol={protocol!r}: expected one of {', '.join(PROTOCOLS)}")
    train_table, valid_table, _ = TABLES[protocol]
    full_train = _read(con, train_table, sampler)
    if valid_table:
        train, valid, refit = full_train, _read(con, valid_table, sampler), full_train
    else:
        train, valid = carve_validation(full_train, valid_fraction, seed)
        refit = full_train
    cutoff = refit["history_cutoff"].max() if "history_cutoff" in refit else None
    return TrainingData(
        protocol=protocol,
        sampler=sampler,
        train=Rows(train),
        valid=Rows(valid),
        refit=Rows(refit),
        categorical_codes=fit_category_codes(refit, [c for c in FEATURE_COLUMNS if c in CATEGORICAL]),
        negative_weight=negative_weight_of(refit),
        train_years=sorted(int(y) for y in refit["year"].unique()),
        history_cutoff=None if cutoff is None or pd.isna(cutoff) else str(pd.Timestamp(cutoff)),
        history_lookback_years=recorded_lookback_years(con),
    )


def load_test_rows(con, protocol: str, sampler: str) -> Rows:
    """The held-out rows: read only after tuning and refitting are over."""
    return Rows(_read(con, TABLES[protocol][2], sampler))
