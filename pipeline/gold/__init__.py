"""Gold stages: datasets, model training and registry, baselines, scoring and predictions.
May import pipeline.core, pipeline.sources and the bronze/silver layers."""
