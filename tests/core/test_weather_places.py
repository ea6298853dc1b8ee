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
