"""The weekly maintenance job does what `accidents lake maintain` does and reports before/after."""

from __future__ import annotations

from pathlib import Path

from dagster_accidents.maintenance import lake_maintenance_job, lake_maintenance_schedule
from dagster_accidents.resources import DuckLakeResource, MLflowResource
from pipeline.core.lake import connect
from pipeline.core.settings import Settings


def test_weekly_job_compacts_the_lake_and_records_files_before_and_after(tmp_path):
    settings = Settings(data_dir=tmp_path / "data")
    con = connect(settings)
    con.execute("CREATE TABLE bronze.t AS SELECT range AS x FROM range(10)")
    for i in range(3):
        con.execute(f"INSERT INTO bronze.t VALUES ({i})")
    con.close()
    orphan = Path(settings.resolved_data_path) / "bronze" / "t" / "killed-writer.parquet"
    orphan.write_bytes(b"PAR1")

    result = lake_maintenance_job.execute_in_process(
        resources={"lake": DuckLakeResource(data_dir=str(settings.data_dir)), "mlflow": MLflowResource()},
        run_config={"ops": {"maintain_lake_op": {"config": {"retention_days": 0, "orphan_grace_minutes": 0}}}},
    )
    assert result.success
    verified, observation = [e.event_specific_data.asset_observation for e in result.all_events
                             if e.event_type_value == "ASSET_OBSERVATION"]
    assert {k: v.value for k, v in verified.metadata.items()}["damaged_files"] == 0
    meta = {k: v.value for k, v in observation.metadata.items()}
    assert (meta["files_before"], meta["files_after"], meta["orphaned_files"]) == (5, 1, 1)
    assert meta["bytes_after"] < meta["bytes_before"]
    assert not orphan.exists()
    con = connect(settings, read_only=True)
    assert con.execute("SELECT count(*) FROM bronze.t").fetchone()[0] == 13
    con.close()


def test_maintenance_runs_weekly_at_night_in_noumea():
    assert lake_maintenance_schedule.cron_schedule == "0 3 * * 0"
    assert lake_maintenance_schedule.execution_timezone == "Pacific/Noumea"
    assert lake_maintenance_schedule.job_name == "lake_maintenance_job"


def test_weekly_job_fails_and_rewrites_nothing_when_a_file_is_damaged(tmp_path):
    """The failed run is what the failure sensor posts: its message names the table and the file."""
    settings = Settings(data_dir=tmp_path / "data")
    con = connect(settings)
    con.execute("CREATE TABLE bronze.t AS SELECT range AS x FROM range(1000)")
    con.execute("INSERT INTO bronze.t VALUES (1)")
    con.close()
    connect(settings).close()  # a writable open records the checksums of files written outside `committed`
    [damaged] = sorted((Path(settings.resolved_data_path) / "bronze" / "t").glob("*.parquet"))[:1]
    data = bytearray(damaged.read_bytes())
    data[200:210] = b"\xff" * 10
    damaged.write_bytes(data)
    files_before = sorted(p.name for p in damaged.parent.iterdir())

    result = lake_maintenance_job.execute_in_process(
        resources={"lake": DuckLakeResource(data_dir=str(settings.data_dir)), "mlflow": MLflowResource()},
        run_config={"ops": {"maintain_lake_op": {"config": {"retention_days": 0, "orphan_grace_minutes": 0}}}},
        raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert failure.step_key == "verify_lake_op"
    assert f"DAMAGED bronze.t file {damaged}" in failure.event_specific_data.error.message
    assert sorted(p.name for p in damaged.parent.iterdir()) == files_before
