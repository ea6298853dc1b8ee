"""LightGBM: leaf-wise trees on histograms, categorical features natively."""

from __future__ import annotations

from pathlib import Path

from pipeline.gold.algorithms.base import EARLY_STOPPING, REPORT_EVERY, Algorithm, FitData, Pruned

DATASET_PARAMS = {"feature_pre_filter": False}  # given to the Dataset and to every fit on it


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

    def fit_data(self, template, X_train, y_train, X_valid=None, y_valid=None):
        import lightgbm as lgb

        # Binned once, on the first fit, then reused by every trial. `feature_pre_filter` off: the
        # bins must not depend on the trial's min_child_samples. The raw matrix is freed after binning,
        # so a trial parameter that would need new bins fails loudly instead of silently rebinning.
        cats, names = template.categorical_columns, list(template.feature_columns)
        dataset_params = {**DATASET_PARAMS, "verbosity": -1}
        train = lgb.Dataset(self.native_input(template, X_train), label=y_train, feature_name=names,
                            categorical_feature=cats, params=dataset_params, free_raw_data=True)
        if X_valid is None:
            return FitData(train)
        valid_matrix = self.native_input(template, X_valid)
        valid = lgb.Dataset(valid_matrix, label=y_valid, reference=train, feature_name=names,
                            categorical_feature=cats, params=dataset_params, free_raw_data=True)
        return FitData(train, valid, valid_matrix)

    def fit(self, template, params, data, *, metric, seed, rounds, report, threads):
        import lightgbm as lgb

        lgb_params = {
            **params, **DATASET_PARAMS, "objective": "binary", "metric": metric, "num_threads": threads,
            "seed": seed, "deterministic": True, "force_col_wise": True, "verbosity": -1, "bagging_freq": 1,
        }
        has_valid = data.valid is not None
        callbacks, valid_sets = [], []
        if has_valid:
            valid_sets = [data.valid]
            callbacks.append(lgb.early_stopping(EARLY_STOPPING, first_metric_only=True, verbose=False))
            if report:
                def _report(env) -> None:
                    if env.iteration % REPORT_EVERY == 0 and report(env.iteration, env.evaluation_result_list[0][2]):
                        raise Pruned(env.iteration)
                callbacks.append(_report)
        # keep_training_booster: skip LightGBM's own model-string round trip, the one below suffices
        booster = lgb.train(lgb_params, data.train, num_boost_round=rounds, valid_sets=valid_sets,
                            callbacks=callbacks, keep_training_booster=has_valid)
        has_best = has_valid and booster.best_iteration > 0
        used = booster.best_iteration if has_best else booster.num_trees()
        if has_valid:  # keep only the rounds early stopping chose (and drop the Dataset references)
            booster = lgb.Booster(model_str=booster.model_to_string(num_iteration=used))
        return booster, int(used)

    def load(self, path: Path):
        import lightgbm as lgb

        return lgb.Booster(model_file=str(path))

    def importance(self, model):
        values = model.booster.feature_importance(importance_type="gain")
        return {n: float(v) for n, v in zip(model.feature_columns, values, strict=True)}


ALGORITHM = LightGBMAlgorithm()
