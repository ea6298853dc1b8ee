"""The plausibility check of a predicted day: its expected count (normal weather) against the observed
mean of the days of the same month and weekday in the training years.

The band is tight on purpose (a model 50 % off on Sundays is wrong, not unlucky): the relative gap
may not exceed BAND plus one Poisson standard error of the reference mean (1 / sqrt(accidents it
counts)), so a reference built from few accidents is not over-trusted; under MIN_ACCIDENTS the day
is not judged.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from pipeline.core.calendar import is_public_holiday
from pipeline.core.errors import AccidentsError
from pipeline.core.lake import DEP, table_exists

if TYPE_CHECKING:
    import duckdb

BAND = 0.25
MIN_ACCIDENTS = 10  # a reference of fewer accidents judges nothing: the check is skipped (and says so)


@dataclass(frozen=True)
class DayCheck:
    day: dt.date
    expected: float
    reference: float  # observed accidents per day, same month and weekday, training years
    reference_days: int
    reference_accidents: int
    years: tuple[int, ...]

    @property
    def tolerance(self) -> float:
        return BAND + 1.0 / math.sqrt(max(self.reference_accidents, 1))

    @property
    def gap(self) -> float:
        return self.expected / self.reference - 1.0 if self.reference > 0 else math.inf

    @property
    def judged(self) -> bool:
        return self.reference_accidents >= MIN_ACCIDENTS

    @property
    def passed(self) -> bool:
        return not self.judged or abs(self.gap) <= self.tolerance

    def message(self) -> str:
        if not self.judged:
            return (f"{self.day}: not judged, {self.reference_accidents} accidents on {self.day:%A}s of "
                    f"{self.day:%B} in the training years (fewer than {MIN_ACCIDENTS})")
        return (f"{self.day}: {self.expected:.2f} expected accidents vs {self.reference:.2f} a day observed on "
                f"{self.day:%A}s of {self.day:%B} {self.years[0]}-{self.years[-1]} ({self.reference_days} days, "
                f"{self.reference_accidents} accidents): {self.gap:+.0%}, band ±{self.tolerance:.0%}")


def training_years(con: duckdb.DuckDBPyConnection) -> list[int]:
    """Every year of bronze.accidents: the champion is trained on all of them."""
    query = f"SELECT DISTINCT year(event_time) FROM bronze.accidents WHERE event_time IS NOT NULL AND dep = {DEP}"
    return sorted(int(r[0]) for r in con.execute(query).fetchall())


def check_day(con: duckdb.DuckDBPyConnection, day: dt.date, expected: float,
              years: list[int] | None = None) -> DayCheck:
    """Compare `expected` (the day's normal-weather expected count) with the located accidents per day
    on the same month and weekday of `years` (default: the training years)."""
    years = sorted(years or training_years(con))
    if not years:
        raise AccidentsError("prediction check: no training year in the lake")
    dates = [dt.date(y, day.month, 1) + dt.timedelta(days=k) for y in years for k in range(31)]
    same = [d for d in dates if d.month == day.month and d.weekday() == day.weekday()]
    isodow = day.isoweekday()  # DuckDB isodow: Monday 1 .. Sunday 7
    located = "JOIN silver.accident_points p USING (accident_id, dep)" if table_exists(con, "silver.accident_points") else ""
    n = con.execute(
        f"SELECT count(*) FROM bronze.accidents a {located} WHERE list_contains(?, year(a.event_time)) "
        f"AND month(a.event_time) = ? AND isodow(a.event_time) = ? AND a.dep = {DEP}",
        [years, day.month, isodow]).fetchone()[0]
    return DayCheck(day, float(expected), n / len(same), len(same), int(n), tuple(years))


def check_normal_day(con: duckdb.DuckDBPyConnection, day: dt.date, expected: float, dep: str) -> DayCheck | None:
    """`check_day` for a normal-weather day; None for a public holiday of département `dep`, whose
    count no ordinary day of the training years describes."""
    if is_public_holiday(np.array([day], dtype="datetime64[D]"), dep)[0]:
        return None
    return check_day(con, day, expected)
