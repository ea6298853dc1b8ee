"""Calendar flags per département: public holidays and school holidays, vectorised over timestamps.

The calendars come from the département profile (`pipeline.core.departments`). A département without
a shipped school-holiday table gets no school-holiday days (the feature is then constant; documented
in docs/DATA_MODEL.md), never another département's table.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path

import holidays
import numpy as np
import pandas as pd

from pipeline.core.departments import department as department_profile

DATA_DIR = Path(__file__).parent / "data"
SCHOOL_HOLIDAYS_CSV = DATA_DIR / "school_holidays_nc.csv"


@lru_cache(maxsize=256)
def public_holidays(year: int, dep: str) -> frozenset[dt.date]:
    profile = department_profile(dep)
    days = set(holidays.country_holidays(profile.holiday_country, subdiv=profile.holiday_subdivision,
                                         years=year).keys())
    days.update(dt.date(year, month, day) for month, day in profile.local_holidays)
    return frozenset(days)


@lru_cache(maxsize=16)
def school_holiday_periods(dep: str) -> tuple[np.ndarray, np.ndarray]:
    """(starts, ends) as sorted numpy datetime64[D] arrays, both inclusive (empty without a table)."""
    name = department_profile(dep).school_holidays_file
    if name is None:
        return np.array([], dtype="datetime64[D]"), np.array([], dtype="datetime64[D]")
    periods = pd.read_csv(DATA_DIR / name, comment="#", parse_dates=["start", "end"]).sort_values("start")
    return (
        periods["start"].to_numpy().astype("datetime64[D]"),
        periods["end"].to_numpy().astype("datetime64[D]"),
    )


def _days(times) -> np.ndarray:
    return np.asarray(times, dtype="datetime64[ns]").astype("datetime64[D]")


def is_public_holiday(times, dep: str) -> np.ndarray:
    days = _days(times)
    if days.size == 0:
        return np.zeros(0, dtype=bool)
    years = np.unique(days.astype("datetime64[Y]").astype(int) + 1970)
    known = np.array(sorted(d for y in years for d in public_holidays(int(y), dep)), dtype="datetime64[D]")
    return np.isin(days, known)


def is_school_holiday(times, dep: str) -> np.ndarray:
    """True for days inside a school-holiday period (periods do not overlap)."""
    days = _days(times)
    starts, ends = school_holiday_periods(dep)
    if starts.size == 0:
        return np.zeros(days.shape, dtype=bool)
    idx = np.searchsorted(starts, days, side="right") - 1  # last period starting on or before the day
    inside = idx >= 0
    inside[inside] = days[inside] <= ends[idx[inside]]
    return inside
