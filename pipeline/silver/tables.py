"""Reading the silver tables back: the road points (the prediction units of evaluation, predictions and
the API) and what silver.features was built with. Kept apart from the builder (pipeline.silver.features)
so that its readers do not import the road network and sampling code."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from pipeline.core.errors import AccidentsError
from pipeline.core.lake import DEP, table_exists

if TYPE_CHECKING:
    import duckdb


def load_road_points(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """silver.road_points of the connection's département ordered by point_id (the prediction units of
    evaluation and predictions)."""
    if not table_exists(con, "silver.road_points"):
        raise AccidentsError("silver.road_points does not exist: run `accidents features` first")
    points = con.execute(f"SELECT * FROM silver.road_points WHERE dep = {DEP} ORDER BY point_id").df()
    if points.empty:
        raise AccidentsError("silver.road_points is empty: run `accidents features` first")
    missing = [c for c in ("point_id", "lat", "lon", "dep") if c not in points.columns]
    if missing:
        raise AccidentsError(f"silver.road_points lacks {', '.join(missing)} (built by an older version): "
                             "run `accidents features` again")
    return points


def _recorded(con: duckdb.DuckDBPyConnection, column: str, default: int) -> int:
    if not table_exists(con, "silver.features_meta"):
        return default
    columns = {r[0] for r in con.execute("SELECT column_name FROM (DESCRIBE silver.features_meta)").fetchall()}
    if column not in columns:
        return default
    row = con.execute(f"SELECT max({column}) FROM silver.features_meta WHERE dep = {DEP}").fetchone()
    return int(row[0]) if row and row[0] is not None else default


def recorded_lookback_years(con: duckdb.DuckDBPyConnection, default: int = 3) -> int:
    """The history lookback silver.features was built with (what trained models saw), else `default`."""
    return _recorded(con, "history_lookback_years", default)


def newest_data_year(con: duckdb.DuckDBPyConnection) -> int:
    """The newest accident year the lake holds for the connection's département (the latest *published*
    year, whatever the calendar says)."""
    if not table_exists(con, "bronze.accidents"):
        raise AccidentsError("bronze.accidents does not exist: run `accidents ingest` first")
    row = con.execute(f"SELECT max(year(event_time)) FROM bronze.accidents WHERE dep = {DEP}").fetchone()
    if not row or row[0] is None:
        raise AccidentsError("bronze.accidents holds no dated accident")
    return int(row[0])
