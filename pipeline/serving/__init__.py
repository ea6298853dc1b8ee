"""Serving: what users read, over the layers below — the offline risk map, the real-time risk API
(`accidents serve`) and its notifications. May import every layer below the entry points.

- `risk_map`: the offline HTML map (land, roads, heat layer, hourly markers).
- `service`: the use cases behind the API (nearest road point, risk of a point-hour, hotspots, day
  grids read from gold.predictions or scored on the fly with the champion); no HTTP in there.
- `champion`: the registered champion, reloaded when its alias moves.
- `app`: the FastAPI layer (parameters, JSON/GeoJSON shapes, errors, Prometheus metrics).
- `notify`: webhooks (critical zones after a daily prediction, failed Dagster runs).
"""
