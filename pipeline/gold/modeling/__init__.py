"""Model training internals: data loading, per-algorithm boosters, Optuna tuning, scores, figures.

`pipeline.gold.training.train_models` is the entry point; these modules each do one job for it.
"""
