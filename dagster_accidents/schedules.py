"""At 23:00 in the département's time zone (Nouméa by default), predict the next local day."""

import datetime as dt

import dagster as dg

from dagster_accidents.jobs import daily_predictions_job
from dagster_accidents.partitions import TIMEZONE
from pipeline.gold.predictions import tomorrow_in


def next_day_partition(tick: dt.datetime) -> str:
    """The partition key of the day after the tick, both read in the département's time (the CLI's rule)."""
    return tomorrow_in(TIMEZONE, now=tick).isoformat()


@dg.schedule(
    name="daily_predictions_schedule",
    cron_schedule="0 23 * * *",
    execution_timezone=TIMEZONE,
    job=daily_predictions_job,
    description=f"Tomorrow's hourly risk map, computed the evening before (23:00 {TIMEZONE}).",
)
def daily_predictions_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    tick = context.scheduled_execution_time or dt.datetime.now(dt.UTC)
    day = next_day_partition(tick)
    return dg.RunRequest(run_key=day, partition_key=day)
