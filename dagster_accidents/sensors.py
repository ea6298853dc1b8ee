"""Automation on new data: a BAAC release sensor, and the model rebuild after its ingest.

1. `baac_release_sensor` polls data.gouv.fr's dataset listing; when a year appears with its four
   files complete, it requests `ingest_job` for that year, one run per configured département
   (tagged as a release run).
2. `rebuild_after_release_ingest` waits for each such run to succeed, then requests `all_assets_job`
   for its département (roads, silver features, datasets, retraining, evaluation) so training never
   sees stale bronze.
3. `post_critical_zones` sends the critical zones of each successful daily prediction to a webhook
   (never after a failed check: the prediction checks are blocking, so such a run fails);
   `post_failed_runs` sends every failed run with each failed step's one-line cause, the partition
   and a link to the run. Both skip when no webhook is configured, and a receiver that is down
   costs a logged warning, never a failed run.
"""

import datetime as dt
import json

import dagster as dg
import requests

from dagster_accidents.alerts import AlertsResource
from dagster_accidents.failures import failed_checks, run_url, step_failures
from dagster_accidents.jobs import all_assets_job, daily_predictions_job, ingest_job
from dagster_accidents.partitions import DAY, DEP, baac_years, dep_prediction_days, dep_year_key, dimension
from dagster_accidents.resources import BaacSourceResource, DuckLakeResource
from pipeline.core.errors import AccidentsError
from pipeline.gold.scenarios import scenario_code
from pipeline.serving.notify import critical_zones, day_totals, failed_run_message, zones_message
from pipeline.sources.datagouv import list_published_years
from pipeline.sources.provenance import lake_is_synthetic

RELEASE_TAG = "accidents/trigger"
RELEASE_VALUE = "baac_release"
POLL_SECONDS = 6 * 3600  # data.gouv.fr publishes once a year; be polite


def known_years(cursor: str | None) -> set[int] | None:
    """Years already seen, from the cursor (None before the first successful poll)."""
    return None if not cursor else {int(y) for y in json.loads(cursor)}


def release_requests(published: list[int], known: set[int] | None, partition_keys: list[str]) -> list[str]:
    """Partition keys to ingest: published years not seen before that are year partitions.
    The first poll only records what exists (the initial load is a deliberate backfill)."""
    if known is None:
        return []
    return [str(y) for y in sorted(set(published) - known) if str(y) in partition_keys]


@dg.sensor(
    name="baac_release_sensor",
    job=ingest_job,
    minimum_interval_seconds=POLL_SECONDS,
    description="Polls data.gouv.fr for a new BAAC year; requests its ingest (then the rebuild follows).",
)
def baac_release_sensor(context: dg.SensorEvaluationContext, lake: DuckLakeResource,
                        baac_source: BaacSourceResource):
    if not baac_source.open(lake.settings()).announces_releases:
        return dg.SkipReason(f"source {baac_source.source!r} publishes no releases: nothing to poll")
    api = lake.datagouv_api
    try:
        published = list_published_years(api, baac_source.dataset_slug, timeout=20, retries=1, backoff=0.5)
    except (AccidentsError, requests.RequestException) as exc:
        # Network trouble is normal for a poller: skip this tick, keep the cursor, retry later.
        context.log.warning(f"data.gouv.fr listing unavailable: {exc}")
        return dg.SkipReason(f"data.gouv.fr listing unavailable: {exc}")
    known = known_years(context.cursor)
    cursor = json.dumps(sorted(set(published) | (known or set())))
    new_keys = release_requests(published, known, baac_years.get_partition_keys())
    if not new_keys:
        reason = ("first poll: recorded the published years" if known is None
                  else "no new BAAC year published") + f" ({', '.join(map(str, published))})"
        return dg.SensorResult(skip_reason=reason, cursor=cursor)
    context.log.info(f"new BAAC year(s) published: {', '.join(new_keys)}")
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(run_key=f"baac-release-{dep}-{key}", partition_key=dep_year_key(dep, key),
                          tags={RELEASE_TAG: RELEASE_VALUE, "accidents/source": "datagouv"})
            for key in new_keys for dep in lake.departments
        ],
        cursor=cursor,
    )


