"""Stage: OpenStreetMap roads -> bronze.roads (one row per undirected drivable edge)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import shapely

from pipeline.core.departments import department as department_profile
from pipeline.core.errors import AccidentsError
from pipeline.core.lake import DEP, replace_department_table, table_exists, use_department
from pipeline.sources.osm import ROAD_COLUMNS, download_roads, impute_speed_limits, load_roads_from_file

if TYPE_CHECKING:
    import duckdb


@dataclass(frozen=True)
class RoadsSummary:
    rows: int
    source: str
    speed_sources: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def load_accidents(con: duckdb.DuckDBPyConnection, department: str) -> pd.DataFrame:
    """bronze.accidents of one département (empty frame with the used columns if the table is missing)."""
    columns = ["accident_id", "event_time", "lat", "lon", "atm", "vma", "year", "com"]
    if not table_exists(con, "bronze.accidents"):
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    return con.execute(
        f"SELECT {', '.join(columns)} FROM bronze.accidents WHERE dep = ? ORDER BY accident_id", [department]
    ).df()


def build_roads(con: duckdb.DuckDBPyConnection, *, roads_file: str | Path | None = None,
                cache_dir: str | Path | None = None, department: str, timeout: int = 180,
                vma_radius_m: float = 50.0) -> RoadsSummary:
    """Load roads from `roads_file` (or download them, cached in `cache_dir`), impute missing speed
    limits from nearby accidents' `vma`, and replace bronze.roads atomically."""
    department = department_profile(department).code
    crs = department_profile(department).metric_crs
    use_department(con, department)  # bronze.roads holds one slice per département
    started = time.perf_counter()
    if roads_file is not None:
        roads = load_roads_from_file(roads_file, crs=crs)
    else:
        if cache_dir is None:
            raise AccidentsError("no roads file given and no cache directory to download OpenStreetMap into")
        roads = download_roads(department, cache_dir, timeout=timeout, crs=crs)
    roads = impute_speed_limits(roads, load_accidents(con, department), crs=crs, radius_m=vma_radius_m)
    frame = roads[ROAD_COLUMNS].copy()
    frame["lanes"] = frame["lanes"].astype("Int32")
    con.register("roads_frame", frame)
    try:
        rows = replace_department_table(
            con, "bronze.roads",
            "SELECT edge_id::BIGINT AS edge_id, osm_way_id::BIGINT AS osm_way_id, road_type::VARCHAR AS road_type, "
            "speed_limit::DOUBLE AS speed_limit, speed_source::VARCHAR AS speed_source, lanes::INTEGER AS lanes, "
            "oneway::BOOLEAN AS oneway, length_m::DOUBLE AS length_m, geometry_wkt::VARCHAR AS geometry_wkt, "
            "mid_lat::DOUBLE AS mid_lat, mid_lon::DOUBLE AS mid_lon, source::VARCHAR AS source "
            "FROM roads_frame ORDER BY edge_id",
        )
    finally:
        con.unregister("roads_frame")
    counts = frame["speed_source"].value_counts().to_dict()
    return RoadsSummary(rows, str(frame["source"].iloc[0]), {str(k): int(v) for k, v in counts.items()},
                        round(time.perf_counter() - started, 3))


def load_roads(con: duckdb.DuckDBPyConnection):
    """bronze.roads of the connection's département as a GeoDataFrame (EPSG:4326)."""
    import geopandas as gpd

    if not table_exists(con, "bronze.roads"):
        raise AccidentsError("bronze.roads does not exist: run `accidents features --roads-file PATH` first")
    frame = con.execute(f"SELECT * EXCLUDE (dep) FROM bronze.roads WHERE dep = {DEP} ORDER BY edge_id").df()
    if frame.empty:
        raise AccidentsError("bronze.roads is empty")
    return gpd.GeoDataFrame(frame, geometry=shapely.from_wkt(frame["geometry_wkt"].to_numpy()), crs="EPSG:4326")
