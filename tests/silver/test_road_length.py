"""Every metre of road belongs to its nearest road point, by class and speed."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from pipeline.silver.road_length import road_class, road_lengths


def test_a_road_between_two_points_splits_at_the_midline():
    roads = gpd.GeoSeries([shapely.LineString([(0, 0), (1000, 0)]), shapely.LineString([(0, 10), (0, 510)])])
    lengths = road_lengths(np.array([0.0, 1000.0]), np.array([0.0, 0.0]), roads,
                           ["primary", "residential"], [90.0, 50.0])
    assert lengths["road_km"].sum() == pytest.approx(1.5, abs=1e-9)  # nothing lost, nothing counted twice
    assert lengths["road_km"] == pytest.approx([1.0, 0.5], abs=0.03)
    assert lengths["road_km_major"] == pytest.approx([0.5, 0.5], abs=0.03)
    assert lengths["road_km_residential"] == pytest.approx([0.5, 0.0], abs=0.03)
    assert lengths["road_km_fast"].sum() == pytest.approx(1.0, abs=1e-9)
    assert lengths["road_km_minor"].sum() == 0.0


def test_links_count_with_their_parent_class():
    assert list(road_class(["trunk_link", "tertiary", "living_street", "service", "unclassified"])) == [
        "major", "minor", "residential", "local", "local"]
