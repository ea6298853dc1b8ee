"""Calendar and weather of the synthetic demo: New Caledonia public holidays, daylight, and a seeded
daily weather process that gives every hour a BAAC `atm` code.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import numpy as np
import pandas as pd

ATM_NORMAL, ATM_LIGHT_RAIN, ATM_HEAVY_RAIN, ATM_OVERCAST = 1, 2, 3, 8

# Daily weather: probability of a rainy day by month (wet season Dec-Apr), of a stormy day
# (depression/cyclone), and of a grey day. Tuned so that accidents' atm shares come out near the
# 2023 calibration (normal 86 %, light rain 8 %, heavy rain 4 %, overcast 3 %).
RAIN_DAY_PROB = (0.26, 0.28, 0.26, 0.18, 0.11, 0.10, 0.09, 0.08, 0.07, 0.07, 0.09, 0.17)
STORM_DAY_PROB = (0.030, 0.035, 0.030, 0.010, 0.004, 0.0, 0.0, 0.0, 0.0, 0.0, 0.004, 0.015)
GREY_DAY_PROB = 0.03
WEATHER_PERSISTENCE = 0.6  # lag-1 correlation of the latent daily wetness (rainy spells)
# Hourly atm distribution given the day type: columns normal, light rain, heavy rain, overcast.
HOURLY_ATM_GIVEN_DAY = {
    "clear": (0.99, 0.0, 0.0, 0.01),
    "grey": (0.55, 0.0, 0.0, 0.45),
    "rain": (0.47, 0.36, 0.10, 0.07),
    "storm": (0.10, 0.35, 0.45, 0.10),
}
ATM_CODES = np.array([ATM_NORMAL, ATM_LIGHT_RAIN, ATM_HEAVY_RAIN, ATM_OVERCAST])


def easter_sunday(year: int) -> dt.date:
    """Gregorian Easter (anonymous algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l_) // 451
    month = (h + l_ - 7 * m + 114) // 31
    day = (h + l_ - 7 * m + 114) % 31 + 1
    return dt.date(year, month, day)


def nc_public_holidays(years: Iterable[int]) -> list[dt.date]:
    """French public holidays plus New Caledonia's Citizenship Day (24 September)."""
    days: list[dt.date] = []
    for y in years:
        easter = easter_sunday(y)
        days += [dt.date(y, 1, 1), dt.date(y, 5, 1), dt.date(y, 5, 8), dt.date(y, 7, 14),
                 dt.date(y, 8, 15), dt.date(y, 9, 24), dt.date(y, 11, 1), dt.date(y, 11, 11),
                 dt.date(y, 12, 25)]
        days += [easter + dt.timedelta(days=n) for n in (1, 39, 50)]  # Easter Mon, Ascension, Whit Mon
    return sorted(days)


def sunrise_sunset(month: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Approximate local sunrise/sunset hours in Nouméa (5:15/18:45 in December, 6:35/17:15 in June)."""
    phase = np.cos(2 * np.pi * (np.asarray(month) - 0.5) / 12)
    return 5.9 - 0.65 * phase, 18.0 + 0.75 * phase


def simulate_weather(years: Iterable[int], rng: np.random.Generator) -> pd.DataFrame:
    """Hourly atm for every hour of `years`: columns time (naive local), atm (int8).

    A latent AR(1) daily wetness makes rainy spells; its quantile picks the day type by month.
    """
    from scipy.special import ndtr  # standard normal CDF (scipy.stats is slow to import)

    years = sorted(years)
    days = pd.date_range(f"{years[0]}-01-01", f"{years[-1]}-12-31", freq="D")
    days = days[days.year.isin(years)]
    noise = rng.standard_normal(len(days))
    rho = WEATHER_PERSISTENCE
    latent = np.empty(len(days))
    previous = 0.0
    innovation = np.sqrt(1 - rho**2) * noise
    for i in range(len(days)):  # a recursive filter over ~365 days a year: sequential by nature
        previous = rho * previous + innovation[i]
        latent[i] = previous
    u = ndtr(latent)  # uniform margins, correlated in time
    month = days.month.to_numpy() - 1
    p_storm = np.asarray(STORM_DAY_PROB)[month]
    p_rain = np.asarray(RAIN_DAY_PROB)[month]
    day_type = np.select(
        [u > 1 - p_storm, u > 1 - p_storm - p_rain, u > 1 - p_storm - p_rain - GREY_DAY_PROB],
        [3, 2, 1], default=0,
    )
    probs = np.array([HOURLY_ATM_GIVEN_DAY[k] for k in ("clear", "grey", "rain", "storm")])
    hour_day_type = np.repeat(day_type, 24)
    cum = np.cumsum(probs, axis=1)[hour_day_type]
    draw = rng.random(len(hour_day_type))
    choice = (draw[:, None] > cum[:, :-1]).sum(axis=1)
    times = pd.DatetimeIndex(np.repeat(days.values, 24)) + pd.to_timedelta(np.tile(np.arange(24), len(days)), "h")
    return pd.DataFrame({"time": times, "atm": ATM_CODES[choice].astype("int8")})
