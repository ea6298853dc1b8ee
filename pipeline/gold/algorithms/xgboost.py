"""XGBoost: histogram trees, categorical features through its native categorical support."""

from __future__ import annotations

from pathlib import Path

from pipeline.gold.algorithms.base import EARLY_STOPPING, REPORT_EVERY, THREADS, Algorithm, Pruned


class XGBoostAlgorithm(Algorithm):
    name = "xgboost"
    model_file = "model.ubj"
    native_metric = {"pr_auc": "aucpr", "recall": "aucpr", "logloss": "logloss"}
    mlflow_flavour = "mlflow.xgboost"
    requirement = "xgboost-cpu"

    def suggest_params(self, trial):
        return {
            "learning_rate": trial.suggest_float("learning_rate", 0.03, 0.3, log=True),
            "max_depth": trial.suggest_int("max_depth", 3, 8),
            "min_child_weight": trial.suggest_float("min_child_weight", 1.0, 10.0, log=True),
            "subsample": trial.suggest_float("subsample", 0.6, 1.0),
            "colsample_bytree": trial.suggest_float("colsample_bytree", 0.6, 1.0),
            "lambda": trial.suggest_float("lambda", 1e-3, 10.0, log=True),
        }

    def fit(self, template, params, data, *, metric, seed, rounds, report, threads):
        import xgboost as xgb

        xgb_params = {
            **params, "objective": "binary:logistic", "eval_metric": metric, "tree_method": "hist",
            "nthread": threads, "seed": seed, "max_cat_to_onehot": 1,
        }
        # the DMatrix keeps its histogram index between fits: a study's trials quantize the rows once
        evals, callbacks = [], []
        if data.valid is not None:
            evals = [(data.valid, "valid")]
            callbacks.append(xgb.callback.EarlyStopping(rounds=EARLY_STOPPING, metric_name=metric,
                                                        data_name="valid", save_best=True))
            if report:
                class _Reporter(xgb.callback.TrainingCallback):
                    def after_iteration(self, model, epoch, evals_log) -> bool:
                        if epoch % REPORT_EVERY == 0 and report(epoch, float(evals_log["valid"][metric][-1])):
                            raise Pruned(epoch)
                        return False
                callbacks.append(_Reporter())
        booster = xgb.train(xgb_params, data.train, num_boost_round=rounds, evals=evals, callbacks=callbacks,
                            verbose_eval=False)
        return booster, int(booster.num_boosted_rounds())

    def native_input(self, model, encoded, label=None):
        import xgboost as xgb

        matrix = super().native_input(model, encoded)
        types = ["c" if c in model.categorical_codes else "q" for c in model.feature_columns]
        # A stored booster keeps the names it was trained with (a renamed feature keeps its position).
        trained = getattr(model.booster, "feature_names", None)
        names = list(trained) if trained else list(model.feature_columns)
        return xgb.DMatrix(matrix, label=label, feature_names=names, feature_types=types,
                           enable_categorical=True, nthread=THREADS)

    def load(self, path: Path):
        import xgboost as xgb

        booster = xgb.Booster()
        booster.load_model(str(path))
        booster.set_param({"nthread": THREADS})
        return booster

    def importance(self, model):
        scores = model.booster.get_score(importance_type="gain")
        return {n: float(scores.get(n, 0.0)) for n in model.feature_columns}

    def mlflow_log_kwargs(self):
        return {"model_format": "ubj"}


ALGORITHM = XGBoostAlgorithm()
