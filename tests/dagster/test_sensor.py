"""The release sensor against a local server replaying data.gouv.fr's recorded dataset answer."""

from __future__ import annotations

import copy
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dagster as dg
import pytest

from dagster_accidents.resources import BaacSourceResource, DuckLakeResource
from dagster_accidents.sensors import RELEASE_TAG, baac_release_sensor, release_requests
from tests.support.net import free_port

FIXTURE = Path(__file__).parents[1] / "fixtures" / "datagouv" / "dataset.json"
RECORDED_YEARS = [2017, 2018, 2021, 2022, 2023]  # complete years of the recorded answer (2024 lacks lieux)


def with_2024_lieux(answer: dict) -> dict:
    """The next release: the missing 2024 `lieux` file is published, so 2024 becomes complete."""
    answer = copy.deepcopy(answer)
    lieux_2023 = next(r for r in answer["resources"] if r["title"] == "lieux-2023.csv")
    lieux_2024 = {**lieux_2023, "id": "00000000-0000-0000-0000-lieux0002024", "title": "lieux-2024.csv",
                  "url": lieux_2023["url"].replace("2023", "2024")}
    answer["resources"].append(lieux_2024)
    return answer


@pytest.fixture
def api():
    """Serves `state['answer']` for the dataset URL; yields (base URL, state)."""
    state = {"answer": json.loads(FIXTURE.read_text(encoding="utf-8")), "hits": 0}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            state["hits"] += 1
            body = json.dumps(state["answer"]).encode()
            self.send_response(200 if "/datasets/" in self.path else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/api/1", state
    server.shutdown()
    server.server_close()


def evaluate(api_base: str, cursor: str | None, tmp_path):
    context = dg.build_sensor_context(cursor=cursor, resources={
        "lake": DuckLakeResource(data_dir=str(tmp_path), datagouv_api=api_base),
        "baac_source": BaacSourceResource(source="datagouv"),
    })
    return baac_release_sensor(context)


def test_first_poll_records_published_years_without_requesting(api, tmp_path):
    base, _ = api
    result = evaluate(base, None, tmp_path)
    assert isinstance(result, dg.SensorResult)
    assert not result.run_requests
    assert json.loads(result.cursor) == RECORDED_YEARS


def test_new_release_requests_ingest_of_the_new_year_and_advances_cursor(api, tmp_path):
    base, state = api
    before = json.dumps(RECORDED_YEARS)
    unchanged = evaluate(base, before, tmp_path)
    assert not unchanged.run_requests and json.loads(unchanged.cursor) == RECORDED_YEARS

    state["answer"] = with_2024_lieux(state["answer"])
    result = evaluate(base, before, tmp_path)
    assert [r.partition_key for r in result.run_requests] == ["988|2024"]  # (département, year)
    request = result.run_requests[0]
    assert request.tags[RELEASE_TAG] == "baac_release"
    assert request.tags["accidents/source"] == "datagouv"  # k8s/dagster.yaml limits these runs to 1
    assert json.loads(result.cursor) == [*RECORDED_YEARS, 2024]
    assert state["hits"] == 2

    again = evaluate(base, result.cursor, tmp_path)
    assert not again.run_requests  # the next tick does not re-request 2024


def test_unreachable_api_skips_without_raising_and_keeps_the_cursor(tmp_path):
    result = evaluate(f"http://127.0.0.1:{free_port()}/api/1", json.dumps(RECORDED_YEARS), tmp_path)
    assert isinstance(result, dg.SkipReason)
    assert "unavailable" in result.skip_message


def test_release_requests_only_new_years_that_are_partitions():
    keys = ["2019", "2020", "2021", "2022", "2023", "2024"]
    assert release_requests([2017, 2023, 2024], None, keys) == []
    assert release_requests([2017, 2023, 2024], {2023}, keys) == ["2024"]  # 2017 predates the partitions
    assert release_requests([2023], {2023}, keys) == []


@dg.op
def _noop():
    return None


@dg.job
def _finished_job():
    _noop()


RELEASE_RUN = {RELEASE_TAG: "baac_release", "dagster/partition": "974|2024", "dagster/partition/dep": "974",
               "dagster/partition/year": "2024"}


@pytest.mark.parametrize("tags, rebuilds", [(RELEASE_RUN, True), ({}, False)])
def test_rebuild_follows_only_release_ingest_runs(tags, rebuilds):
    """The rebuild of the released (département, year)'s département, nothing for other runs."""
    from dagster_accidents.sensors import rebuild_after_release_ingest

    with dg.DagsterInstance.ephemeral() as instance:
        result = _finished_job.execute_in_process(instance=instance, tags=tags)
        context = dg.build_run_status_sensor_context(
            sensor_name="rebuild_after_release_ingest", dagster_instance=instance,
            dagster_run=result.dagster_run, dagster_event=result.get_run_success_event())
        outcome = rebuild_after_release_ingest(context)
    if rebuilds:
        assert isinstance(outcome, dg.RunRequest)
        assert outcome.run_key == f"rebuild-after-{result.run_id}" and outcome.tags[RELEASE_TAG] == "baac_release"
        assert outcome.partition_key == "974"
    else:
        assert isinstance(outcome, dg.SkipReason)


def test_rebuild_sensor_targets_the_model_build_job():
    from dagster_accidents.sensors import rebuild_after_release_ingest

    assert [t.job_name for t in rebuild_after_release_ingest.targets] == ["all_assets_job"]
