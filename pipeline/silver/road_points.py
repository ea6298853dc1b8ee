"""Road points: a regular lat/lon grid over the département, keeping cells whose centre lies near a road.

Distances to roads are measured in the département's metric CRS (EPSG:3163 for New Caledonia) with a
shapely STRtree; accidents are attached to their nearest road point with a great-circle KD-tree.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import shapely

from pipeline.core.departments import DEPARTMENTS
from pipeline.core.errors import AccidentsError
from pipeline.core.spatial import haversine_km, haversine_tree, nearest_km, to_metric
from pipeline.silver.road_geometry import road_geometry
from pipeline.silver.road_length import road_lengths

if TYPE_CHECKING:
    import geopandas as gpd

ROW_FACTOR = 100_000  # point_id = row * ROW_FACTOR + col (stable for a given grid_step and bounds)
ROAD_POINT_COLUMNS = ["point_id", "lat", "lon", "road_type", "speed_limit", "dist_to_road_m",
                      "dist_to_main_city_km", "intersections_100m", "road_sinuosity", "road_km", "road_km_major",
                      "road_km_minor", "road_km_residential", "road_km_fast", "com", "dist_to_commune_seat_km", "dep"]


def snap_to_roads(lat, lon, roads: gpd.GeoDataFrame, *, crs: str, max_distance_m: float
                  ) -> tuple[np.ndarray, np.ndarray]:
    """For each point, (index into roads of the nearest road, distance in metres), measured in `crs`;
    (-1, inf) when no road lies within max_distance_m."""
    x, y = to_metric(lon, lat, crs)
    tree = shapely.STRtree(roads.geometry.to_crs(crs).to_numpy())
    (point_idx, road_idx), dist = tree.query_nearest(
        shapely.points(x, y), max_distance=max_distance_m, return_distance=True, all_matches=False
    )
    nearest = np.full(len(x), -1, dtype=np.int64)
    distance = np.full(len(x), np.inf)
    nearest[point_idx], distance[point_idx] = road_idx, dist
    return nearest, distance


def grid_cells(department: str, grid_step: float) -> pd.DataFrame:
    """Every cell of the grid over the département bounds: point_id, lat, lon (cell centres)."""
    dep = DEPARTMENTS[department]
    n_rows = math.ceil(round((dep.lat_max - dep.lat_min) / grid_step, 9))
    n_cols = math.ceil(round((dep.lon_max - dep.lon_min) / grid_step, 9))
    if n_cols >= ROW_FACTOR:
        raise AccidentsError(f"grid_step={grid_step}: too fine for the département ({n_cols} columns)")
    rows, cols = np.divmod(np.arange(n_rows * n_cols, dtype=np.int64), n_cols)
    return pd.DataFrame({
        "point_id": rows * ROW_FACTOR + cols,
        "lat": dep.lat_min + (rows + 0.5) * grid_step,
        "lon": dep.lon_min + (cols + 0.5) * grid_step,
    })


def build_road_points(roads: gpd.GeoDataFrame, *, department: str, grid_step: float,
                      buffer_meters: float) -> pd.DataFrame:
    """Grid cells within buffer_meters of a road, with the nearest road's class, speed limit and
    geometry (junctions within 100 m of the point's position on it, its sinuosity) and the road length
    the point serves (pipeline.silver.road_length). `com` and `dist_to_commune_seat_km` are left empty
    for `attach_communes`."""
    dep = DEPARTMENTS[department]
    cells = grid_cells(department, grid_step)
    nearest, distance = snap_to_roads(cells["lat"], cells["lon"], roads, crs=dep.metric_crs,
                                      max_distance_m=buffer_meters)

    keep = nearest >= 0
    points = cells[keep].reset_index(drop=True)
    if points.empty:  # before the geometry: a KD-tree of no point is not an answer
        raise AccidentsError(
            f"no grid cell of {grid_step} degrees lies within {buffer_meters} m of a road: "
            "check the roads file covers the département or raise --buffer-meters"
        )
    x, y = to_metric(points["lon"].to_numpy(), points["lat"].to_numpy(), dep.metric_crs)
    roads_metric = roads.geometry.to_crs(dep.metric_crs)
    points["intersections_100m"], points["road_sinuosity"] = road_geometry(x, y, nearest[keep], roads_metric)

    for name, km in road_lengths(x, y, roads_metric, roads["road_type"], roads["speed_limit"]).items():
        points[name] = km
    points["road_type"] = roads["road_type"].to_numpy()[nearest[keep]]
    points["speed_limit"] = roads["speed_limit"].to_numpy(dtype=float)[nearest[keep]]
    points["dist_to_road_m"] = distance[keep]
    points["dist_to_main_city_km"] = haversine_km(points["lat"], points["lon"], *dep.main_city)
    points["dep"] = dep.code
    points["com"] = None
    points["dist_to_commune_seat_km"] = np.nan
    return points[ROAD_POINT_COLUMNS]


def snap_accidents(accidents: pd.DataFrame, points: pd.DataFrame) -> pd.DataFrame:
    """Every located accident -> its nearest road point: accident_id, point_id, dist_m."""
    located = accidents.dropna(subset=["lat", "lon"])
    if located.empty:
        return pd.DataFrame({"accident_id": pd.Series(dtype=str), "point_id": pd.Series(dtype=np.int64),
                             "dist_m": pd.Series(dtype=float)})
    tree = haversine_tree(points["lat"], points["lon"])
    dist_km, idx = nearest_km(tree, located["lat"], located["lon"], k=1)
    return pd.DataFrame({
        "accident_id": located["accident_id"].astype(str).to_numpy(),
        "point_id": points["point_id"].to_numpy()[idx[:, 0]],
        "dist_m": dist_km[:, 0] * 1000.0,
    })


def attach_communes(points: pd.DataFrame, seats) -> pd.DataFrame:
    """`points` with `com` and `dist_to_commune_seat_km`: the commune whose seat is nearest
    (pipeline.core.communes), so every road point has one, with or without accidents."""
    points = points.copy()
    com, dist = seats.locate(points["lat"], points["lon"])
    points["com"] = com.astype(object)
    points["dist_to_commune_seat_km"] = dist
    return points
