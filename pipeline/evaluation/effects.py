"""What a model says about weather and days, against the demo's truth.

- Rain ratios: expected accidents under light / heavy rain over those under normal weather, for the
  same hours (two days of each month) and points, on all roads, slow roads and fast roads (speed >=
  80 km/h), for the model and the truth; and the share of point-hours where a rainier scenario scores
  lower than a drier one (0 for a model whose rain terms are monotone).
- Day ratios: the model's expected accidents of each day of the year in normal weather over the
  truth's, divided by the year's ratio (the level of a year is not forecastable), averaged by kind of
  day: weekdays, weekends, public holidays.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.core.calendar import is_public_holiday
from pipeline.core.weather import ATM_HEAVY_RAIN, ATM_LIGHT_RAIN, ATM_NORMAL
from pipeline.gold.intensity.grid import ScoringGrid
from pipeline.silver.road_length import FAST_SPEED_KMH

EFFECT_DAYS = (8, 20)  # days of each month scored under every scenario
RAIN = ((ATM_LIGHT_RAIN, "light"), (ATM_HEAVY_RAIN, "heavy"))
DAY_KINDS = ("weekday", "weekend", "holiday")
ROADS = ("all", "slow", "fast")  # slow / fast: speed limit below / at least FAST_SPEED_KMH


def effect_hours(year: int) -> pd.DatetimeIndex:
    days = [pd.Timestamp(year, month, day) for month in range(1, 13) for day in EFFECT_DAYS]
    return pd.DatetimeIndex(np.concatenate([pd.date_range(d, periods=24, freq="h").to_numpy() for d in days]))


def rain_ratios(models: dict[str, object], truth, points: pd.DataFrame, year: int,
                department: str) -> dict[str, dict[str, float]]:
    """Per model name: {'rain_<light|heavy>_ratio_<all|slow|fast>' and '..._truth', 'rain_lowers_share'}.
    The scenario grids are shared, so a blend reuses its components' counts."""
    hours = effect_hours(year)
    fast = points["speed_limit"].to_numpy(dtype=float) >= FAST_SPEED_KMH
    grids = {code: ScoringGrid(points, hours, code, department) for code in (ATM_NORMAL, ATM_LIGHT_RAIN, ATM_HEAVY_RAIN)}
    true = {code: truth.expected_counts(points["lat"], points["lon"], hours, atm=code)
            for code in grids} if truth is not None else None
    masks = dict(zip(ROADS, (np.ones(len(points), bool), ~fast, fast)))
    out: dict[str, dict[str, float]] = {}
    for name, model in models.items():
        scored = {code: grid.expected_of(model) for code, grid in grids.items()}
        values: dict[str, float] = {}
        for code, label in RAIN:
            for roads, mask in masks.items():
                if not mask.any():
                    continue
                values[f"rain_{label}_ratio_{roads}"] = float(scored[code][mask].sum() / scored[ATM_NORMAL][mask].sum())
                if true is not None:
                    values[f"rain_{label}_ratio_{roads}_truth"] = float(true[code][mask].sum() / true[ATM_NORMAL][mask].sum())
        lowers = (scored[ATM_LIGHT_RAIN] < scored[ATM_NORMAL]) | (scored[ATM_HEAVY_RAIN] < scored[ATM_LIGHT_RAIN])
        values["rain_lowers_share"] = float(lowers.mean())
        out[name] = values
    return out


def fast_below_slow(fast, slow):
    """Whether fast roads' rain ratio is below slow roads' beyond rounding (a model without a fast-road
    rain term gives both the same ratio, up to the last bits of a float); scalars or arrays."""
    return np.asarray(fast) < np.asarray(slow) * (1.0 - 1e-9)


def day_kinds(days, department: str) -> np.ndarray:
    holiday = np.asarray(is_public_holiday(np.asarray(days, dtype="datetime64[ns]"), department), dtype=bool)
    weekend = np.asarray([d.dayofweek >= 5 for d in days])
    return np.where(holiday, "holiday", np.where(weekend, "weekend", "weekday"))


def day_ratios(model_normal: np.ndarray, truth_normal: np.ndarray, hours: pd.DatetimeIndex,
               department: str) -> dict[str, float]:
    """{'day_ratio_<kind>', 'day_ratio_<kind>_worst'} of the level-normalised daily ratios (module docstring)."""
    day = hours.normalize()
    codes, index = np.unique(day, return_inverse=True)
    model_days = np.bincount(index, weights=model_normal.sum(axis=0, dtype=np.float64))
    truth_days = np.bincount(index, weights=truth_normal.sum(axis=0, dtype=np.float64))
    ratio = (model_days / truth_days) / (model_days.sum() / truth_days.sum())
    kinds = day_kinds(pd.DatetimeIndex(codes), department)
    out = {}
    for kind in DAY_KINDS:
        selected = ratio[kinds == kind]
        if selected.size:
            out[f"day_ratio_{kind}"] = float(model_days[kinds == kind].sum() / truth_days[kinds == kind].sum()
                                             / (model_days.sum() / truth_days.sum()))
            out[f"day_ratio_{kind}_worst"] = float(selected[np.argmax(np.abs(selected - 1.0))])
    return out
