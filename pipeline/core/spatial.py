"""Spatial helpers: projection to the département's metric CRS and haversine BallTree queries.

Distances on the sphere use scikit-learn's haversine BallTree (coordinates in radians); distances to
road geometries use shapely in the metric CRS (EPSG:3163 for New Caledonia), never Web Mercator.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sklearn.neighbors import BallTree

EARTH_RADIUS_KM = 6371.0088


def to_metric(lon, lat, crs: str) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 lon/lat arrays -> x, y in metres in `crs`."""
    from pyproj import Transformer

    transformer = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    x, y = transformer.transform(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    return np.asarray(x, dtype=float), np.asarray(y, dtype=float)


def haversine_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance in km, broadcasting over numpy arrays."""
    lat1, lon1, lat2, lon2 = (np.radians(np.asarray(a, dtype=float)) for a in (lat1, lon1, lat2, lon2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def _radians(lat, lon) -> np.ndarray:
    return np.radians(np.column_stack([np.asarray(lat, dtype=float), np.asarray(lon, dtype=float)]))


def haversine_tree(lat, lon) -> BallTree:
    from sklearn.neighbors import BallTree

    return BallTree(_radians(lat, lon), metric="haversine")


def count_within_km(tree: BallTree, lat, lon, radius_km: float) -> np.ndarray:
    """Number of indexed points within `radius_km` of each query point."""
    if len(np.atleast_1d(lat)) == 0:
        return np.zeros(0, dtype=np.int64)
    counts = tree.query_radius(_radians(lat, lon), r=radius_km / EARTH_RADIUS_KM, count_only=True)
    return counts.astype(np.int64)


def nearest_km(tree: BallTree, lat, lon, k: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(distances in km, indices) of the k nearest indexed points; shape (n, k), nearest first."""
    k = min(k, tree.data.shape[0])
    dist, idx = tree.query(_radians(lat, lon), k=k)
    return dist * EARTH_RADIUS_KM, idx
