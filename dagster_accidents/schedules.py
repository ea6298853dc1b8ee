"""At 23:00 in each département's time zone (Nouméa by default), predict its next local day: one
schedule per time zone, one run per département of that zone."""

import datetime as dt
import re

import dagster as dg

from dagster_accidents.jobs import daily_predictions_job
from dagster_accidents.partitions import SETTINGS, TIMEZONE, dep_day_key
from pipeline.core.departments import department
from pipeline.gold.scenarios import tomorrow_in


def next_day_partition(tick: dt.datetime, timezone: str = TIMEZONE) -> str:
    """The day after the tick, both read in `timezone` (the CLI's rule)."""
    return tomorrow_in(timezone, now=tick).isoformat()


def departements_by_timezone(codes) -> dict[str, list[str]]:
    """Configured départements grouped by time zone, the first département's zone first."""
    groups: dict[str, list[str]] = {}
    for code in dict.fromkeys(codes):
        groups.setdefault(department(code).timezone, []).append(code)
    return groups


def build_daily_schedule(timezone: str, deps: list[str], name: str) -> dg.ScheduleDefinition:
    @dg.schedule(
        name=name,
        cron_schedule="0 23 * * *",
        execution_timezone=timezone,
        job=daily_predictions_job,
        description=f"Tomorrow's hourly risk map of {', '.join(deps)}, computed the evening before "
                    f"(23:00 {timezone}), one run per département.",
    )
    def _schedule(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
        tick = context.scheduled_execution_time or dt.datetime.now(dt.UTC)
        day = next_day_partition(tick, timezone)
        # run_key = département and day, so a re-evaluated tick never runs twice
        return [dg.RunRequest(run_key=f"{dep}-{day}", partition_key=dep_day_key(dep, day)) for dep in deps]

    return _schedule


def build_daily_schedules(codes) -> list[dg.ScheduleDefinition]:
    """`daily_predictions_schedule` for the first département's zone, `daily_predictions_schedule_<zone>`
    for any other zone."""
    schedules = []
    for k, (timezone, deps) in enumerate(departements_by_timezone(codes).items()):
        suffix = "" if k == 0 else "_" + re.sub(r"[^a-z0-9]+", "_", timezone.lower())
        schedules.append(build_daily_schedule(timezone, deps, f"daily_predictions_schedule{suffix}"))
    return schedules


daily_predictions_schedules = build_daily_schedules(SETTINGS.departments)
daily_predictions_schedule = daily_predictions_schedules[0]
