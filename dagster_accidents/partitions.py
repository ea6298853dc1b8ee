"""Partition sets, derived from the configured source and départements: every asset is partitioned by
département (ACCIDENTS_DEPS), bronze also by the BAAC years the source covers, predictions also by
calendar day. A backfill of several départements is one run per département (per year, per day)."""

from __future__ import annotations

import datetime as dt
import warnings
from zoneinfo import ZoneInfo

import dagster as dg

from pipeline.core.departments import department
from pipeline.core.settings import Settings
from pipeline.sources.select import open_source

DEP, YEAR, DAY = "dep", "year", "day"  # dimension names (a multi-partition key reads "988|2024", "2025-03-11|988")


def baac_year_keys(settings: Settings, today: dt.date | None = None) -> list[str]:
    """The years the configured source covers (the demo: its generated span; real data: every year
    whose files can be published by now)."""
    return [str(year) for year in open_source(settings.default_source, settings).covered_years(today)]


def first_prediction_day(year_keys: list[str]) -> str:
    """The day after the last covered year: predictions are for days the data does not hold."""
    return f"{int(year_keys[-1]) + 1}-01-01"


def easternmost_timezone(settings: Settings, now: dt.datetime | None = None) -> str:
    """The configured départements' time zone that is furthest ahead: its "tomorrow" is never before
    any other département's, so the day partitions hold every département's tomorrow."""
    now = now or dt.datetime.now(dt.UTC)
    zones = [department(code).timezone for code in settings.departments]
    return max(zones, key=lambda zone: now.astimezone(ZoneInfo(zone)).utcoffset())


def build_partitions(settings: Settings):
    """(départements, bronze dep x year, days, predictions dep x day)."""
    years = baac_year_keys(settings)
    deps = dg.StaticPartitionsDefinition(list(settings.departments))
    # A daily partition normally exists once its day is over; end_offset=2 adds today and tomorrow,
    # so the 23:00 schedule can target tomorrow (a forecast is made before its day).
    days = dg.DailyPartitionsDefinition(start_date=first_prediction_day(years),
                                        timezone=easternmost_timezone(settings), end_offset=2)
    dep_years = dg.MultiPartitionsDefinition({DEP: deps, YEAR: dg.StaticPartitionsDefinition(years)})
    dep_days = dg.MultiPartitionsDefinition({DEP: deps, DAY: days})
    return deps, dep_years, days, dep_days


def dep_day_key(dep: str, day: str) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({DEP: dep, DAY: day})


def dep_year_key(dep: str, year: str) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({DEP: dep, YEAR: year})


def dimension(partitions_def: dg.MultiPartitionsDefinition, key: str, name: str) -> str:
    """One dimension of a multi-partition key (given as a MultiPartitionKey or its "a|b" text)."""
    return partitions_def.get_partition_key_from_str(str(key)).keys_by_dimension[name]


# A silver/gold asset (one département) reads every year partition of its département's bronze; a
# prediction day reads its département's model and road points. The mapping is marked beta in Dagster
# 1.13; its behaviour is pinned by tests/dagster, so its warning is not repeated at every load.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", category=dg.BetaWarning)
    BY_DEP = dg.MultiToSingleDimensionPartitionMapping(partition_dimension_name=DEP)

SETTINGS = Settings.from_env()  # the code location's environment, read once
TIMEZONE = SETTINGS.department.timezone  # the first département's (maintenance schedule)
departements, baac_dep_years, prediction_days, dep_prediction_days = build_partitions(SETTINGS)
baac_years = dg.StaticPartitionsDefinition(baac_year_keys(SETTINGS))  # the year dimension, for the release sensor
