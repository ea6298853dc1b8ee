"""LightGBM: leaf-wise trees on histograms, categorical features natively."""

from __future__ import annotations

from pathlib import Path

from pipeline.gold.algorithms.base import EARLY_STOPPING, REPORT_EVERY, Algorithm, Pruned


class LightGBMAlgorithm(Algorithm):
    name = "lightgbm"
    model_file = "model.txt"
    native_metric = {"pr_auc": "average_precision", "recall": "average_precision", "logloss": "binary_logloss"}
    mlflow_flavour = "mlflow.lightgbm"
    requirement = "lightgbm"

    def suggest_params(self, trial):
        return {
            "learning_rate": trial.suggest_float("learning_rate", 0.03, 0.3, log=True),
            "max_depth": trial.suggest_int("max_depth", 3, 8),
            "num_leaves": trial.suggest_int("num_leaves", 8, 64, log=True),
            "min_child_samples": trial.suggest_int("min_child_samples", 10, 100, log=True),
            "feature_fraction": trial.suggest_float("feature_fraction", 0.6, 1.0),
            "bagging_fraction": trial.suggest_float("bagging_fraction", 0.6, 1.0),
            "lambda_l2": trial.suggest_float("lambda_l2", 1e-3, 10.0, log=True),
        }

    def fit(self, template, params, X_train, y_train, X_valid, y_valid, *, metric, seed, rounds, report, threads):
        import lightgbm as lgb

        cats = template.categorical_columns
        names = list(template.feature_columns)
        lgb_params = {
            **params, "objective": "binary", "metric": metric, "num_threads": threads, "seed": seed,
            "deterministic": True, "force_col_wise": True, "verbosity": -1, "bagging_freq": 1,
        }
        train_set = lgb.Dataset(self.native_input(template, X_train), label=y_train, feature_name=names,
                                categorical_feature=cats, free_raw_data=True)
        callbacks, valid_sets = [], []
        if X_valid is not None:
            valid_sets = [lgb.Dataset(self.native_input(template, X_valid), label=y_valid, reference=train_set,
                                      feature_name=names, categorical_feature=cats)]
            callbacks.append(lgb.early_stopping(EARLY_STOPPING, first_metric_only=True, verbose=False))
            if report:
                def _report(env) -> None:
                    if env.iteration % REPORT_EVERY == 0 and report(env.iteration, env.evaluation_result_list[0][2]):
                        raise Pruned(env.iteration)
                callbacks.append(_report)
        booster = lgb.train(lgb_params, train_set, num_boost_round=rounds, valid_sets=valid_sets,
                            callbacks=callbacks)
        has_best = X_valid is not None and booster.best_iteration > 0
        used = booster.best_iteration if has_best else booster.num_trees()
        if X_valid is not None:  # keep only the rounds early stopping chose
            booster = lgb.Booster(model_str=booster.model_to_string(num_iteration=used))
        return booster, int(used)

    def load(self, path: Path):
        import lightgbm as lgb

        return lgb.Booster(model_file=str(path))

    def importance(self, model):
        values = model.booster.feature_importance(importance_type="gain")
        return {n: float(v) for n, v in zip(model.feature_columns, values, strict=True)}


ALGORITHM = LightGBMAlgorithm()
