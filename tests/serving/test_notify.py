"""Webhooks against a local receiver: critical zones after a daily prediction, failed Dagster runs."""

from __future__ import annotations

import logging
import time

import dagster as dg
import pytest

from dagster_accidents.alerts import AlertsResource
from dagster_accidents.resources import DuckLakeResource, MLflowResource
from dagster_accidents.sensors import post_critical_zones, post_failed_runs
from pipeline.core.errors import AccidentsError
from pipeline.serving.notify import AlertRule, critical_zones, post_json, zones_message
from tests.serving.conftest import PREDICTED_DAY, build_demo_lake
from tests.serving.receiver import Receiver, closed_url


def test_post_json_delivers_and_retries_a_failing_receiver():
    with Receiver(statuses=[500, 503]) as receiver:
        assert post_json(receiver.url, {"text": "hello"}, retries=3, backoff=0.01)
    assert receiver.received == [{"text": "hello"}] and len(receiver.paths) == 3


def test_a_receiver_that_stays_down_is_logged_without_raising_or_leaking_the_url(caplog):
    url = closed_url()
    with caplog.at_level(logging.INFO, logger="accidents.notify"):
        assert not post_json(url, {"text": "x"}, retries=2, backoff=0.01, timeout=1)
    assert "not delivered after 3 attempt(s)" in caplog.text
    assert "secret-token" not in caplog.text


def test_a_client_error_is_not_retried():
    with Receiver(statuses=[404]) as receiver:
        assert not post_json(receiver.url, {"text": "x"}, retries=3, backoff=0.01)
    assert len(receiver.paths) == 1


def test_critical_zones_are_the_riskiest_point_hours_or_those_above_a_threshold(demo_lake):
    from pipeline.core.lake import lake_connection

    with lake_connection(demo_lake.settings, read_only=True) as con:
        gold = con.execute("SELECT * FROM gold.predictions WHERE date = ?", [PREDICTED_DAY]).df()
        top = critical_zones(con, PREDICTED_DAY, 1, AlertRule(top_n=4))
        cut = float(gold["probability"].quantile(0.99))
        above = critical_zones(con, PREDICTED_DAY, 1, AlertRule(threshold=cut))
    expected = gold.sort_values(["probability", "hour", "point_id"], ascending=[False, True, True]).head(4)
    assert [(z["point_id"], z["hour"]) for z in top] == list(zip(expected["point_id"], expected["hour"]))
    assert len(above) == (gold["probability"] >= cut).sum() and all(z["probability"] >= cut for z in above)
    message = zones_message(PREDICTED_DAY, 1, top, AlertRule(top_n=4), model="m v1")
    assert message["text"].startswith(f"Road-accident risk {PREDICTED_DAY}") and "4 critical zone(s)" in message["text"]
    assert f"point {top[0]['point_id']}" in message["blocks"][1]["text"]["text"]
    assert zones_message(PREDICTED_DAY, 1, top, AlertRule(), model="m", fmt="json")["zones"] == top


def test_alert_rule_and_format_are_validated():
    with pytest.raises(AccidentsError, match="threshold"):
        AlertRule(threshold=1.5)
    with pytest.raises(AccidentsError, match="format"):
        zones_message(PREDICTED_DAY, 1, [], AlertRule(), model="m", fmt="xml")


@pytest.fixture(scope="module")
def predicted_run(tmp_path_factory):
    """A real run of the predictions asset (champion from the lake's MLflow) on a fresh demo lake."""
    from dagster_accidents.assets.predictions import predictions

    lake = build_demo_lake(tmp_path_factory.mktemp("alerts") / "data")
    resource = DuckLakeResource(data_dir=str(lake.settings.data_dir))
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize([predictions], partition_key="2026-03-09|988", instance=instance,  # (day, dep)
                            resources={"lake": resource, "mlflow": MLflowResource()},
                            run_config={"ops": {"gold__predictions": {"config": {"atm": "2"}}}})
    assert result.success
    return resource, instance, result


def _success_context(predicted_run, alerts: AlertsResource):
    resource, instance, result = predicted_run
    return dg.build_run_status_sensor_context(
        sensor_name="post_critical_zones", dagster_event=result.get_run_success_event(),
        dagster_instance=instance, dagster_run=result.dagster_run, resources={"lake": resource, "alerts": alerts})


def test_critical_zones_of_a_daily_prediction_reach_the_webhook(predicted_run):
    with Receiver() as receiver:
        alerts = AlertsResource(webhook_url=receiver.url, top_n=3)
        assert post_critical_zones(_success_context(predicted_run, alerts)) is None
    [message] = receiver.received
    assert "2026-03-09" in message["text"] and "Pluie légère" in message["text"] and "3 critical zone(s)" in message["text"]


def test_a_down_receiver_never_fails_the_sensor_and_no_url_skips(predicted_run):
    down = AlertsResource(webhook_url=closed_url(), retries=1, backoff_seconds=0.01, timeout_seconds=1)
    skipped = post_critical_zones(_success_context(predicted_run, down))
    assert isinstance(skipped, dg.SkipReason) and "not delivered" in skipped.skip_message
    unconfigured = post_critical_zones(_success_context(predicted_run, AlertsResource()))
    assert "no alert webhook" in unconfigured.skip_message


@dg.op
def explode():
    raise RuntimeError("lake catalog unreachable: boom")


@dg.job
def failing_job():
    explode()


def _failure_context(alerts: AlertsResource):
    instance = dg.DagsterInstance.ephemeral()
    result = failing_job.execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    return dg.build_run_status_sensor_context(
        sensor_name="post_failed_runs", dagster_event=result.get_run_failure_event(), dagster_instance=instance,
        dagster_run=result.dagster_run, resources={"alerts": alerts}).for_run_failure()


