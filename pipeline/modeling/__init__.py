"""Model training internals: data loading, per-algorithm boosters, Optuna tuning, scores, figures.

`pipeline.stage_modeling.train_models` is the entry point; these modules each do one job for it.
"""
