"""CatBoost: symmetric trees, categorical features natively."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.gold.algorithms.base import EARLY_STOPPING, REPORT_EVERY, Algorithm, Pruned


class CatBoostAlgorithm(Algorithm):
    name = "catboost"
    model_file = "model.cbm"
    native_metric = {"pr_auc": "PRAUC", "recall": "PRAUC", "logloss": "Logloss"}
    mlflow_flavour = "mlflow.catboost"
    requirement = "catboost"

    def suggest_params(self, trial):
        return {
            "learning_rate": trial.suggest_float("learning_rate", 0.03, 0.3, log=True),
            "depth": trial.suggest_int("depth", 3, 8),
            "l2_leaf_reg": trial.suggest_float("l2_leaf_reg", 1.0, 10.0, log=True),
            "random_strength": trial.suggest_float("random_strength", 0.0, 2.0),
            "rsm": trial.suggest_float("rsm", 0.5, 1.0),  # features tried per split: also a speed knob
        }

    def fit(self, template, params, X_train, y_train, X_valid, y_valid, *, metric, seed, rounds, report, threads):
        from catboost import CatBoost

        has_valid = X_valid is not None
        model = CatBoost({
            **params, "loss_function": "Logloss", "eval_metric": metric, "iterations": rounds,
            "random_seed": seed, "thread_count": threads, "allow_writing_files": False, "verbose": False,
            "border_count": 64,  # a quarter of the default bins: ~2x faster at depth 8, same quality here
            "one_hot_max_size": 16,  # atm (9 codes) and road_type one-hot: no costly CTR statistics
            **({"od_type": "Iter", "od_wait": EARLY_STOPPING, "use_best_model": True} if has_valid else {}),
        })
        pruned = []

        class _Reporter:  # CatBoost stops when after_iteration returns False
            def after_iteration(self, info) -> bool:
                step = info.iteration
                if report is None or step % REPORT_EVERY:
                    return True
                if report(step, float(info.metrics["validation"][metric][-1])):
                    pruned.append(step)
                    return False
                return True

        model.fit(
            self.native_input(template, X_train, y_train),
            eval_set=self.native_input(template, X_valid, y_valid) if has_valid else None,
            callbacks=[_Reporter()] if has_valid and report else None,
        )
        if pruned:
            raise Pruned(pruned[0])
        used = model.get_best_iteration() + 1 if has_valid else model.tree_count_
        return model, int(used)

    def native_input(self, model, encoded, label=None):
        from catboost import Pool

        return Pool(encoded, label=label, cat_features=model.categorical_columns)

    def predict(self, booster, data):
        return np.asarray(booster.predict(data, prediction_type="Probability"))[:, 1]

    def save(self, booster, path: Path) -> None:
        booster.save_model(str(path), format="cbm")

    def load(self, path: Path):
        from catboost import CatBoost

        model = CatBoost()
        model.load_model(str(path), format="cbm")
        return model

    def importance(self, model):
        values = model.booster.get_feature_importance()
        return {n: float(v) for n, v in zip(model.feature_columns, values, strict=True)}


ALGORITHM = CatBoostAlgorithm()
