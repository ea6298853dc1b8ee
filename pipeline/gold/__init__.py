"""Gold stages: datasets, model training and registry, evaluation, scoring and predictions.
May import pipeline.core, pipeline.sources and the bronze/silver layers."""
