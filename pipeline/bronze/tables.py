"""The bronze tables: their columns, DDL and migrations, the (département, year) key every one of them
carries, and their comments (where the data comes from)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipeline.core.lake import LAKE_ALIAS

if TYPE_CHECKING:
    import duckdb

KINDS = ("caracteristiques", "lieux", "vehicules", "usagers")
RAW_COLUMNS = {
    "caracteristiques": ["accident_id", "jour", "mois", "an", "hrmn", "lum", "dep", "com", "agg",
                         "int", "atm", "col", "adr", "lat", "long"],
    "lieux": ["accident_id", "catr", "voie", "v1", "v2", "circ", "nbv", "vosp", "prof", "pr", "pr1",
              "plan", "lartpc", "larrout", "surf", "infra", "situ", "vma"],
    "vehicules": ["accident_id", "id_vehicule", "num_veh", "senc", "catv", "obs", "obsm", "choc",
                  "manv", "motor", "occutc"],
    "usagers": ["accident_id", "id_usager", "id_vehicule", "num_veh", "place", "catu", "grav", "sexe",
                "an_nais", "trajet", "secu1", "secu2", "secu3", "locp", "actp", "etatp"],
}
ACCIDENTS_DDL = """
CREATE TABLE IF NOT EXISTS bronze.accidents (
    accident_id VARCHAR, event_time TIMESTAMP, lat DOUBLE, lon DOUBLE,
    atm INTEGER, lum INTEGER, agg INTEGER, "int" INTEGER, col INTEGER,
    com VARCHAR, dep VARCHAR, adr VARCHAR, year INTEGER,
    catr INTEGER, vma INTEGER, plan INTEGER, prof INTEGER, surf INTEGER, source_file VARCHAR)
"""
REJECTED_DDL = """
CREATE TABLE IF NOT EXISTS bronze.rejected_rows (
    source_file VARCHAR, year INTEGER, line_number INTEGER, raw_text VARCHAR, reason VARCHAR,
    raw_length INTEGER, dep VARCHAR)
"""
# Lakes created before raw_length existed gain the column (NULL for their old rows).
REJECTED_MIGRATION = "ALTER TABLE bronze.rejected_rows ADD COLUMN IF NOT EXISTS raw_length INTEGER"
LOG_DDL = """
CREATE TABLE IF NOT EXISTS bronze.ingest_log (
    source_file VARCHAR, year INTEGER, kind VARCHAR, encoding VARCHAR, source VARCHAR,
    rows_read INTEGER, rows_kept INTEGER, rows_rejected INTEGER, rows_other_department INTEGER,
    ingested_at TIMESTAMP, dep VARCHAR, sha256 VARCHAR, size_bytes BIGINT, notes VARCHAR)
"""
# Lakes from before the source files' checksums and notes gain the columns (NULL for their old rows).
LOG_MIGRATIONS = tuple(f"ALTER TABLE bronze.ingest_log ADD COLUMN IF NOT EXISTS {c}"
                       for c in ("sha256 VARCHAR", "size_bytes BIGINT", "notes VARCHAR"))
# Every bronze table is keyed by (dep, year): an ingest replaces its départements' years only. Rows
# of a département's ingest carry its code (a line whose département cannot be read is recorded under
# each département whose ingest read it). Lakes from before the key gain the column (see fill_dep).
DEP_KEYED = ("accidents", "rejected_rows", "ingest_log", *(f"raw_{k}" for k in KINDS))


def raw_ddl(kind: str) -> str:
    columns = ", ".join(f'"{c}" VARCHAR' for c in RAW_COLUMNS[kind])
    return (f"CREATE TABLE IF NOT EXISTS bronze.raw_{kind} ({columns}, extra_json VARCHAR, "
            f"source_file VARCHAR, year INTEGER, line_number INTEGER{_dep_column(kind)})")


def _dep_column(kind: str) -> str:
    """raw_caracteristiques has the file's own dep column; the other raw tables gain one."""
    return "" if "dep" in RAW_COLUMNS[kind] else ", dep VARCHAR"


def dep_key(table: str) -> str:
    """The département of a row: the raw caracteristiques column holds the text as read."""
    return "upper(trim(dep))" if table == "raw_caracteristiques" else "dep"


def dep_migrations() -> list[str]:
    return [f"ALTER TABLE bronze.{t} ADD COLUMN IF NOT EXISTS dep VARCHAR" for t in DEP_KEYED
            if t not in ("accidents", "raw_caracteristiques")]


def fill_dep(con: duckdb.DuckDBPyConnection) -> None:
    """Rows written before the (dep, year) key have no dep: such a lake held one set of départements
    (the old rule), so when that set is one département its rows take its code."""
    held = [r[0] for r in con.execute("SELECT DISTINCT dep FROM bronze.accidents").fetchall()]
    if len(held) != 1:
        return
    for table in DEP_KEYED[1:]:
        if table == "raw_caracteristiques":
            continue
        if con.execute(f"SELECT count(*) FROM bronze.{table} WHERE dep IS NULL").fetchone()[0]:
            con.execute(f"UPDATE bronze.{table} SET dep = ? WHERE dep IS NULL", [held[0]])


def label_tables(con: duckdb.DuckDBPyConnection, source: str) -> None:
    """Table comments say where the data comes from; demo data is labelled synthetic. Only changed
    comments are written, so concurrent ingests of one source do not alter the same tables."""
    text = ("SYNTHETIC demo data generated offline (not real accidents)" if source == "demo"
            else f"BAAC road-accident files, source: {source}")
    tables = ("accidents", "rejected_rows", *(f"raw_{k}" for k in KINDS))
    current = dict(con.execute(
        "SELECT table_name, comment FROM duckdb_tables() WHERE database_name = ? AND schema_name = 'bronze'",
        [LAKE_ALIAS]).fetchall())
    for table in tables:
        if current.get(table) != text:
            con.execute(f"COMMENT ON TABLE bronze.{table} IS '{text.replace(chr(39), chr(39) * 2)}'")
