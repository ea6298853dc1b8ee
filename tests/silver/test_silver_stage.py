"""Silver stage end to end on a synthetic lake: road buffer in EPSG:3163, tables, idempotence, CLI."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import datetime as dt

import pandas as pd
import pytest
import shapely
from pyproj import Transformer

from pipeline.core.errors import AccidentsError
from pipeline.core.features import FEATURE_COLUMNS
from pipeline.core.spatial import haversine_km
from pipeline.core.features import point_hour_rows
from pipeline.silver.features import build_features
from pipeline.silver.params import FeatureParams
from pipeline.silver.road_points import build_road_points, grid_cells, snap_to_roads

TO_METRIC = Transformer.from_crs("EPSG:4326", "EPSG:3163", always_xy=True)
TO_WGS84 = Transformer.from_crs("EPSG:3163", "EPSG:4326", always_xy=True)


def _road_offset_from(lat, lon, offset_m):
    """A 2 km east-west road in EPSG:3163 passing offset_m north of (lat, lon)."""
    x, y = TO_METRIC.transform(lon, lat)
    xs, ys = TO_WGS84.transform([x - 1000, x + 1000], [y + offset_m, y + offset_m])
    line = shapely.LineString(list(zip(xs, ys)))
    return gpd.GeoDataFrame({"road_type": ["primary"], "speed_limit": [90.0]}, geometry=[line], crs="EPSG:4326")


def test_buffer_is_measured_in_epsg3163():
    lat, lon = -22.27, 166.45
    for offset, kept in ((150, True), (250, False)):
        nearest, dist = snap_to_roads([lat], [lon], _road_offset_from(lat, lon, offset), crs="EPSG:3163",
                                      max_distance_m=200)
        assert bool(nearest[0] == 0) is kept
        if kept:
            assert dist[0] == pytest.approx(150, abs=0.01)


def test_grid_keeps_the_cell_150m_from_a_road_not_250m():
    cells = grid_cells("988", 0.02)
    cell = cells.iloc[len(cells) // 2]
    points = build_road_points(_road_offset_from(cell.lat, cell.lon, 150), department="988", grid_step=0.02,
                               buffer_meters=200)
    assert points["point_id"].tolist() == [cell.point_id]
    assert points["dist_to_road_m"].iloc[0] == pytest.approx(150, abs=0.01)
    assert points["dist_to_main_city_km"].iloc[0] == pytest.approx(
        float(haversine_km(cell.lat, cell.lon, -22.2758, 166.4580)))
    # the only point serves the whole 2 km of primary road at 90 km/h: major and fast road
    point = points.iloc[0]
    assert point["road_km"] == pytest.approx(2.0, rel=0.01)
    assert point["road_km_major"] == point["road_km_fast"] == point["road_km"]
    assert point["road_km_minor"] == point["road_km_residential"] == 0.0
    assert point["com"] is None and np.isnan(point["dist_to_commune_seat_km"])  # attached with the communes
    with pytest.raises(AccidentsError, match="within 200"):
        build_road_points(_road_offset_from(cell.lat, cell.lon, 250), department="988", grid_step=0.02,
                          buffer_meters=200)


def test_point_ids_are_stable_cell_indices():
    cells = grid_cells("988", 0.02)
    assert len(cells) == 175 * 225
    row, col = np.divmod(cells["point_id"].to_numpy(), 100_000)
    np.testing.assert_allclose(cells["lat"], -23.0 + (row + 0.5) * 0.02)
    np.testing.assert_allclose(cells["lon"], 163.5 + (col + 0.5) * 0.02)


def _tables(con):
    return {name: con.execute(f"SELECT * FROM silver.{name} ORDER BY ALL").df()
            for name in ("road_points", "accident_points", "features", "features_reference", "features_meta")}


def test_build_features_tables_idempotent_and_deterministic(silver_lake, accidents_frame):
    summary = build_features(silver_lake, FeatureParams(neg_ratio=5, seed=7), department="988")
    first = _tables(silver_lake)
    feats = first["features_reference"]
    assert summary.positives == len(accidents_frame)
    assert summary.rows_by_sampler == {"exclusion": 6 * len(accidents_frame), "uniform": 6 * len(accidents_frame)}
    for table in ("features", "features_reference"):
        frame = first[table]
        assert set(frame.columns) >= set(FEATURE_COLUMNS) | {
            "sampler", "row_id", "target", "accident_id", "point_id", "event_time", "year", "sampling_weight",
            "history_cutoff"}
        assert frame.groupby("sampler")["row_id"].apply(lambda s: s.is_unique).all()
        assert frame["point_id"].isin(first["road_points"]["point_id"]).all()
        assert frame[FEATURE_COLUMNS].notna().all().all()
    meta = first["features_meta"].set_index("sampler")
    n_points, n_hours = len(first["road_points"]), meta.loc["uniform", "n_hours"]
    assert n_hours == 3 * 365 * 24 + 24  # 2019-2021, 2020 is a leap year
    negatives = feats[feats["target"] == 0]
    np.testing.assert_allclose(negatives["sampling_weight"], n_points * n_hours / (5 * len(accidents_frame)))
    assert (feats.loc[feats["target"] == 1, "sampling_weight"] == 1.0).all()
    assert meta.loc["exclusion", "base_rate"] == pytest.approx(len(accidents_frame) / (n_points * n_hours))
    # positives sit on their accident's nearest road point, at the accident's hour
    pos = feats[(feats["sampler"] == "uniform") & (feats["target"] == 1)].merge(
        first["accident_points"], on=["accident_id", "point_id"])
    assert len(pos) == len(accidents_frame)
    assert (first["accident_points"]["dist_m"] < 2000).all()
    # every road point carries the road length it serves and the commune of its nearest seat
    from pipeline.core.communes import official_seats
    from pipeline.silver.road_points import ROAD_POINT_COLUMNS

    points = first["road_points"]
    assert list(points.columns) == ROAD_POINT_COLUMNS
    assert (points["road_km"] > 0).all()
    parts = points[["road_km_major", "road_km_minor", "road_km_residential"]].sum(axis=1)
    assert (parts <= points["road_km"] + 1e-9).all() and (points["road_km_fast"] <= points["road_km"] + 1e-9).all()
    seats = official_seats("988")
    code, km = seats.locate(points["lat"], points["lon"])
    assert points["com"].tolist() == code.tolist()
    np.testing.assert_allclose(points["dist_to_commune_seat_km"], km)

    build_features(silver_lake, FeatureParams(neg_ratio=5, seed=7), department="988")  # same inputs -> same tables
    for name, frame in _tables(silver_lake).items():
        pd.testing.assert_frame_equal(frame, first[name], check_dtype=False)



def _history_key(frame):
    return frame[["sampler", "row_id"]].apply(tuple, axis=1)


def test_point_in_time_table_drops_the_first_year_and_matches_the_reference_rows(silver_lake, accidents_frame):
    summary = build_features(silver_lake, FeatureParams(neg_ratio=3, samplers=("uniform",), seed=3), department="988")
    pit = silver_lake.execute("SELECT * FROM silver.features ORDER BY row_id").df()
    ref = silver_lake.execute("SELECT * FROM silver.features_reference ORDER BY row_id").df()
    meta = silver_lake.execute("SELECT * FROM silver.features_meta").df().iloc[0]
    # data 2019-2021: 2019 rows have no covered history year -> only in the reference table
    first_year = int((ref["year"] == 2019).sum())
    assert first_year > 0 and set(pit["year"]) == {2020, 2021}
    assert summary.dropped_without_history == {"uniform": first_year} == {"uniform": meta["rows_dropped_without_history"]}
    assert summary.point_in_time_rows == {"uniform": len(pit)} and len(ref) == 4 * len(accidents_frame)
    assert meta["history_lookback_years"] == 3
    # same rows (by row_id) with the same non-history columns; history ends at each row's year start
    later = ref[ref["year"] > 2019].reset_index(drop=True)
    history_free = [c for c in later.columns if c not in ("accident_density_5km", "nearest_accident_km",
                                                          "history_cutoff")]
    pd.testing.assert_frame_equal(pit[history_free], later[history_free], check_dtype=False)
    assert (pit["history_cutoff"] == pd.to_datetime(pit["year"].astype(str), format="%Y")).all()
    assert (ref["history_cutoff"] == pd.Timestamp("2022-01-01")).all()
    # positives and negatives at the same place and year see identical history
    spread = pit.groupby(["point_id", "year"])[["accident_density_5km", "nearest_accident_km"]].nunique()
    assert (spread == 1).all().all()
    both = pit.groupby(["point_id", "year"])["target"].nunique()
    assert (both == 2).sum() > 10  # the check above covers many mixed (place, year) groups
    # 2020 rows count the 2019 accidents within 5 km per covered year (1 year)
    acc = accidents_frame.dropna(subset=["lat", "lon"])
    row = pit[pit["year"] == 2020].iloc[0]
    y2019 = acc[acc["event_time"].dt.year == 2019]
    d = haversine_km(row["latitude"], row["longitude"], y2019["lat"], y2019["lon"])
    assert row["accident_density_5km"] == pytest.approx(float((d <= 5.0).sum()))
    # reference: every accident but the row's own
    pos = ref[ref["target"] == 1].iloc[0]
    others = acc[acc["accident_id"] != pos["accident_id"]]
    d = haversine_km(pos["latitude"], pos["longitude"], others["lat"], others["lon"])
    assert pos["accident_density_5km"] == (d <= 5.0).sum()
    assert pos["nearest_accident_km"] == pytest.approx(d.min())


def test_history_cutoff_caps_the_point_in_time_windows(silver_lake, accidents_frame):
    build_features(silver_lake, FeatureParams(neg_ratio=1, samplers=("uniform",), history_lookback_years=1,
                                              history_cutoff=dt.date(2020, 1, 1)), department="988")
    feats = silver_lake.execute("SELECT * FROM silver.features").df()
    assert set(feats["sampler"]) == {"uniform"}
    assert (feats["history_cutoff"] == pd.Timestamp("2020-01-01")).all()  # 2021 rows capped too
    located = accidents_frame.dropna(subset=["lat", "lon"])
    in_2019 = int((located["event_time"].dt.year == 2019).sum())
    assert 0 < feats["accident_density_5km"].max() <= in_2019
    meta = silver_lake.execute("SELECT history_cutoff, history_lookback_years FROM silver.features_meta").fetchone()
    assert meta == (pd.Timestamp("2020-01-01"), 1)


def test_parameter_errors_name_the_parameter_not_a_flag():
    with pytest.raises(AccidentsError, match=r"^temporal_risk_ratio=1.5: expected 0..1$"):
        FeatureParams(temporal_risk_ratio=1.5)
    with pytest.raises(AccidentsError, match=r"^samplers=\('random',\): expected a comma list of exclusion, uniform$"):
        FeatureParams(samplers=("random",))
    with pytest.raises(AccidentsError, match="département 'XX': unknown"):
        build_features(None, department="XX")


def test_scoring_rows_cross_product():
    points = pd.DataFrame({"point_id": [1, 2, 3], "lat": [-22.0] * 3, "lon": [166.0] * 3, "road_type": "primary",
                           "speed_limit": 50.0, "dist_to_main_city_km": 1.0, "dep": "988"})
    hours = pd.date_range("2024-01-01", periods=4, freq="h")
    rows = point_hour_rows(points, hours, atm=[1, 2, 2, 1])
    assert len(rows) == 12
    assert rows.groupby("event_time")["point_id"].apply(list).tolist() == [[1, 2, 3]] * 4
    assert rows.loc[rows["event_time"] == hours[1], "atm"].tolist() == [2, 2, 2]


def test_cli_features(tmp_path, monkeypatch, capsys, grid_osm, accidents_frame, write_accidents):
    from pipeline.cli import main
    from pipeline.core.lake import connect
    from pipeline.core.settings import Settings

    con = connect(Settings(data_dir=tmp_path / "cli"))
    write_accidents(con, accidents_frame)
    con.close()
    monkeypatch.setenv("ACCIDENTS_DATA_DIR", str(tmp_path / "cli"))
    assert main(["features", "--roads-file", str(grid_osm), "--neg-ratio", "2", "--samplers", "uniform",
                 "--weather", "none", "--history-lag-years", "0"]) == 0
    out = capsys.readouterr().out
    assert "silver.features_reference [uniform]: 900 rows (300 positives, 600 negatives)" in out
    dropped = int(out.split("3-year lookback, 0-year lag; ")[1].split(" rows")[0])
    assert 0 < dropped < 900 and f"silver.features [uniform]: {900 - dropped} rows (point-in-time" in out
    assert main(["features", "--buffer-meters", "-1"]) == 2
    assert "buffer_meters=-1.0: expected 1..5000" in capsys.readouterr().err
    assert main(["features", "--history-cutoff", "2024-13-01"]) == 2
