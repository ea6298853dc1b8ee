"""The stored risk model: a native booster plus the JSON needed to feed it and to calibrate it.

A bundle directory holds `bundle.json` and one native model file (CatBoost `.cbm`, LightGBM text,
XGBoost UBJSON). Nothing is pickled, so loading a bundle never executes stored code.

These are the predecessor's case-control classifiers, reproduced by the reference protocol for
comparison and never published (the product's models are the intensity models of
pipeline.gold.intensity). Models are trained unweighted on a case-control sample in which every
negative stands for `negative_weight` road-point-hours; `predict_probability` divides the inflated
odds back out (prior correction).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pipeline.core.errors import AccidentsError
from pipeline.gold import algorithms

if TYPE_CHECKING:
    from pipeline.gold.algorithms.base import Algorithm

BUNDLE_FILE = "bundle.json"
# Feature names of earlier releases, read as today's (the names a stored booster was trained with do
# not matter: it is fed by column position).
LEGACY_FEATURE_NAMES = {"dist_to_noumea_km": "dist_to_main_city_km"}
FORMAT_VERSION = 1
UNKNOWN_CODE = -1


def category_key(value: Any) -> str | None:
    """The JSON key of a categorical value: integers and integral floats alike map to '3'."""
    if value is None:
        return None
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if value.is_integer():
            return str(int(value))
    return str(value)


def fit_category_codes(frame: pd.DataFrame, columns: list[str]) -> dict[str, dict[str, int]]:
    """category -> integer code per categorical column, codes 0..k-1 in sorted key order."""
    codes: dict[str, dict[str, int]] = {}
    for column in columns:
        keys = {category_key(v) for v in frame[column].unique()} - {None}
        codes[column] = {key: i for i, key in enumerate(sorted(keys))}
    return codes


def prior_correction(score: np.ndarray, negative_weight: float) -> np.ndarray:
    """Case-control probability -> population probability: odds / w."""
    p = np.clip(np.asarray(score, dtype=float), 1e-12, 1 - 1e-12)
    odds = p / (1.0 - p) / float(negative_weight)
    return odds / (1.0 + odds)


@dataclass
class RiskModel:
    algorithm: str
    booster: Any  # catboost.CatBoost | lightgbm.Booster | xgboost.Booster
    feature_columns: list[str]
    categorical_codes: dict[str, dict[str, int]]
    negative_weight: float
    sampler: str
    history_cutoff: str | None = None
    history_lookback_years: int | None = None  # years of past accidents behind the history features
    train_years: list[int] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        algorithms.get(self.algorithm)  # an unknown name is an error listing the known ones
        if not self.negative_weight > 0:
            raise AccidentsError(f"negative_weight={self.negative_weight!r}: must be positive")

    @property
    def spec(self) -> Algorithm:
        """The algorithm's registry entry: native input, prediction, storage."""
        return algorithms.get(self.algorithm)

    @property
    def categorical_columns(self) -> list[str]:
        return [c for c in self.feature_columns if c in self.categorical_codes]

    # --- encoding ---------------------------------------------------------------------------
    def encode(self, df: pd.DataFrame) -> pd.DataFrame:
        """Model input in stored column order: numeric as float, categories as int codes (-1 unknown)."""
        missing = [c for c in self.feature_columns if c not in df.columns]
        if missing:
            raise AccidentsError(f"model input lacks feature columns: {', '.join(missing)}")
        out: dict[str, Any] = {}
        for column in self.feature_columns:
            values = df[column]
            mapping = self.categorical_codes.get(column)
            if mapping is None:
                out[column] = pd.to_numeric(values, errors="coerce").astype(float).to_numpy()
            else:
                # map each distinct value once: scoring grids have millions of rows, few categories
                positions, uniques = pd.factorize(values, use_na_sentinel=False)
                lookup = np.array([mapping.get(category_key(u), UNKNOWN_CODE) for u in uniques], dtype=np.int64)
                out[column] = lookup[positions]
        # copy=False keeps one block per column: no stacking here, and the booster's float matrix is
        # then filled column by column (~10x faster on a 0.005-deg day than consolidated blocks)
        return pd.DataFrame(out, index=df.index, copy=False)

    def native_input(self, encoded: pd.DataFrame, label: np.ndarray | None = None):
        """What the booster's predict/train API expects for the encoded frame."""
        return self.spec.native_input(self, encoded, label)

    # --- prediction -------------------------------------------------------------------------
    def predict_score(self, df: pd.DataFrame) -> np.ndarray:
        """Raw model probability on the case-control scale (what the booster outputs)."""
        return self.predict_encoded(self.encode(df))

    def predict_encoded(self, encoded: pd.DataFrame) -> np.ndarray:
        return self.spec.predict(self.booster, self.native_input(encoded))

    def predict_probability(self, df: pd.DataFrame) -> np.ndarray:
        """Probability of an accident in the road-point-hour, after prior correction."""
        return prior_correction(self.predict_score(df), self.negative_weight)

    # --- storage ----------------------------------------------------------------------------
    @property
    def model_file(self) -> str:
        return self.spec.model_file

    def metadata(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "algorithm": self.algorithm,
            "model_file": self.model_file,
            "feature_columns": list(self.feature_columns),
            "categorical_codes": self.categorical_codes,
            "negative_weight": float(self.negative_weight),
            "sampler": self.sampler,
            "history_cutoff": self.history_cutoff,
            "history_lookback_years": self.history_lookback_years,
            "train_years": [int(y) for y in self.train_years],
            "params": self.params,
            "metrics": {k: float(v) for k, v in self.metrics.items()},
        }

    def save(self, directory: str | Path) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.spec.save(self.booster, directory / self.model_file)
        (directory / BUNDLE_FILE).write_text(json.dumps(self.metadata(), indent=2, sort_keys=True))
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> RiskModel:
        directory = Path(directory)
        meta_path = directory / BUNDLE_FILE
        if not meta_path.is_file():
            raise AccidentsError(f"{meta_path}: no model bundle here (bundle.json missing)")
        try:
            meta = json.loads(meta_path.read_text())
        except json.JSONDecodeError as exc:
            raise AccidentsError(f"{meta_path}: invalid JSON at line {exc.lineno}") from None
        if meta.get("format_version") != FORMAT_VERSION:
            raise AccidentsError(f"{meta_path}: unsupported bundle format {meta.get('format_version')!r}")
        algorithm = meta["algorithm"]
        model_path = directory / meta["model_file"]
        if not model_path.is_file():
            raise AccidentsError(f"{model_path}: native model file missing from the bundle")
        return cls(
            algorithm=algorithm,
            booster=algorithms.get(algorithm).load(model_path),
            feature_columns=[LEGACY_FEATURE_NAMES.get(c, c) for c in meta["feature_columns"]],
            categorical_codes={k: dict(v) for k, v in meta["categorical_codes"].items()},
            negative_weight=float(meta["negative_weight"]),
            sampler=meta["sampler"],
            history_cutoff=meta.get("history_cutoff"),
            history_lookback_years=meta.get("history_lookback_years"),
            train_years=list(meta.get("train_years", [])),
            params=dict(meta.get("params", {})),
            metrics=dict(meta.get("metrics", {})),
        )

