"""Training data of the reference protocol (the predecessor's): a stratified validation share is carved
from gold.train for tuning; the final model is refitted on all of gold.train (as the predecessor fitted
on its whole 80 %). The test rows (gold.test) are loaded by a separate function, called once at the end.

Past a size (millions of rows at scale 200) the fits run on random samples instead (`fit_rows`): the
trials on at most `tune_rows` rows, the final model on at most `refit_rows` at the tuning sample's
label mix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.core.errors import AccidentsError
from pipeline.core.features import CATEGORICAL, FEATURE_COLUMNS
from pipeline.core.lake import DEP, table_exists
from pipeline.gold.model_bundle import fit_category_codes
from pipeline.silver.tables import recorded_lookback_years

PROTOCOLS = ("reference",)
TABLES = {"reference": ("gold.train", "gold.test")}


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


POSITIVE_SHARE = 0.5  # a capped tuning sample keeps every positive while they are at most half of it


def draw(rows: Rows, positives: int, negatives: int, *, seed: int) -> tuple[Rows, float]:
    """`positives` and `negatives` rows of `rows` at random (each label's rate the same in every year)
    -> (sample, odds factor). The factor r_pos / r_neg of the sampling rates multiplies the negatives'
    weight: a kept negative stands for 1/r_neg of the source's, so prior correction stays exact.
    Asking for every row returns the same Rows object (callers rely on `is`) and 1.0."""
    frame = rows.frame
    n_pos = int((frame["target"] == 1).sum())
    n_neg = len(frame) - n_pos
    if positives >= n_pos and negatives >= n_neg:
        return rows, 1.0
    rates = {1: min(1.0, positives / n_pos) if n_pos else 1.0, 0: min(1.0, negatives / n_neg) if n_neg else 1.0}
    rng = np.random.default_rng(seed)
    keep = np.zeros(len(frame), dtype=bool)
    for (label, _), index in frame.groupby(["target", "year"], sort=True).indices.items():
        take = int(len(index) * rates[int(label)])  # rounded down: never above the cap
        keep[rng.choice(index, take, replace=False)] = True
    sample = frame[keep].reset_index(drop=True)
    kept_pos = int((sample["target"] == 1).sum())
    kept_neg = len(sample) - kept_pos
    factor = (kept_pos / n_pos) / (kept_neg / n_neg) if n_pos and kept_neg else 1.0
    return Rows(sample), factor


def sample_rows(rows: Rows, max_rows: int | None, *, seed: int, keep_positives: bool = True) -> tuple[Rows, float]:
    """At most `max_rows` of `rows` (see `draw`); below the cap the same Rows object and 1.0.

    With `keep_positives` (tuning rows), every positive is kept while they are at most POSITIVE_SHARE
    of the sample (else a random POSITIVE_SHARE of it) and negatives fill the rest: the rare class
    keeps its information. Without it (validation rows) both labels keep their share, so the
    prevalence, hence PR-AUC, is that of the whole set."""
    if max_rows is None or len(rows) <= max_rows:
        return rows, 1.0
    n_pos = int(rows.y.sum())
    n_neg = len(rows) - n_pos
    if keep_positives:
        positives = min(n_pos, int(max_rows * POSITIVE_SHARE))
        negatives = min(n_neg, max_rows - positives)
        positives = min(n_pos, max_rows - negatives)  # few negatives: positives take the rest
    else:
        positives, negatives = n_pos * max_rows // len(rows), n_neg * max_rows // len(rows)
    return draw(rows, positives, negatives, seed=seed)


@dataclass
class FitRows:
    """The rows one training's fits see; the weights are the negatives' sampling weights of each sample."""

    tune: Rows  # the Optuna trials' fits
    tune_valid: Rows  # the trials' early stopping and scores
    refit: Rows  # the final model's fit
    tune_negative_weight: float
    refit_negative_weight: float


def fit_rows(data: TrainingData, *, tune_rows: int | None, refit_rows: int | None, seed: int) -> FitRows:
    """The capped samples of `data`; below the caps, `data`'s own rows (nothing changes on the demo).

    Once the tuning rows are sampled, the final model keeps the tuning sample's label mix (every
    refit positive that fits in `refit_rows` at that mix, negatives in proportion): parameters and
    rounds tuned on one mix do not carry over to another (at demo scale 20, LightGBM's tuned
    parameters refitted on all rows at the natural 1:20 mix lost 0.09 of test PR-AUC against the
    same parameters on the positive-rich tuning mix)."""
    tune, tune_factor = sample_rows(data.train, tune_rows, seed=seed)
    tune_valid, _ = sample_rows(data.valid, tune_rows, seed=seed + 1, keep_positives=False)
    if tune is data.train:
        refit, refit_factor = sample_rows(data.refit, refit_rows, seed=seed + 2)
    else:
        share = float(tune.y.mean())
        n_pos = int(data.refit.y.sum())
        positives = n_pos if refit_rows is None else min(n_pos, int(refit_rows * share))
        negatives = int(positives * (1 - share) / share)
        refit, refit_factor = draw(data.refit, positives, negatives, seed=seed + 2)
    return FitRows(tune=tune, tune_valid=tune_valid, refit=refit,
                   tune_negative_weight=data.negative_weight * tune_factor,
                   refit_negative_weight=data.negative_weight * refit_factor)


def load_training_data(con, protocol: str, sampler: str, *, seed: int = 42,
                       valid_fraction: float = 0.2) -> TrainingData:
    if protocol not in PROTOCOLS:
        raise AccidentsError(f"protocol={protocol!r}: expected one of {', '.join(PROTOCOLS)}")
    train_table, _ = TABLES[protocol]
    refit = _read(con, train_table, sampler)
    train, valid = carve_validation(refit, valid_fraction, seed)
    cutoff = refit["history_cutoff"].max() if "history_cutoff" in refit else None
    train_rows = Rows(train)
    return TrainingData(
        protocol=protocol,
        sampler=sampler,
        train=train_rows,
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
    return Rows(_read(con, TABLES[protocol][1], sampler))
