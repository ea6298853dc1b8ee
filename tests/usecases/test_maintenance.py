"""`accidents lake maintain` and time travel on the embedded lake; a moved data folder still opens."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.core.errors import AccidentsError
from pipeline.core.lake import connect, current_snapshot
from pipeline.usecases.maintenance import MaintenanceParams, maintain_lake, storage_usage
from pipeline.core.settings import Settings


def _lake_with_history(data_dir: Path) -> tuple[Settings, int]:
    """A table written in six small commits; returns the settings and the snapshot after the first."""
    settings = Settings(data_dir=data_dir)
    con = connect(settings)
    con.execute("CREATE TABLE bronze.t AS SELECT range AS x FROM range(100)")
    first = current_snapshot(con)
    for i in range(5):
        con.execute(f"INSERT INTO bronze.t SELECT range FROM range({i * 10 + 1})")
    con.close()
    return settings, first


def _orphan(settings: Settings, age_seconds: float) -> Path:
    """An untracked Parquet file, like the one a writer killed before its commit leaves behind."""
    path = Path(settings.resolved_data_path) / "bronze" / "t" / f"ducklake-orphan-{age_seconds:.0f}.parquet"
    path.write_bytes(b"PAR1 killed writer PAR1")
    stamp = time.time() - age_seconds
    os.utime(path, (stamp, stamp))
    return path


def test_maintain_merges_expires_and_deletes_orphans_keeping_the_data(tmp_path):
    settings, _ = _lake_with_history(tmp_path / "data")
    old_orphan, fresh_orphan = _orphan(settings, 3 * 3600), _orphan(settings, 0)
    con = connect(settings)
    rows = con.execute("SELECT count(*), sum(x) FROM bronze.t").fetchone()
    report = maintain_lake(con, settings, MaintenanceParams(retention_days=0, orphan_grace_minutes=60))

    assert report.before.files == 8 and report.after.files == 2  # 6 data files + 2 orphans -> 1 + fresh orphan
    assert report.after.bytes < report.before.bytes
    assert report.merged_files == 6 and report.orphaned_files == 1 and report.snapshots_left == 1
    assert not old_orphan.exists() and fresh_orphan.exists()  # a writer may still commit a fresh one
    assert con.execute("SELECT count(*), sum(x) FROM bronze.t").fetchone() == rows
    assert storage_usage(con, settings) == report.after
    con.close()


def test_snapshots_within_the_retention_stay_reachable_by_time_travel(tmp_path):
    settings, first = _lake_with_history(tmp_path / "data")
    con = connect(settings)
    report = maintain_lake(con, settings, MaintenanceParams(retention_days=7))
    assert report.expired_snapshots == 0
    assert con.execute(f"SELECT count(*) FROM bronze.t AT (VERSION => {first})").fetchone()[0] == 100
    assert con.execute("SELECT count(*) FROM bronze.t").fetchone()[0] == 100 + sum(i * 10 + 1 for i in range(5))
    con.close()


def test_cli_prints_files_and_bytes_before_and_after_and_time_travel_works(tmp_path, monkeypatch, capsys):
    settings, first = _lake_with_history(tmp_path / "data")
    monkeypatch.setenv("ACCIDENTS_DATA_DIR", str(settings.data_dir))
    assert main(["sql", f"SELECT count(*) AS n FROM bronze.t AT (VERSION => {first})"]) == 0
    assert "100" in capsys.readouterr().out
    assert main(["sql", "SELECT snapshot_id FROM lake.snapshots() ORDER BY 1"]) == 0
    assert str(first) in capsys.readouterr().out

    on_disk = sum(p.stat().st_size for p in (tmp_path / "data" / "lake" / "files").rglob("*.parquet"))
    assert main(["lake", "maintain", "--retention-days", "0"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"before: 6 files, {on_disk:,} bytes" and out[-1].startswith("after:  1 files, ")
    assert "expired" in out[1] and "merged 6 small files" in out[1]


def test_negative_retention_is_a_one_line_error():
    with pytest.raises(AccidentsError, match=r"^retention_days=-1: expected >= 0$"):
        MaintenanceParams(retention_days=-1)


def test_a_moved_data_folder_opens_with_its_history(tmp_path):
    settings, first = _lake_with_history(tmp_path / "here" / "data")
    shutil.move(tmp_path / "here", tmp_path / "elsewhere")
    moved = Settings(data_dir=tmp_path / "elsewhere" / "data")
    con = connect(moved, read_only=True)
    assert con.execute("SELECT count(*) FROM bronze.t").fetchone()[0] == 205
    assert con.execute(f"SELECT count(*) FROM bronze.t AT (VERSION => {first})").fetchone()[0] == 100
    con.close()
    con = connect(moved)  # and takes new writes under the new location
    con.execute("INSERT INTO bronze.t VALUES (1)")
    con.close()
    assert not (tmp_path / "here").exists()
    assert len(list((tmp_path / "elsewhere" / "data" / "lake" / "files").rglob("*.parquet"))) == 7


def test_an_explicit_data_path_that_moved_needs_the_override(tmp_path):
    files = tmp_path / "files"
    settings = Settings(data_dir=tmp_path / "data", data_path=str(files))
    con = connect(settings)
    con.execute("CREATE TABLE bronze.t AS SELECT 1 AS x")
    con.close()
    shutil.move(files, tmp_path / "restored")
    restored = settings.with_(data_path=str(tmp_path / "restored"))
    with pytest.raises(AccidentsError, match="set ACCIDENTS_OVERRIDE_DATA_PATH=true"):
        connect(restored)
    con = connect(restored.with_(override_data_path=True), read_only=True)
    assert con.execute("SELECT x FROM bronze.t").fetchall() == [(1,)]
    con.close()
