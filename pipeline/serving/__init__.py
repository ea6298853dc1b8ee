"""Serving: what users read, over the layers below — the offline risk map, the real-time risk API
(`accidents serve`) and its notifications. May import every layer below the entry points.

- `risk_map`, `map_page`: the offline HTML map (land, roads, heat layer, hourly markers).
- `service`: the use cases behind the API (nearest road point, risk of a point-hour, hotspots, day
  grids read from gold.predictions or scored on the fly with the champion); no HTTP in there.
  `roads` (the road points and their nearest-point search) and `params` (options, request parameters).
- `champion`: the registered champion, loaded beside start-up and reloaded when its alias moves.
- `app` (the FastAPI application), `routes` (one function per route), `responses` (JSON/GeoJSON
  shapes, the synthetic-data header), `compute` (bounded scoring of days not stored), `server`
  (uvicorn with a deadline for request headers), `metrics` (Prometheus), `config` (options from the
  environment, for workers).
- `notify`: webhooks (critical zones after a daily prediction, failed Dagster runs with their causes).
"""