@dg.run_status_sensor(
    name="rebuild_after_release_ingest",
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[ingest_job],
    request_job=all_assets_job,
    description="After a release ingest succeeds: rebuild roads, silver, datasets, retrain and evaluate.",
)
def rebuild_after_release_ingest(context: dg.RunStatusSensorContext):
    run = context.dagster_run
    if run.tags.get(RELEASE_TAG) != RELEASE_VALUE:
        return dg.SkipReason(f"run {run.run_id} was not started by a BAAC release")
    dep = run.tags.get(f"dagster/partition/{DEP}")
    if not dep:
        return dg.SkipReason(f"run {run.run_id} has no département partition")
    return dg.RunRequest(run_key=f"rebuild-after-{run.run_id}", partition_key=dep, tags={RELEASE_TAG: RELEASE_VALUE})


@dg.run_status_sensor(
    name="post_critical_zones",
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[daily_predictions_job],
    default_status=dg.DefaultSensorStatus.RUNNING,  # a no-op until a webhook URL is configured
    description="After a daily prediction whose checks passed: its critical zones (threshold or top N) to the "
                "alert webhook.",
)
def post_critical_zones(context: dg.RunStatusSensorContext, lake: DuckLakeResource, alerts: AlertsResource):
    run = context.dagster_run
    if not alerts.webhook_url:
        return dg.SkipReason("no alert webhook configured (ACCIDENTS_ALERT_WEBHOOK_URL)")
    partition = run.tags.get("dagster/partition")
    if not partition:
        return dg.SkipReason(f"run {run.run_id} has no day partition")
    if failed := failed_checks(context.instance, run.run_id):
        # a non-blocking check (or one run on its own) must not let suspect numbers out either
        return dg.SkipReason(f"run {run.run_id}: {'; '.join(c for cs in failed.values() for c in cs)}")
    config = (run.run_config or {}).get("ops", {}).get("gold__predictions", {}).get("config", {})
    day, atm = dt.date.fromisoformat(dimension(dep_prediction_days, partition, DAY)), scenario_code(config.get("atm", "1"))
    with lake.connect(read_only=True, dep=dimension(dep_prediction_days, partition, DEP)) as con:
        day_total, hotspots = day_totals(con, day, atm)
        zones = critical_zones(con, day, atm, alerts.rule(), hotspots=hotspots)
        synthetic = lake_is_synthetic(con)
    model = f"{run.job_name} run {run.run_id}"
    delivered = alerts.post(alerts.webhook_url, zones_message(day, atm, zones, alerts.rule(), model=model,
                                                              fmt=alerts.format, synthetic=synthetic,
                                                              day_total=day_total))
    context.log.info(f"{len(zones)} critical zone(s) of {day} {'sent' if delivered else 'NOT delivered'}")
    if not delivered:
        return dg.SkipReason(f"alert webhook unreachable; {len(zones)} zone(s) of {day} not delivered")
    return None


@dg.run_failure_sensor(name="post_failed_runs", default_status=dg.DefaultSensorStatus.RUNNING,
                       description="Every failed run to the failure webhook: each failed step's cause, the "
                                   "partition and a link to the run.")
def post_failed_runs(context: dg.RunFailureSensorContext, alerts: AlertsResource):
    url = alerts.failure_url()
    if not url:
        return dg.SkipReason("no failure webhook configured (ACCIDENTS_FAILURE_WEBHOOK_URL)")
    run = context.dagster_run
    message = failed_run_message(run.job_name, run.run_id, context.failure_event.message or "",
                                 partition=run.tags.get("dagster/partition"),
                                 failures=step_failures(context.instance, run.run_id),
                                 url=run_url(alerts.ui_url, run.run_id), fmt=alerts.format)
    if not alerts.post(url, message):
        context.log.warning(f"failure of run {run.run_id} not delivered to the webhook")
        return dg.SkipReason(f"failure webhook unreachable for run {run.run_id}")
    return None
