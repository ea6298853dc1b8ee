"""The terms of the Poisson model: what a road point and an hour contribute to log lambda.

    log lambda(p, t) = point_terms(p) . alpha + time_terms(group(p), t) . beta

Point terms (silver.road_points): log road length served (the exposure), shares of major, minor,
residential and fast road in it, the nearest road's class and speed band, junctions and bends, closeness to the
commune seat at four scales, and the commune. Time terms: hour of day, weekday, month, public holiday,
holiday night, school holiday, rain (light, and heavy on top of light, both >= 0: more rain never
lowers risk), each other weather code seen in training, and per road group (fast road, town street,
country road) night, weekend, weekend night and rush-hour terms, with extra rain terms on fast roads
(also >= 0, so a fast road's rain ratio is never below a slow road's).

Every coefficient has a ridge penalty; `PENALTY_GROUPS` names the two scales chosen on validation:
"space" for point terms, "time" for time terms. The intercept is free. Levels (communes, weather
codes) are fixed when the terms are built for training and stored with the model: a commune unknown
at scoring time counts as the average one, a weather code unknown is refused or mapped by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from pipeline.core.weather import ATM_HEAVY_RAIN, ATM_LIGHT_RAIN, ATM_NORMAL
from pipeline.gold.intensity.cells import NIGHT_HOURS
from pipeline.silver.road_length import FAST_SPEED_KMH, road_class

if TYPE_CHECKING:
    import pandas as pd

RUSH_HOURS = (7, 8, 17, 18)
TOWN_RADIUS_KM = 2.5  # a slow road this close to its commune seat is a town street
GROUPS = ("country road", "town street", "fast road")
SEAT_SCALES_KM = (0.5, 1.5, 4.0, 10.0)
SPEED_BANDS = ((0.0, 55.0, "speed_up_to_50"), (55.0, FAST_SPEED_KMH, "speed_60_70"),
               (FAST_SPEED_KMH, np.inf, "speed_80_up"))
ROAD_CLASSES = ("major", "minor", "residential", "local")
RAIN_TERMS = ("rain", "heavy_rain")  # cumulative: light rain = rain; heavy = rain + heavy_rain
GROUP_TIME_TERMS = ("night", "weekend", "weekend_night", "rush")
RAIN_PENALTY = 0.1


def point_groups(points: pd.DataFrame) -> np.ndarray:
    """Index into GROUPS of each point: fast road (speed >= 80 km/h), town street (slower and within
    TOWN_RADIUS_KM of the commune seat), else country road."""
    speed = points["speed_limit"].to_numpy(dtype=float)
    seat = points["dist_to_commune_seat_km"].to_numpy(dtype=float)
    fast = speed >= FAST_SPEED_KMH
    town = ~fast & (np.nan_to_num(seat, nan=np.inf) <= TOWN_RADIUS_KM)
    return np.where(fast, 2, np.where(town, 1, 0)).astype(np.int64)


@dataclass(frozen=True)
class PointTerms:
    """Point design: column names and the commune levels seen in training."""

    communes: tuple[str, ...]
    columns: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        names = ["log_road_km", "share_major", "share_minor", "share_residential", "share_fast",
                 *(f"class_{c}" for c in ROAD_CLASSES), *(band for _, _, band in SPEED_BANDS),
                 "junctions", "bends", *(f"near_seat_{s:g}km" for s in SEAT_SCALES_KM), "town",
                 *(f"commune_{c}" for c in self.communes)]
        object.__setattr__(self, "columns", tuple(names))

    @classmethod
    def for_points(cls, points: pd.DataFrame) -> PointTerms:
        return cls(tuple(sorted({str(c) for c in points["com"].dropna()})))

    def matrix(self, points: pd.DataFrame) -> np.ndarray:
        """(P, len(columns)) design of `points` (silver.road_points rows)."""
        road_km = points["road_km"].to_numpy(dtype=float)
        per_km = np.maximum(road_km, 1e-3)
        speed = points["speed_limit"].to_numpy(dtype=float)
        classes = road_class(points["road_type"].fillna("road"))
        seat = np.nan_to_num(points["dist_to_commune_seat_km"].to_numpy(dtype=float), nan=50.0)
        commune = points["com"].astype(object).where(points["com"].notna(), "").astype(str).to_numpy()
        columns = [
            np.log(road_km + 0.05),
            *(points[f"road_km_{c}"].to_numpy(float) / per_km for c in ("major", "minor", "residential", "fast")),
            *((classes == c).astype(float) for c in ROAD_CLASSES),
            *(((speed >= low) & (speed < high)).astype(float) for low, high, _ in SPEED_BANDS),
            np.log1p(np.nan_to_num(points["intersections_100m"].to_numpy(dtype=float))),
            np.log(np.clip(np.nan_to_num(points["road_sinuosity"].to_numpy(dtype=float), nan=1.0), 1.0, 5.0)),
            *(np.exp(-seat / s) for s in SEAT_SCALES_KM),
            (point_groups(points) == 1).astype(float),
            *((commune == c).astype(float) for c in self.communes),
        ]
        return np.column_stack(columns)

    def penalty(self) -> np.ndarray:
        """Relative ridge weight of each column (scaled by the 'space' penalty)."""
        return np.ones(len(self.columns))


@dataclass(frozen=True)
class TimeTerms:
    """Time design for one road group: column names, weather codes with their own term."""

    weather_codes: tuple[int, ...]  # codes seen in training (normal and rain are always modelled)
    columns: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        names = [*(f"hour_{h}" for h in range(1, 24)), *(f"dow_{d}" for d in range(1, 7)),
                 *(f"month_{m}" for m in range(2, 13)), "holiday", "holiday_night", "school", *RAIN_TERMS,
                 *(f"weather_{c}" for c in self.other_codes),
                 *(f"{g}:{t}" for g in GROUPS for t in GROUP_TIME_TERMS),
                 *(f"fast road:{t}" for t in RAIN_TERMS)]
        object.__setattr__(self, "columns", tuple(names))

    @property
    def other_codes(self) -> tuple[int, ...]:
        return tuple(c for c in self.weather_codes if c not in (ATM_NORMAL, ATM_LIGHT_RAIN, ATM_HEAVY_RAIN))

    @property
    def known_codes(self) -> tuple[int, ...]:
        """Codes the model can score: those seen in training plus normal weather and rain."""
        return tuple(sorted({*self.weather_codes, ATM_NORMAL, ATM_LIGHT_RAIN, ATM_HEAVY_RAIN}))

    def matrix(self, keys: pd.DataFrame, group: int) -> np.ndarray:
        """(K, len(columns)) design of time keys (pipeline.gold.intensity.cells.TIME_KEY) for points of
        road group `group`."""
        hour, dow, month = (keys[c].to_numpy(dtype=np.int64) for c in ("hour", "dow", "month"))
        holiday = keys["holiday"].to_numpy(dtype=float)
        atm = keys["atm"].to_numpy(dtype=np.int64)
        night = np.isin(hour, NIGHT_HOURS).astype(float)
        weekend = (dow >= 5).astype(float)
        rush = (np.isin(hour, RUSH_HOURS) & (dow < 5) & (holiday == 0)).astype(float)
        rain = np.isin(atm, (ATM_LIGHT_RAIN, ATM_HEAVY_RAIN)).astype(float)
        heavy = (atm == ATM_HEAVY_RAIN).astype(float)
        group_terms = {"night": night, "weekend": weekend, "weekend_night": weekend * night, "rush": rush}
        columns = [
            *((hour == h).astype(float) for h in range(1, 24)), *((dow == d).astype(float) for d in range(1, 7)),
            *((month == m).astype(float) for m in range(2, 13)), holiday,
            keys["holiday_night"].to_numpy(dtype=float), keys["school"].to_numpy(dtype=float), rain, heavy,
            *((atm == c).astype(float) for c in self.other_codes),
            *(group_terms[t] * float(g == group) for g in range(len(GROUPS)) for t in GROUP_TIME_TERMS),
            *(x * float(GROUPS[group] == "fast road") for x in (rain, heavy)),
        ]
        return np.column_stack(columns)

    def lower_bounds(self) -> np.ndarray:
        """0 for the rain terms (monotone rain), -inf elsewhere."""
        rain = {*RAIN_TERMS, *(f"fast road:{t}" for t in RAIN_TERMS)}
        return np.array([0.0 if c in rain else -np.inf for c in self.columns])

    def penalty(self) -> np.ndarray:
        """Relative ridge weight of each column (scaled by the 'time' penalty): the two rain terms of
        every road get RAIN_PENALTY, a weak pull (a few well-measured coefficients whose sign physics
        fixes, and that the hour and month terms' penalty would otherwise shrink towards no effect);
        the fast-road extras keep the full weight (few fast-road accidents in rain: shrink them
        towards the slow roads' effect)."""
        return np.array([RAIN_PENALTY if c in RAIN_TERMS else 1.0 for c in self.columns])

