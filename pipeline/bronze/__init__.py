"""Bronze stages: BAAC files and OpenStreetMap roads into raw, normalised and rejected rows.
May import pipeline.core and pipeline.sources."""
