"""The real-time risk API (`accidents serve`) and its notifications.

- `service`: the use cases behind the API (nearest road point, risk of a point-hour, hotspots, day
  grids read from gold.predictions or scored on the fly with the champion); no HTTP in there.
- `champion`: the registered champion, reloaded when its alias moves.
- `app`: the FastAPI layer (parameters, JSON/GeoJSON shapes, errors, Prometheus metrics).
- `notify`: webhooks (critical zones after a daily prediction, failed Dagster runs).
"""
