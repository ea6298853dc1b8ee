"""Synthetic silver inputs: a generated OSM XML road grid near Nouméa and BAAC-like accidents on it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "osm"
ACCIDENT_COLUMNS = {
    "accident_id": "VARCHAR", "event_time": "TIMESTAMP", "lat": "DOUBLE", "lon": "DOUBLE", "atm": "INTEGER",
    "lum": "INTEGER", "agg": "INTEGER", "int": "INTEGER", "col": "INTEGER", "com": "VARCHAR", "dep": "VARCHAR",
    "adr": "VARCHAR", "year": "INTEGER", "catr": "INTEGER", "vma": "INTEGER", "plan": "INTEGER",
    "prof": "INTEGER", "surf": "INTEGER", "source_file": "VARCHAR",
}
# Grid-cell centre lines of the 0.02-degree grid over 988 are at -23 + 0.01 + 0.02*k (lat) and
# 163.5 + 0.01 + 0.02*k (lon); roads run 0.0005 degrees (~55 m) off them so cells along a road are kept.
ROAD_LATS = [-22.35 + 0.0005, -22.25 + 0.0005, -22.15 + 0.0005]
ROAD_LONS = [166.37 + 0.0005, 166.47 + 0.0005, 166.57 + 0.0005]
LAT_RANGE, LON_RANGE = (-22.36, -22.14), (166.36, 166.58)


def write_grid_osm(path: Path) -> Path:
    """Horizontal and vertical roads of mixed classes, nodes every 0.01 degree."""
    nodes, ways, node_id = [], [], 1
    classes = [("primary", "90"), ("secondary", None), ("residential", "50"), ("tertiary", None),
               ("trunk", "110"), ("unclassified", None)]
    lines = [("h", lat) for lat in ROAD_LATS] + [("v", lon) for lon in ROAD_LONS]
    for way_no, (kind, fixed) in enumerate(lines):
        steps = np.arange(LON_RANGE[0] if kind == "h" else LAT_RANGE[0],
                          (LON_RANGE[1] if kind == "h" else LAT_RANGE[1]) + 1e-9, 0.01)
        refs = []
        for step in steps:
            lat, lon = (fixed, step) if kind == "h" else (step, fixed)
            nodes.append(f'  <node id="{node_id}" lat="{lat:.6f}" lon="{lon:.6f}"/>')
            refs.append(node_id)
            node_id += 1
        highway, maxspeed = classes[way_no % len(classes)]
        tags = f'<tag k="highway" v="{highway}"/>' + (f'<tag k="maxspeed" v="{maxspeed}"/>' if maxspeed else "")
        ways.append(f'  <way id="{1000 + way_no}">' + "".join(f'<nd ref="{r}"/>' for r in refs) + tags + "</way>")
    path.write_text('<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6" generator="test">\n'
                    + "\n".join(nodes + ways) + "\n</osm>\n", encoding="utf-8")
    return path


def synthetic_accidents(n: int = 300, seed: int = 0, years=(2019, 2021)) -> pd.DataFrame:
    """Accidents scattered up to ~100 m around the grid roads over whole years."""
    rng = np.random.default_rng(seed)
    horizontal = rng.random(n) < 0.5
    lat = np.where(horizontal, rng.choice(ROAD_LATS, n), rng.uniform(*LAT_RANGE, n))
    lon = np.where(horizontal, rng.uniform(*LON_RANGE, n), rng.choice(ROAD_LONS, n))
    lat, lon = lat + rng.normal(0, 0.0005, n), lon + rng.normal(0, 0.0005, n)
    start = np.datetime64(f"{years[0]}-01-01T00:00")
    minutes = (np.datetime64(f"{years[1] + 1}-01-01T00:00") - start).astype(int)
    event_time = start + rng.integers(0, minutes, n).astype("timedelta64[m]")
    frame = pd.DataFrame({
        "accident_id": [f"{2019 + i % 3}{i:08d}" for i in range(n)],
        "event_time": event_time.astype("datetime64[ns]"), "lat": lat, "lon": lon,
        "atm": pd.array(rng.choice([1, 1, 1, 2, 3, 8], n), dtype="Int64"),
        "com": rng.choice(["98818", "98817"], n), "dep": "988",
        "vma": pd.array(rng.choice([50, 70, 90], n), dtype="Int64"),
    })
    frame.loc[::17, "atm"] = pd.NA
    frame["year"] = frame["event_time"].dt.year
    return frame


def write_accidents(con, frame: pd.DataFrame) -> None:
    full = frame.copy()
    for column in ACCIDENT_COLUMNS:
        if column not in full.columns:
            full[column] = None
    con.register("acc_frame", full)
    select = ", ".join(f'"{c}"::{t} AS "{c}"' for c, t in ACCIDENT_COLUMNS.items())
    con.execute(f"CREATE OR REPLACE TABLE bronze.accidents AS SELECT {select} FROM acc_frame")
    con.unregister("acc_frame")


@pytest.fixture(name="write_accidents")
def write_accidents_fixture():
    return write_accidents


@pytest.fixture
def grid_osm(tmp_path) -> Path:
    return write_grid_osm(tmp_path / "grid.osm")


@pytest.fixture
def accidents_frame() -> pd.DataFrame:
    return synthetic_accidents()


@pytest.fixture
def silver_lake(lake, grid_osm, accidents_frame):
    """A lake with bronze.accidents and bronze.roads built from the grid network."""
    from pipeline.bronze.roads import build_roads

    write_accidents(lake, accidents_frame)
    build_roads(lake, roads_file=grid_osm, department="988")
    return lake
