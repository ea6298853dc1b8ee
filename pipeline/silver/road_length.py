"""Road length served by each road point: the exposure of the risk model.

A road point stands for the stretch of network nearer to it than to any other point (its Voronoi
cell), so that every metre of the drive network belongs to exactly one point. Roads are sampled every
SAMPLE_SPACING_M in the département's metric CRS, each sample goes to its nearest point (a KD-tree),
and the lengths add up per point: in total, on major roads (motorway, trunk, primary), on minor
through roads (secondary, tertiary), on residential streets (residential, living_street) and on fast
roads (speed limit >= FAST_SPEED_KMH); the rest (unclassified, service...) is local road. A point on a
short spur gets a short length, a point in a town grid many kilometres: the same grid cell can hold
ten times more road, hence more traffic and more accidents, than its neighbour.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import shapely

if TYPE_CHECKING:
    import geopandas as gpd

SAMPLE_SPACING_M = 25.0
FAST_SPEED_KMH = 80.0
MAJOR_CLASSES = ("motorway", "trunk", "primary")
MINOR_CLASSES = ("secondary", "tertiary")
RESIDENTIAL_CLASSES = ("residential", "living_street")
LENGTH_COLUMNS = ("road_km", "road_km_major", "road_km_minor", "road_km_residential", "road_km_fast")


def road_class(road_types) -> np.ndarray:
    """'major', 'minor', 'residential' or 'local' of each OSM highway class (a `_link` counts with its
    parent)."""
    base = np.array([str(t).removesuffix("_link") for t in road_types], dtype=object)
    return np.select([np.isin(base, MAJOR_CLASSES), np.isin(base, MINOR_CLASSES), np.isin(base, RESIDENTIAL_CLASSES)],
                     ["major", "minor", "residential"], "local").astype(object)


def sample_roads(roads_metric: gpd.GeoSeries, spacing_m: float = SAMPLE_SPACING_M) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(sample x/y (n, 2), road index of each sample, metres each sample stands for): every road cut
    into equal pieces of at most `spacing_m`, sampled at the pieces' middles."""
    lines = roads_metric.to_numpy()
    lengths = shapely.length(lines)
    pieces = np.maximum(1, np.ceil(lengths / spacing_m)).astype(np.int64)
    road = np.repeat(np.arange(len(lines)), pieces)
    first = np.cumsum(pieces) - pieces
    position = (np.arange(pieces.sum()) - np.repeat(first, pieces) + 0.5) / np.repeat(pieces, pieces)
    xy = shapely.get_coordinates(shapely.line_interpolate_point(lines[road], position, normalized=True))
    return xy, road, (lengths / pieces)[road]


def road_lengths(point_x, point_y, roads_metric: gpd.GeoSeries, road_types, speed_limits) -> dict[str, np.ndarray]:
    """km of road in each point's Voronoi cell: {LENGTH_COLUMNS name: (n_points,) array}."""
    from sklearn.neighbors import KDTree

    xy, road, metres = sample_roads(roads_metric)
    n = len(point_x)
    _, nearest = KDTree(np.column_stack([point_x, point_y])).query(xy, k=1)
    owner = nearest[:, 0]
    classes = road_class(road_types)[road]
    fast = np.asarray(speed_limits, dtype=float)[road] >= FAST_SPEED_KMH

    def km(mask) -> np.ndarray:
        return np.bincount(owner[mask], weights=metres[mask], minlength=n) / 1000.0

    everything = np.ones(len(owner), dtype=bool)
    return {"road_km": km(everything), "road_km_major": km(classes == "major"),
            "road_km_minor": km(classes == "minor"), "road_km_residential": km(classes == "residential"),
            "road_km_fast": km(fast)}
