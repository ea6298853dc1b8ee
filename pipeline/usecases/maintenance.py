"""Lake upkeep with DuckLake's own functions: merge small files, expire old snapshots, delete the
files nothing references any more (superseded ones and orphans left by killed writers), and mark
MLflow runs whose process died as FAILED. Used by `accidents lake maintain` and the weekly Dagster job.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pipeline.core.lake import LAKE_ALIAS, with_retries
from pipeline.core.lake.integrity import damaged_error, forget_removed, record_checksums, verify_files
from pipeline.core.settings import Settings
from pipeline.gold.run_owner import fail_dead_runs
from pipeline.usecases.params import MaintenanceParams

if TYPE_CHECKING:
    import duckdb


@dataclass(frozen=True)
class StorageUsage:
    files: int
    bytes: int

    def __str__(self) -> str:
        return f"{self.files} files, {self.bytes:,} bytes"


@dataclass(frozen=True)
class MaintenanceReport:
    before: StorageUsage
    after: StorageUsage
    merged_files: int  # small files rewritten into larger ones
    expired_snapshots: int
    snapshots_left: int
    deleted_files: int  # superseded files no kept snapshot references
    orphaned_files: int  # files the catalog never recorded (a writer killed before its commit)
    failed_runs: int  # MLflow runs left RUNNING, now FAILED

    def lines(self) -> list[str]:
        return [
            f"before: {self.before}",
            f"merged {self.merged_files} small files; expired {self.expired_snapshots} snapshots "
            f"({self.snapshots_left} kept); deleted {self.deleted_files} superseded and "
            f"{self.orphaned_files} orphaned files; marked {self.failed_runs} stale MLflow runs FAILED",
            f"after:  {self.after}",
        ]


def storage_usage(con: duckdb.DuckDBPyConnection, settings: Settings) -> StorageUsage:
    """Every object under the data path, tracked or not (what the storage bill counts)."""
    pattern = settings.resolved_data_path + "**"
    files, size = with_retries(
        lambda: con.execute("SELECT count(*), coalesce(sum(size), 0) FROM read_blob(?)", [pattern]).fetchone())
    return StorageUsage(int(files), int(size))


def _count(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[tuple]:
    return with_retries(lambda: con.execute(sql, params or []).fetchall())


def maintain_lake(con: duckdb.DuckDBPyConnection, settings: Settings,
                  params: MaintenanceParams = MaintenanceParams(), *,
                  now: dt.datetime | None = None) -> MaintenanceReport:
    """Compact, expire, clean up, in that order, so that files merged away or expired now are deleted
    in the same pass. The current snapshot is never expired, so readers always see the latest data."""
    now = now or dt.datetime.now(dt.UTC)
    # Merging and rewriting read every small file and delete it: a damaged one would be made permanent.
    damaged = verify_files(con)[0]
    if damaged:
        raise damaged_error(damaged, "lake maintain refused to rewrite a damaged file")
    before = storage_usage(con, settings)
    merged = _count(con, f"CALL ducklake_merge_adjacent_files('{LAKE_ALIAS}')")
    expired = _count(con, f"CALL ducklake_expire_snapshots('{LAKE_ALIAS}', older_than => ?::TIMESTAMPTZ)",
                     [now - dt.timedelta(days=params.retention_days)])
    # Superseded files are scheduled for deletion only once no kept snapshot references them.
    deleted = _count(con, f"CALL ducklake_cleanup_old_files('{LAKE_ALIAS}', cleanup_all => true)")
    orphans = _count(con, f"CALL ducklake_delete_orphaned_files('{LAKE_ALIAS}', older_than => ?::TIMESTAMPTZ)",
                     [now - dt.timedelta(minutes=params.orphan_grace_minutes)])
    with_retries(lambda: record_checksums(con))  # the merged files
    with_retries(lambda: forget_removed(con))  # the deleted ones
    left = _count(con, f"SELECT count(*) FROM ducklake_snapshots('{LAKE_ALIAS}')")[0][0]
    failed = fail_dead_runs(settings.resolved_mlflow_uri, older_than=now - dt.timedelta(
        hours=params.stale_run_hours))
    return MaintenanceReport(
        before=before, after=storage_usage(con, settings),
        merged_files=sum(int(row[2]) for row in merged), expired_snapshots=len(expired), snapshots_left=int(left),
        deleted_files=len(deleted), orphaned_files=len(orphans), failed_runs=failed,
    )
