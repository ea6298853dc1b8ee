"""New Caledonia calendar flags: public holidays and school holidays, vectorised over timestamps."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path

import numpy as np

SCHOOL_HOLIDAYS_CSV = Path(__file__).parent / "data" / "school_holidays_nc.csv"
# Fête de la citoyenneté (24 September) is a public holiday in New Caledonia; added explicitly in case
# the installed `holidays` release does not know it.
_LOCAL_FIXED_HOLIDAYS = ((9, 24), (7, 14))


@lru_cache(maxsize=64)
def public_holidays(year: int) -> frozenset[dt.date]:
    import holidays

    days = set(holidays.country_holidays("NC", years=year).keys())
    days.update(dt.date(year, month, day) for month, day in _LOCAL_FIXED_HOLIDAYS)
    return frozenset(days)


@lru_cache(maxsize=1)
def school_holiday_periods() -> tuple[np.ndarray, np.ndarray]:
    """(starts, ends) as sorted numpy datetime64[D] arrays, both inclusive."""
    import pandas as pd

    periods = pd.read_csv(SCHOOL_HOLIDAYS_CSV, comment="#", parse_dates=["start", "end"])
    periods = periods.sort_values("start")
    return (
        periods["start"].to_numpy().astype("datetime64[D]"),
        periods["end"].to_numpy().astype("datetime64[D]"),
    )


def _days(times) -> np.ndarray:
    return np.asarray(times, dtype="datetime64[ns]").astype("datetime64[D]")


def is_public_holiday(times) -> np.ndarray:
    days = _days(times)
    if days.size == 0:
        return np.zeros(0, dtype=bool)
    years = np.unique(days.astype("datetime64[Y]").astype(int) + 1970)
    known = np.array(sorted(d for y in years for d in public_holidays(int(y))), dtype="datetime64[D]")
    return np.isin(days, known)


def is_school_holiday(times) -> np.ndarray:
    """True for days inside a school-holiday period (periods do not overlap)."""
    days = _days(times)
    starts, ends = school_holiday_periods()
    idx = np.searchsorted(starts, days, side="right") - 1  # last period starting on or before the day
    inside = idx >= 0
    inside[inside] = days[inside] <= ends[idx[inside]]
    return inside