def test_failed_runs_reach_the_failure_webhook_with_step_cause_and_link():
    with Receiver() as receiver, Receiver() as zones_receiver:
        alerts = AlertsResource(webhook_url=zones_receiver.url, failure_webhook_url=receiver.url, format="json",
                                ui_url="http://dagster.example:3000/")
        context = _failure_context(alerts)
        started = time.monotonic()
        assert post_failed_runs(context) is None
        elapsed = time.monotonic() - started
    [message] = receiver.received
    run_id = context.dagster_run.run_id
    assert message["event"] == "run_failed" and message["job"] == "failing_job" and message["run_id"] == run_id
    assert message["step"] == "explode"
    assert message["cause"] == "RuntimeError: lake catalog unreachable: boom"  # not Dagster's wrapper
    assert message["failures"] == [{"step": "explode", "cause": message["cause"]}]
    assert message["url"] == f"http://dagster.example:3000/runs/{run_id}"
    assert "explode" in message["error"] and zones_receiver.received == [] and elapsed < 60


def test_a_slack_failure_message_names_the_step_cause_and_links_the_run():
    with Receiver() as receiver:
        alerts = AlertsResource(webhook_url=receiver.url, ui_url="http://dagster.example")
        context = _failure_context(alerts)
        assert post_failed_runs(context) is None
    [message] = receiver.received
    run_id = context.dagster_run.run_id
    assert "explode: RuntimeError: lake catalog unreachable: boom" in message["text"]
    assert message["blocks"][1]["text"]["text"] == "• step `explode`: RuntimeError: lake catalog unreachable: boom"
    assert message["blocks"][2]["elements"][0]["text"] == f"<http://dagster.example/runs/{run_id}|run {run_id}>"


@pytest.fixture(scope="module")
def run_with_failed_check(tmp_path_factory):
    """The daily predictions job's asset and checks on a lake whose history makes the day implausible:
    5 accidents snapped to road points in 5 years (0.003 a day) against a model calibrated on 0.8 a day."""
    from dagster_accidents.assets.predictions import predictions
    from dagster_accidents.checks import ALL_CHECKS
    from pipeline.core.lake import lake_connection

    lake = build_demo_lake(tmp_path_factory.mktemp("failed-check") / "data")
    with lake_connection(lake.settings) as con:
        con.execute("CREATE OR REPLACE TABLE silver.accident_points AS SELECT * FROM silver.accident_points "
                    "ORDER BY accident_id LIMIT 5")
    resource = DuckLakeResource(data_dir=str(lake.settings.data_dir))
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize([predictions, *ALL_CHECKS], selection=dg.AssetSelection.assets(["gold", "predictions"]),
                            partition_key="2026-03-09|988", instance=instance, raise_on_error=False,
                            resources={"lake": resource, "mlflow": MLflowResource()})
    return resource, instance, result


def test_a_failed_prediction_check_fails_the_run_and_its_alert_carries_the_cause(run_with_failed_check):
    resource, instance, result = run_with_failed_check
    assert not result.success and result.dagster_run.status == dg.DagsterRunStatus.FAILURE
    run_id = result.dagster_run.run_id
    with Receiver() as receiver:
        alerts = AlertsResource(webhook_url=receiver.url, format="json", ui_url="http://ui")
        context = dg.build_run_status_sensor_context(
            sensor_name="post_failed_runs", dagster_event=result.get_run_failure_event(), dagster_instance=instance,
            dagster_run=result.dagster_run, resources={"alerts": alerts}).for_run_failure()
        assert post_failed_runs(context) is None
    [message] = receiver.received
    assert message["partition"] == "2026-03-09|988" and message["url"] == f"http://ui/runs/{run_id}"
    assert message["step"].startswith("gold__predictions") and "expected_daily_accidents_plausible" in message["step"]
    assert message["cause"].startswith("check expected_daily_accidents_plausible [2026-03-09|988] failed: "
                                       "2026-03-09: expected accidents atm 1: ")
    assert "training daily mean 0.00" in message["cause"] and "\n" not in message["cause"]


def test_no_critical_zones_follow_a_failed_check(run_with_failed_check):
    resource, instance, result = run_with_failed_check
    evaluations = [e for e in result.all_events if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION]
    assert {e.event_specific_data.partition for e in evaluations} == {"2026-03-09|988"}  # shown in the UI
    with Receiver() as receiver:
        context = dg.build_run_status_sensor_context(
            sensor_name="post_critical_zones", dagster_event=result.get_run_failure_event(),
            dagster_instance=instance, dagster_run=result.dagster_run,
            resources={"lake": resource, "alerts": AlertsResource(webhook_url=receiver.url)})
        skipped = post_critical_zones(context)
    assert isinstance(skipped, dg.SkipReason) and "expected_daily_accidents_plausible" in skipped.skip_message
    assert receiver.received == []


def test_a_failure_webhook_that_is_down_is_skipped_not_raised():
    alerts = AlertsResource(webhook_url=closed_url(), retries=0, timeout_seconds=1)
    skipped = post_failed_runs(_failure_context(alerts))
    assert isinstance(skipped, dg.SkipReason) and "unreachable" in skipped.skip_message


def test_webhook_urls_from_the_environment_stay_env_vars():
    from dagster_accidents.alerts import alerts_from_env

    alerts = alerts_from_env({"ACCIDENTS_ALERT_WEBHOOK_URL": "http://127.0.0.1:9/hooks/secret-token",
                              "ACCIDENTS_ALERT_THRESHOLD": "0.002"})
    assert isinstance(alerts.webhook_url, dg.EnvVar) and alerts.failure_webhook_url is None
    assert alerts.rule() == AlertRule(threshold=0.002)
