"""Partition sets: BAAC release years for bronze, Nouméa calendar days for predictions."""

from __future__ import annotations

import datetime as dt

import dagster as dg

TIMEZONE = "Pacific/Noumea"
FIRST_YEAR = 2019  # first year of the current BAAC file layout that the models use
FIRST_PREDICTION_DAY = "2025-01-01"  # the day after the default hold-out year


def baac_year_keys(today: dt.date | None = None) -> list[str]:
    """"2019" .. last year: a year's files are published in the autumn of the next year at the
    earliest, so no later year can exist (same rule as `accidents ingest --years`)."""
    today = today or dt.date.today()
    return [str(year) for year in range(FIRST_YEAR, today.year)]


baac_years = dg.StaticPartitionsDefinition(baac_year_keys())

# A daily partition normally exists once its day is over; end_offset=2 adds today and tomorrow,
# so the 23:00 schedule can target tomorrow (a forecast is made before its day).
prediction_days = dg.DailyPartitionsDefinition(
    start_date=FIRST_PREDICTION_DAY, timezone=TIMEZONE, end_offset=2
)
