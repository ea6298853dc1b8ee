"""Poisson boosting with an offset and a monotone rain term, one adapter per library.

Each adapter trains trees on rows (features, accident count, log offset) with the library's Poisson
objective, the offset as the starting margin (LightGBM init_score, XGBoost base_margin, CatBoost
baseline) and early stopping on validation rows; `raw` gives the trees' own log adjustment (without
the offset). Models are stored in each library's native format: nothing is pickled.

Rain: `rain_level` is constrained to raise the prediction, and may only meet the time features in a
tree (LightGBM and XGBoost interaction constraints): the trees' rain effect is then the same at every
road point of an hour, so a fast road's rain ratio stays the GLM's, never below a slow road's.
CatBoost has no interaction constraints: its trees do not see the weather, the GLM's rain terms carry it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

MAX_ROUNDS = 300
EARLY_STOPPING = 30
MONOTONE_FEATURE = "rain_level"
CATEGORICAL_FEATURE = "commune_code"
TIME_FEATURES = ("hour_band", "day_type", MONOTONE_FEATURE)


@dataclass(frozen=True)
class BoostRows:
    features: pd.DataFrame
    count: np.ndarray
    offset: np.ndarray  # log expected accidents of the row under the offset model


class Booster:
    name: str
    file_name: str

    def suggest(self, trial) -> dict[str, Any]:
        raise NotImplementedError

    def fit(self, params: dict[str, Any], train: BoostRows, valid: BoostRows | None, *, rounds: int, seed: int,
            threads: int):
        """-> (native model, rounds used: the best validation round, or `rounds` without validation)."""
        raise NotImplementedError

    def raw(self, model, features: pd.DataFrame) -> np.ndarray:
        """Log adjustment of each row (the offset excluded)."""
        raise NotImplementedError

    def save(self, model, path: Path) -> None:
        model.save_model(str(path))

    def load(self, path: Path):
        raise NotImplementedError


def _monotone(features: pd.DataFrame) -> list[int]:
    return [1 if c == MONOTONE_FEATURE else 0 for c in features.columns]


def _interaction_groups(features: pd.DataFrame) -> list[list[int]]:
    """Column indices that may meet in a tree: rain with the time features only; every other feature
    with any but rain."""
    columns = list(features.columns)
    time = [columns.index(c) for c in TIME_FEATURES if c in columns]
    rest = [i for i, c in enumerate(columns) if c != MONOTONE_FEATURE]
    return [time, rest]


def _without_weather(rows: BoostRows) -> BoostRows:
    return BoostRows(rows.features.drop(columns=[MONOTONE_FEATURE]), rows.count, rows.offset)


class LightGBMBooster(Booster):
    name, file_name = "lightgbm", "booster.txt"

    def suggest(self, trial):
        return {"learning_rate": trial.suggest_float("learning_rate", 0.05, 0.3, log=True),
                "num_leaves": trial.suggest_int("num_leaves", 3, 24, log=True),
                "min_child_samples": trial.suggest_int("min_child_samples", 20, 400, log=True),
                "lambda_l2": trial.suggest_float("lambda_l2", 0.1, 30.0, log=True),
                "feature_fraction": trial.suggest_float("feature_fraction", 0.5, 1.0)}

    def fit(self, params, train, valid, *, rounds, seed, threads):
        import lightgbm as lgb

        options = {**params, "objective": "poisson", "metric": "poisson", "monotone_constraints": _monotone(train.features),
                   "interaction_constraints": _interaction_groups(train.features),
                   "seed": seed, "deterministic": True, "num_threads": threads, "verbosity": -1,
                   "feature_pre_filter": False}
        data = lgb.Dataset(train.features, train.count, init_score=train.offset, categorical_feature=[CATEGORICAL_FEATURE],
                           free_raw_data=False)
        if valid is None:
            return lgb.train(options, data, num_boost_round=rounds), rounds
        checked = lgb.Dataset(valid.features, valid.count, init_score=valid.offset, reference=data)
        model = lgb.train(options, data, num_boost_round=rounds, valid_sets=[checked],
                          callbacks=[lgb.early_stopping(EARLY_STOPPING, verbose=False)])
        used = max(1, model.best_iteration or rounds)
        return lgb.Booster(model_str=model.model_to_string(num_iteration=used)), used

    def raw(self, model, features):
        return np.asarray(model.predict(features, raw_score=True), dtype=float)

    def load(self, path):
        import lightgbm as lgb

        return lgb.Booster(model_file=str(path))


class XGBoostBooster(Booster):
    name, file_name = "xgboost", "booster.ubj"

    def suggest(self, trial):
        return {"eta": trial.suggest_float("eta", 0.05, 0.3, log=True),
                "max_depth": trial.suggest_int("max_depth", 2, 5),
                "min_child_weight": trial.suggest_float("min_child_weight", 1.0, 50.0, log=True),
                "lambda": trial.suggest_float("lambda", 0.1, 30.0, log=True),
                "colsample_bytree": trial.suggest_float("colsample_bytree", 0.5, 1.0)}

    def _matrix(self, rows: BoostRows | None, features=None):
        import xgboost as xgb

        if rows is None:
            return xgb.DMatrix(features, enable_categorical=True)
        return xgb.DMatrix(rows.features, label=rows.count, base_margin=rows.offset, enable_categorical=True)

    def fit(self, params, train, valid, *, rounds, seed, threads):
        import xgboost as xgb

        monotone = "(" + ",".join(str(v) for v in _monotone(train.features)) + ")"
        # base_score 1 is margin 0 for count:poisson: `raw` then gives the trees' adjustment alone
        options = {**params, "objective": "count:poisson", "eval_metric": "poisson-nloglik", "base_score": 1.0,
                   "tree_method": "hist", "monotone_constraints": monotone,
                   "interaction_constraints": str(_interaction_groups(train.features)), "seed": seed,
                   "nthread": threads}
        data = self._matrix(train)
        if valid is None:
            return xgb.train(options, data, num_boost_round=rounds), rounds
        model = xgb.train(options, data, num_boost_round=rounds, evals=[(self._matrix(valid), "valid")],
                          early_stopping_rounds=EARLY_STOPPING, verbose_eval=False)
        used = int(model.best_iteration) + 1
        return model[:used], used

    def raw(self, model, features):
        return np.asarray(model.predict(self._matrix(None, features), output_margin=True), dtype=float)

    def load(self, path):
        import xgboost as xgb

        model = xgb.Booster()
        model.load_model(str(path))
        return model


class CatBoostBooster(Booster):
    name, file_name = "catboost", "booster.cbm"

    def suggest(self, trial):
        return {"learning_rate": trial.suggest_float("learning_rate", 0.05, 0.3, log=True),
                "depth": trial.suggest_int("depth", 2, 4),
                "l2_leaf_reg": trial.suggest_float("l2_leaf_reg", 0.5, 30.0, log=True),
                "random_strength": trial.suggest_float("random_strength", 0.1, 10.0, log=True)}

    def _pool(self, rows: BoostRows):
        import catboost

        rows = _without_weather(rows)
        return catboost.Pool(rows.features, rows.count, cat_features=[CATEGORICAL_FEATURE], baseline=rows.offset)

    def fit(self, params, train, valid, *, rounds, seed, threads):
        import catboost

        options = {**params, "loss_function": "Poisson", "iterations": rounds, "random_seed": seed,
                   "thread_count": threads,
                   # communes one-hot, not CatBoost's target statistics: 10x faster here, same likelihood
                   "one_hot_max_size": 255, "border_count": 64,
                   "model_shrink_rate": 0.0, "allow_writing_files": False, "verbose": False}
        model = catboost.CatBoost(options)
        if valid is None:
            model.fit(self._pool(train))
            return model, rounds
        model.fit(self._pool(train), eval_set=self._pool(valid), early_stopping_rounds=EARLY_STOPPING,
                  use_best_model=True)
        return model, max(1, int(model.get_best_iteration() or 0) + 1)

    def raw(self, model, features):
        features = features.drop(columns=[MONOTONE_FEATURE], errors="ignore")
        return np.asarray(model.predict(features, prediction_type="RawFormulaVal"), dtype=float)

    def load(self, path):
        import catboost

        model = catboost.CatBoost()
        model.load_model(str(path))
        return model


BOOSTERS: dict[str, Booster] = {b.name: b for b in (CatBoostBooster(), LightGBMBooster(), XGBoostBooster())}
