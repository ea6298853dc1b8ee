"""Spatial helpers: projection to the département's metric CRS and great-circle neighbour queries.

Distances on the sphere use a KD-tree over unit vectors (chord order = great-circle order); distances to
road geometries use shapely in the metric CRS (EPSG:3163 for New Caledonia), never Web Mercator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from scipy.spatial import cKDTree

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


def unit_vectors(lat, lon) -> np.ndarray:
    """(n, 3) points on the unit sphere: the straight-line (chord) order is the great-circle order."""
    phi, lam = np.radians(np.asarray(lat, dtype=float)), np.radians(np.asarray(lon, dtype=float))
    return np.column_stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)])


@dataclass(frozen=True, eq=False)
class HaversineIndex:
    """A KD-tree over unit vectors with the indexed coordinates (scipy's tree: importing
    scikit-learn's BallTree costs about a second of start-up, more than a day's scoring)."""

    tree: cKDTree
    lat: np.ndarray
    lon: np.ndarray

    def __len__(self) -> int:
        return len(self.lat)


def haversine_tree(lat, lon) -> HaversineIndex:
    from scipy.spatial import cKDTree

    lat, lon = np.asarray(lat, dtype=float), np.asarray(lon, dtype=float)
    return HaversineIndex(cKDTree(unit_vectors(lat, lon)), lat, lon)


def chord_of_km(distance_km: float) -> float:
    """Straight-line distance on the unit sphere of a great-circle distance."""
    return 2.0 * float(np.sin(min(distance_km / EARTH_RADIUS_KM, np.pi) / 2.0))


def count_within_km(tree: HaversineIndex, lat, lon, radius_km: float) -> np.ndarray:
    """Number of indexed points within `radius_km` (great circle) of each query point."""
    if len(np.atleast_1d(lat)) == 0:
        return np.zeros(0, dtype=np.int64)
    counts = tree.tree.query_ball_point(unit_vectors(lat, lon), r=chord_of_km(radius_km), return_length=True)
    return np.asarray(counts, dtype=np.int64).reshape(-1)


def nearest_km(tree: HaversineIndex, lat, lon, k: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(distances in km, indices) of the k nearest indexed points; shape (n, k), nearest first."""
    k = min(k, len(tree))
    lat, lon = np.asarray(lat, dtype=float).reshape(-1), np.asarray(lon, dtype=float).reshape(-1)
    _, idx = tree.tree.query(unit_vectors(lat, lon), k=k)
    idx = np.asarray(idx, dtype=np.int64).reshape(len(lat), k)
    # distances by the haversine formula itself, not back from the chord: the same digits as before
    return haversine_km(lat[:, None], lon[:, None], tree.lat[idx], tree.lon[idx]), idx
