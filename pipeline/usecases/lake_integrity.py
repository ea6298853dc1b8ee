"""Scrub and repair the lake's data files: `accidents lake verify`, `accidents lake repair` and the
weekly maintenance job.

What can be repaired: a bronze table's files, rebuilt from the cached BAAC source files (the demo
folder, the data.gouv.fr cache or the ingested folder), which must still hash to the SHA-256 that
`bronze.ingest_log` recorded when they were ingested; every (département, year) slice of the log is
re-ingested into the damaged tables, which are rebuilt in the same transaction. The silver and gold
tables built from bronze are then marked stale (their comment says so until a stage rebuilds them).
What cannot: a file of silver or gold (derived: `lake repair` drops the damaged table and names the
command that rebuilds it), bronze when `bronze.ingest_log` itself is damaged, a source file that is
no longer cached or has changed, and a lake ingested before source checksums were recorded.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pipeline.bronze.ingest import ingest_years
from pipeline.core.errors import AccidentsError
from pipeline.core.lake import LAKE_ALIAS, committed
from pipeline.core.lake.integrity import forget_removed, inlined_row_tables, record_checksums, verify_files
from pipeline.core.lake.writes import STALE_PREFIX
from pipeline.core.settings import Settings
from pipeline.sources.http import file_sha256
from pipeline.sources.select import source_of_lake

if TYPE_CHECKING:
    import duckdb

    from pipeline.core.lake.integrity import Damage, LakeFile

# The stage that rebuilds each derived schema's tables.
REBUILT_BY = {"silver": "accidents features", "gold": "accidents train, then accidents predict"}


@dataclass
class VerifyReport:
    checked: int
    damaged: list[Damage]
    unrecorded: list[LakeFile]
    seconds: float
    inlined_tables: int = 0

    @property
    def ok(self) -> bool:
        return not self.damaged

    def lines(self) -> list[str]:
        out = [f"checked {self.checked} data files in {self.seconds:.1f} s: "
               + ("all sound" if self.ok else f"{len(self.damaged)} damaged or missing")]
        out += [f"DAMAGED {d.line()}" for d in self.damaged]
        if self.unrecorded:
            out.append(f"{len(self.unrecorded)} file(s) have no recorded checksum (written before checksums "
                       "existed): their size was checked, they are recorded at the next write")
        if self.inlined_tables:
            out.append(f"{self.inlined_tables} table(s) hold rows inlined in the catalog database (no file to "
                       "checksum: the catalog's own storage protects them)")
        if not self.ok:
            out.append("repair: `accidents lake repair` (bronze from the cached source files; silver and gold "
                       "are rebuilt by their stage)")
        return out


def verify_lake(con: duckdb.DuckDBPyConnection) -> VerifyReport:
    """Every live data and delete file, sized and hashed against its recorded checksum."""
    started = time.perf_counter()
    damaged, unrecorded, checked = verify_files(con)
    return VerifyReport(checked, damaged, unrecorded, time.perf_counter() - started, inlined_row_tables(con))


@dataclass
class RepairReport:
    rebuilt: list[str] = field(default_factory=list)  # bronze tables rebuilt from the sources
    slices: list[tuple[str, int]] = field(default_factory=list)  # (dep, year) re-ingested
    dropped: list[str] = field(default_factory=list)  # derived tables dropped, to be rebuilt by their stage
    stale: list[str] = field(default_factory=list)  # derived tables marked stale

    def lines(self) -> list[str]:
        if not (self.rebuilt or self.dropped):
            return ["nothing to repair: every data file matches its checksum"]
        out = []
        if self.rebuilt:
            years = ", ".join(f"{dep}/{year}" for dep, year in self.slices)
            out.append(f"rebuilt {', '.join(self.rebuilt)} from the cached source files ({years})")
        for table in self.dropped:
            out.append(f"dropped {table} (damaged, derived): rebuild it with `{REBUILT_BY[table.split('.')[0]]}`")
        if self.stale:
            out.append(f"marked stale (built from the old bronze): {', '.join(self.stale)}; rebuild with "
                       "`accidents features`, `accidents train`, `accidents predict`")
        return out


def _sources_for_repair(con: duckdb.DuckDBPyConnection, settings: Settings):
    """(source label, {year: {kind: path}}, départements, (dep, year) slices) from bronze.ingest_log,
    every cached file checked against the SHA-256 recorded when it was ingested."""
    log = con.execute("SELECT DISTINCT source, dep, year, kind, source_file, sha256 FROM bronze.ingest_log "
                      "ORDER BY year, dep, kind").fetchall()
    labels = {row[0] for row in log}
    if not log:
        raise AccidentsError("cannot repair bronze: bronze.ingest_log is empty (nothing says which files were "
                             "ingested)")
    source = source_of_lake(labels, settings)
    if source is None:
        raise AccidentsError(f"cannot repair bronze: its files came from {', '.join(sorted(labels))}, which cannot "
                             "be reopened here (one demo folder, the data.gouv.fr cache or an existing folder)")
    years = sorted({row[2] for row in log})
    files = source.files_for_years(years)
    for _, dep, year, kind, name, sha256 in log:
        path = files.get(year, {}).get(kind)
        if path is None or not path.is_file():
            raise AccidentsError(f"cannot repair bronze year {year}: the source file {name} is no longer cached "
                                 f"({source.label})")
        if sha256 is None:
            raise AccidentsError(f"cannot repair bronze year {year}: {name} was ingested before source checksums "
                                 "were recorded, so the cached file cannot be proven the same; re-ingest with "
                                 f"`accidents ingest --force --years {year}`")
        if file_sha256(path) != sha256:
            raise AccidentsError(f"cannot repair bronze year {year}: the cached {path} has changed since it was "
                                 "ingested (SHA-256 differs from bronze.ingest_log)")
    deps = tuple(sorted({row[1] for row in log}))
    slices = sorted({(row[1], row[2]) for row in log})
    return source.label, files, deps, slices


def repair_lake(con: duckdb.DuckDBPyConnection, settings: Settings) -> RepairReport:
    """Rebuild damaged bronze tables from the cached sources, drop damaged derived tables, mark the
    derived tables stale. Refuses (one line) what cannot be repaired, before changing anything."""
    damaged, _, _ = verify_files(con)
    tables = sorted({d.file.table for d in damaged})
    bronze = [t for t in tables if t.startswith("bronze.")]
    derived = [t for t in tables if t.split(".")[0] in REBUILT_BY]
    report = RepairReport()
    if not tables:
        return report
    if "bronze.ingest_log" in bronze:
        raise AccidentsError("cannot repair bronze: bronze.ingest_log itself is damaged, so which files were "
                             "ingested is unknown; re-ingest every year with `accidents ingest --force`")
    if bronze:
        label, files, deps, slices = _sources_for_repair(con, settings)
        ingest_years(con, files, departments=deps, source=label, force=True, rebuild=tuple(bronze))
        report.rebuilt, report.slices = bronze, slices
    if derived:
        committed(con, lambda: [con.execute(f"DROP TABLE IF EXISTS {table}") for table in derived])
        report.dropped = derived
    if bronze:
        report.stale = mark_stale(con, f"{STALE_PREFIX}: built from bronze before its repair on "
                                       f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; rebuild it")
    forget_removed(con)
    record_checksums(con)
    return report


def mark_stale(con: duckdb.DuckDBPyConnection, comment: str) -> list[str]:
    """Comment every silver and gold table as stale (cleared when a stage writes the table again)."""
    tables = [f"{s}.{t}" for s, t in con.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = ? AND schema_name IN "
        "('silver', 'gold') ORDER BY 1, 2", [LAKE_ALIAS]).fetchall()]
    if tables:
        quoted = comment.replace("'", "''")
        committed(con, lambda: [con.execute(f"COMMENT ON TABLE {table} IS '{quoted}'") for table in tables])
    return tables
