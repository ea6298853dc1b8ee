"""Partition sets, derived from the configured source and département: the BAAC years the source
covers for bronze, calendar days in the département's time zone for predictions."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from pipeline.core.settings import Settings


def baac_year_keys(settings: Settings, today: dt.date | None = None) -> list[str]:
    """The years the configured source covers (the demo: its generated span; real data: every year
    whose files can be published by now)."""
    from pipeline.sources.select import open_source

    return [str(year) for year in open_source(settings.default_source, settings).covered_years(today)]


def first_prediction_day(year_keys: list[str]) -> str:
    """The day after the last covered year: predictions are for days the data does not hold."""
    return f"{int(year_keys[-1]) + 1}-01-01"


def build_partitions(settings: Settings) -> tuple[dg.StaticPartitionsDefinition, dg.DailyPartitionsDefinition]:
    years = baac_year_keys(settings)
    # A daily partition normally exists once its day is over; end_offset=2 adds today and tomorrow,
    # so the 23:00 schedule can target tomorrow (a forecast is made before its day).
    days = dg.DailyPartitionsDefinition(start_date=first_prediction_day(years),
                                        timezone=settings.department.timezone, end_offset=2)
    return dg.StaticPartitionsDefinition(years), days


SETTINGS = Settings.from_env()  # the code location's environment, read once
TIMEZONE = SETTINGS.department.timezone
baac_years, prediction_days = build_partitions(SETTINGS)
