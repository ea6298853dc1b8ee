"""Honest evaluation, above the gold stage: a temporal hold-out scored on every road point x hour of
the test year (`evaluation`), the grid metrics (`metrics`), daily skill and the truth's references
(`skill`) and the evaluation's MLflow run (`evaluation_mlflow`). The hotspot baselines it compares
against are product candidates and stay in pipeline.gold.baselines.
May import pipeline.core, pipeline.sources, bronze, silver and gold; gold never imports it."""
