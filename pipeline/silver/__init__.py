"""Silver stages: road grid, weather, sampled negatives and risk features.
May import pipeline.core, pipeline.sources and pipeline.bronze."""
