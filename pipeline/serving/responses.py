"""Response shapes of the risk API: JSON written straight to bytes, GeoJSON, one error body, and the
header that says whether an answer comes from synthetic demo data.

Every error body is `{"error": "<parameter>: <what is wrong>", "parameter": "<parameter>"}`.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi.responses import Response

SYNTHETIC_HEADER = "X-Data-Synthetic"


def data_headers(synthetic: bool) -> dict[str, str]:
    """`X-Data-Synthetic: true` on every answer built from a lake of demo data (`false` otherwise)."""
    return {SYNTHETIC_HEADER: "true" if synthetic else "false"}


def json_response(body: Any, status: int = 200, media_type: str = "application/json",
                  headers: dict[str, str] | None = None) -> Response:
    # json.dumps straight to bytes: skips FastAPI's per-field encoding on the hot path.
    return Response(json.dumps(body, separators=(",", ":")), status_code=status, media_type=media_type,
                    headers=headers)


def error_response(parameter: str | None, message: str, status: int,
                   headers: dict[str, str] | None = None) -> Response:
    return json_response({"error": message, "parameter": parameter}, status, headers=headers)


def geojson_response(features: list[dict], *, headers: dict[str, str] | None = None, **properties) -> Response:
    return json_response({"type": "FeatureCollection", "properties": properties, "features": features},
                         media_type="application/geo+json", headers=headers)


def point_feature(lat: float, lon: float, properties: dict) -> dict:
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]}, "properties": properties}
