"""The DuckLake lake (bronze/silver/gold on DuckDB), one small module per job:

- `attach`: the SQL that opens the lake (extensions, S3 secret, ATTACH) and DSN/secret redaction;
- `failures`: the lake's errors, and S3 / PostgreSQL failures as one-line messages naming the server;
- `retries`: retrying what a concurrent writer got in the way of;
- `lock`: the write lock file of an embedded (SQLite, DuckDB-file) catalog;
- `connection`: connect, the connection's département, the catalog's tables and snapshots;
- `writes`: transactions (`committed`), one-scan blocks, per-département table writes;
- `readonly`: the locked-down connection behind `accidents sql`, `sql_allow` its allow-list;
- `integrity`: checksums of the data files (record, verify, check on open);
- `diagnosis`: a failed operation told on one line (damaged file, failing server, full disk);

Everyone imports from here (`from pipeline.core.lake import connect, committed`).
"""

from pipeline.core.lake.attach import (
    LAKE_ALIAS,
    SCHEMAS,
    attach_statements,
    catalog_path,
    ducklake_uri,
    redact_dsn,
    required_extensions,
    s3_endpoint_url,
    scrub,
    without_password,
)
from pipeline.core.lake.connection import (
    DEP,
    connect,
    current_snapshot,
    department_of,
    install_extensions,
    lake_connection,
    list_tables,
    table_exists,
    use_department,
)
from pipeline.core.lake.diagnosis import storage_error
from pipeline.core.lake.failures import CommitConflict, CommitFailed, LakeBusy, StorageFailed, server_error
from pipeline.core.lake.integrity import LakeFileDamaged
from pipeline.core.lake.lock import WRITE_LOCK_TIMEOUT_S, write_lock
from pipeline.core.lake.retries import with_retries
from pipeline.core.lake.writes import (
    committed,
    ensure_tables,
    one_pass,
    replace_department_table,
    replace_table,
    scanned_once,
    write_department_rows,
)

__all__ = [
    "DEP", "LAKE_ALIAS", "SCHEMAS", "WRITE_LOCK_TIMEOUT_S", "CommitConflict", "CommitFailed", "LakeBusy", "LakeFileDamaged", "StorageFailed", "attach_statements",
    "catalog_path", "committed", "connect", "current_snapshot", "department_of", "ducklake_uri",
    "ensure_tables", "install_extensions", "lake_connection", "list_tables", "one_pass", "redact_dsn",
    "replace_department_table", "replace_table", "required_extensions", "s3_endpoint_url", "scanned_once",
    "scrub", "server_error", "storage_error", "table_exists", "use_department", "with_retries", "without_password",
    "write_department_rows", "write_lock",
]
