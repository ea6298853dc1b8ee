"""Road geometry features: junctions within 100 m and edge sinuosity."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import LineString


def metric_roads():
    # a + junction at (0, 0) (four edges), a straight road ending in a dead end at (0, 1000)...
    # and an L-shaped bend far away (two 500 m legs: sinuosity sqrt(2)).
    return gpd.GeoSeries([
        LineString([(0, 0), (500, 0)]), LineString([(0, 0), (-500, 0)]),
        LineString([(0, 0), (0, 500)]), LineString([(0, 0), (0, -500)]),
        LineString([(0, 500), (0, 1000)]),
        LineString([(5000, 0), (5500, 0), (5500, 500)]),
    ], crs="EPSG:3163")


def test_junctions_are_nodes_of_three_or_more_edges():
    from pipeline.silver.road_geometry import junctions

    np.testing.assert_allclose(junctions(metric_roads()), [[0.0, 0.0]])  # (0, 500) has degree 2


def test_intersections_within_100m_and_sinuosity_of_the_nearest_edge():
    from pipeline.silver.road_geometry import road_geometry

    roads = metric_roads()
    x = np.array([60.0, 30.0, 0.0, 5400.0])
    y = np.array([150.0, 40.0, 900.0, 100.0])
    nearest = np.array([0, 0, 4, 5])
    count, sinuosity = road_geometry(x, y, nearest, roads)
    # (60, 150) projects to (60, 0) on edge 0: the junction is 60 m away; (0, 900) is 900 m from it
    assert count.tolist() == [1, 1, 0, 0]
    assert sinuosity.tolist() == pytest.approx([1.0, 1.0, 1.0, np.sqrt(2)])


def test_road_points_carry_geometry(silver_lake):
    from pipeline.silver.features import build_features
    from pipeline.silver.params import FeatureParams
    from pipeline.core.features import FEATURE_COLUMNS

    build_features(silver_lake, FeatureParams(neg_ratio=1, samplers=("uniform",), seed=1), department="988")
    points = silver_lake.execute("SELECT intersections_100m, road_sinuosity FROM silver.road_points").df()
    # the fixture's roads cross without sharing a node: no junction, straight edges
    assert (points["road_sinuosity"] >= 1).all() and (points["intersections_100m"] == 0).all()
    assert {"intersections_100m", "road_sinuosity"} <= set(FEATURE_COLUMNS)
    feats = silver_lake.execute("SELECT intersections_100m, road_sinuosity FROM silver.features").df()
    assert feats.notna().all().all()
