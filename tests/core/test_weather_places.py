"""WeatherHistory.atm_at ranks stations once per distinct place: rows sharing a latitude or a
longitude but not both are distinct places, and every row gets its own place's code."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.core.weather import WeatherHistory


def test_each_row_gets_the_code_of_its_own_place_and_hour():
    hours = pd.date_range("2020-01-01", periods=48, freq="h")
    frame = pd.concat([
        pd.DataFrame({"station_id": "west", "lat": -22.25, "lon": 166.30, "hour": hours, "atm": 2}),
        pd.DataFrame({"station_id": "east", "lat": -22.25, "lon": 166.65, "hour": hours,
                      "atm": np.where(hours.hour < 12, 3, 8)}),
        pd.DataFrame({"station_id": "south", "lat": -22.60, "lon": 166.45, "hour": hours, "atm": 5}),
    ], ignore_index=True)
    weather = WeatherHistory.from_frame(frame)
    # places sharing a lat or a lon with another place, repeated and shuffled
    places = [(-22.25, 166.32, 2), (-22.25, 166.63, None), (-22.58, 166.32, 5), (-22.58, 166.45, 5)]
    rng = np.random.default_rng(0)
    pick = rng.integers(0, len(places), 2000)
    times = hours[rng.integers(0, len(hours), 2000)]
    lat = np.array([places[i][0] for i in pick])
    lon = np.array([places[i][1] for i in pick])
    east = np.where(times.hour < 12, 3, 8)
    expected = np.array([places[i][2] or east[k] for k, i in enumerate(pick)])
    atm, missing = weather.atm_at(lat, lon, times)
    assert missing == 0
    np.testing.assert_array_equal(atm, expected)
    # rows given as indexes of known places (road points) get the same codes
    by_place, _ = weather.atm_at_places([p[0] for p in places], [p[1] for p in places], pick, times)
    np.testing.assert_array_equal(by_place, expected)


def test_rows_on_road_points_get_their_points_weather_and_unknown_points_are_refused():
    import pytest

    from pipeline.core.errors import AccidentsError
    from pipeline.silver.sampling import weather_at_points

    hours = pd.date_range("2020-01-01", periods=3, freq="h")
    weather = WeatherHistory.from_frame(pd.concat([
        pd.DataFrame({"station_id": "a", "lat": -22.0, "lon": 166.0, "hour": hours, "atm": 2}),
        pd.DataFrame({"station_id": "b", "lat": -21.0, "lon": 165.0, "hour": hours[:2], "atm": 3}),
    ], ignore_index=True))
    points = pd.DataFrame({"point_id": [7, 3], "lat": [-22.01, -21.01], "lon": [166.0, 165.0]})
    atm, missing = weather_at_points(weather, points, [3, 7, 3], hours.to_numpy()[[0, 1, 2]])
    np.testing.assert_array_equal(atm, [3, 2, 2])  # point 3's own station lacks the third hour
    assert missing == 0
    with pytest.raises(AccidentsError, match="not a road point"):
        weather_at_points(weather, points, [5], hours.to_numpy()[:1])
