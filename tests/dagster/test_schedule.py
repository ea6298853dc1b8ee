"""The 23:00 Nouméa schedule targets the next Nouméa day's prediction partition, one run per
département of its time zone; another time zone gets its own schedule."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from dagster_accidents.partitions import dep_day_key, prediction_days
from dagster_accidents.schedules import build_daily_schedules, daily_predictions_schedule, next_day_partition

NOUMEA = ZoneInfo("Pacific/Noumea")


@pytest.mark.parametrize("tick, expected", [
    (dt.datetime(2025, 3, 10, 23, 0, tzinfo=NOUMEA), "2025-03-11"),
    # The same instant seen from UTC (Nouméa is UTC+11): still the 11th, not the 10th's next day in UTC.
    (dt.datetime(2025, 3, 10, 12, 0, tzinfo=dt.UTC), "2025-03-11"),
    (dt.datetime(2025, 12, 31, 23, 0, tzinfo=NOUMEA), "2026-01-01"),
])
def test_run_request_targets_the_next_noumea_day(tick, expected):
    context = dg.build_schedule_context(scheduled_execution_time=tick)
    [request] = daily_predictions_schedule(context)
    assert isinstance(request, dg.RunRequest)
    assert request.partition_key == dep_day_key("988", expected)
    assert request.run_key == f"988-{expected}"  # one run per day even if the tick is evaluated twice


def test_one_run_per_departement_and_one_schedule_per_time_zone():
    schedules = build_daily_schedules(["988", "974", "987"])
    assert [(s.name, s.execution_timezone) for s in schedules] == [
        ("daily_predictions_schedule", "Pacific/Noumea"),
        ("daily_predictions_schedule_indian_reunion", "Indian/Reunion"),
        ("daily_predictions_schedule_pacific_tahiti", "Pacific/Tahiti")]
    tick = dt.datetime(2025, 3, 10, 23, 0, tzinfo=ZoneInfo("Indian/Reunion"))
    [request] = schedules[1](dg.build_schedule_context(scheduled_execution_time=tick))
    assert request.partition_key == dep_day_key("974", "2025-03-11") and request.run_key == "974-2025-03-11"
    noumea = build_daily_schedules(["988", "988"])[0]  # a repeated code is one département: one run
    assert len(noumea(dg.build_schedule_context(scheduled_execution_time=tick))) == 1


def test_schedule_runs_at_23_noumea_and_tomorrow_is_already_a_partition():
    assert daily_predictions_schedule.cron_schedule == "0 23 * * *"
    assert daily_predictions_schedule.execution_timezone == "Pacific/Noumea"
    assert daily_predictions_schedule.job_name == "daily_predictions_job"
    now = dt.datetime(2025, 3, 10, 23, 0, tzinfo=NOUMEA)
    keys = prediction_days.get_partition_keys(current_time=now)
    assert next_day_partition(now) == keys[-1] == "2025-03-11"
