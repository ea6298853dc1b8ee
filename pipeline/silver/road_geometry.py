"""Road geometry around a road point, from the OSM drive network (bronze.roads, one row per
undirected edge between graph nodes):

- `intersections_100m`: graph nodes where three or more edges meet (junctions; dead ends and
  shape nodes do not count) within 100 m of the point's position on its nearest road;
- `road_sinuosity`: curvature of the nearest edge, its length over the straight line between its
  ends (1.0 straight, 1.5 a winding road; loops whose ends meet are capped at SINUOSITY_CAP).

Both are measured in the département's metric CRS with shapely / scikit-learn trees, never row loops.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import shapely

if TYPE_CHECKING:
    import geopandas as gpd

INTERSECTION_RADIUS_M = 100.0
SINUOSITY_CAP = 5.0
NODE_DECIMALS = 1  # edge ends within 0.1 m are the same graph node


def junctions(roads_metric: gpd.GeoSeries) -> np.ndarray:
    """(n, 2) metric coordinates of the nodes where >= 3 undirected edges end."""
    lines = roads_metric.to_numpy()
    ends = np.vstack([shapely.get_coordinates(shapely.get_point(lines, 0)),
                      shapely.get_coordinates(shapely.get_point(lines, -1))])
    nodes, degree = np.unique(np.round(ends, NODE_DECIMALS), axis=0, return_counts=True)
    return nodes[degree >= 3]


def sinuosity(roads_metric: gpd.GeoSeries) -> np.ndarray:
    """Length / chord of every edge, in [1, SINUOSITY_CAP]."""
    lines = roads_metric.to_numpy()
    start = shapely.get_coordinates(shapely.get_point(lines, 0))
    end = shapely.get_coordinates(shapely.get_point(lines, -1))
    chord = np.hypot(*(end - start).T)
    length = shapely.length(lines)
    ratio = np.divide(length, chord, out=np.full(len(lines), SINUOSITY_CAP), where=chord > 0)
    return np.clip(ratio, 1.0, SINUOSITY_CAP)


def road_geometry(x: np.ndarray, y: np.ndarray, nearest_road: np.ndarray, roads_metric: gpd.GeoSeries
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(intersections_100m, road_sinuosity) of points at metric (x, y) whose nearest edge is
    `nearest_road` (index into roads_metric)."""
    from sklearn.neighbors import KDTree

    lines = roads_metric.to_numpy()[nearest_road]
    on_road = shapely.line_interpolate_point(lines, shapely.line_locate_point(lines, shapely.points(x, y)))
    where = shapely.get_coordinates(on_road)
    nodes = junctions(roads_metric)
    if len(nodes):
        count = KDTree(nodes).query_radius(where, r=INTERSECTION_RADIUS_M, count_only=True)
    else:
        count = np.zeros(len(where), dtype=np.int64)
    return count.astype(np.int64), sinuosity(roads_metric)[nearest_road]
