"""`accidents sql` is read-only for real and its errors are one line."""

from __future__ import annotations

import pytest

from pipeline.cli import main
from tests.bronze.baac_files import accidents_for, write_year


@pytest.fixture
def small_lake(tmp_path, monkeypatch):
    monkeypatch.setenv("ACCIDENTS_DATA_DIR", str(tmp_path / "data"))
    write_year(tmp_path / "src", 2021, accidents_for(2021, 3))
    assert main(["ingest", "--source", str(tmp_path / "src"), "--years", "2021"]) == 0
    return tmp_path / "data"


def _state(data_dir):
    """The lake's data files and catalog snapshots, and every other file: any write changes it.
    (SQLite's own -wal/-shm working files change on reads too, so the catalog is read instead.)"""
    import sqlite3

    files = sorted((str(p), p.stat().st_size) for p in data_dir.rglob("*")
                   if p.is_file() and not p.name.endswith(("-wal", "-shm")) and p.suffix != ".sqlite")
    with sqlite3.connect(data_dir / "lake" / "catalog.sqlite") as db:
        snapshots = db.execute("SELECT count(*), max(snapshot_id) FROM ducklake_snapshot").fetchall()
    db.close()
    return files, snapshots


def test_select_prints_the_result(small_lake, capsys):
    capsys.readouterr()
    assert main(["sql", "SELECT count(*) AS n FROM bronze.accidents"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[:3] == ["n", "-", "3"]


NOT_SELECT = "only one SELECT-like statement is allowed"


@pytest.mark.parametrize("query, message", [
    ("ATTACH 'ducklake:sqlite:{catalog}' AS again (DATA_PATH '{files}')", NOT_SELECT),
    ("COPY (SELECT 1) TO '{files}/x.csv'", NOT_SELECT),
    ("EXPLAIN ANALYZE COPY (SELECT 1) TO '{files}/x.csv'", NOT_SELECT),
    ("DELETE FROM bronze.accidents", NOT_SELECT),
    ("CREATE TABLE bronze.x AS SELECT 1", NOT_SELECT),
    ("SET enable_external_access = true", NOT_SELECT),
    ("CALL ducklake_merge_adjacent_files('lake')", NOT_SELECT),
    ("SELECT 1; DROP TABLE bronze.accidents", "exactly one statement"),
    ("SELECT * FROM read_csv('{outside}')", "table function read_csv() is not allowed in `accidents sql` (reads files)"),
    ("SELECT content FROM read_text('{outside}')", "read_text() is not allowed"),
    ("SELECT * FROM '{outside}'", "is not a table of the lake"),
    ("SELECT * FROM sqlite_scan('{catalog}', 'ducklake_snapshot')", "sqlite_scan() is not allowed in `accidents sql` "
                                                                     "(reads or writes another database)"),
    ("SELECT * FROM ducklake_merge_adjacent_files('lake')", "(changes the lake (maintenance))"),
    ("SELECT * FROM __ducklake_metadata_lake.ducklake_snapshot", "is not a table of the lake"),
    ("SELECT * FROM query('SELECT 1')", "query() is not allowed"),
    ("SELECT current_setting('allowed_directories')", "current_setting() is not allowed"),
    ("SELECT x FROM (SELECT 1 AS x) WHERE x IN (SELECT * FROM glob('/*'))", "glob() is not allowed"),
    ("SELECT CAST(adr AS INTEGER) FROM bronze.accidents", "Conversion Error"),
    ("SHOW DATABASES", "only SHOW TABLES, DESCRIBE and SUMMARIZE are allowed"),
    ("SHOW ALL TABLES", "only SHOW TABLES, DESCRIBE and SUMMARIZE are allowed"),
    ("SELEC 1", "syntax error"),
    ("SELECT * FROM bronze.nope", "Table with name nope does not exist"),
])
def test_writes_and_files_are_refused_with_one_line(small_lake, tmp_path, capsys, query, message):
    outside = tmp_path / "outside.csv"
    outside.write_text("a\n1\n")
    query = query.format(catalog=small_lake / "lake" / "catalog.sqlite", files=small_lake / "lake" / "files",
                         outside=outside)
    before = _state(small_lake)
    capsys.readouterr()
    assert main(["sql", query]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: SQL") and message in err, err
    assert _state(small_lake) == before
    assert main(["sql", "SELECT count(*) FROM bronze.accidents"]) == 0


def test_merge_from_sql_leaves_no_file(small_lake, capsys):
    """Issue 21: the maintenance table function left 12 new Parquet files behind; now it never runs."""
    before = _state(small_lake)
    assert main(["sql", "SELECT * FROM ducklake_merge_adjacent_files('lake')"]) == 2
    assert _state(small_lake) == before


def test_runaway_query_stops_at_its_timeout(small_lake, capsys):
    import time

    started = time.monotonic()
    assert main(["sql", "--timeout", "2", "SELECT sum(range) FROM range(1000000000000)"]) == 2
    assert time.monotonic() - started < 15
    err = capsys.readouterr().err.strip()
    assert err == "error: SQL: the query ran longer than its time limit of 2 s and was stopped (raise it with --timeout)"


def test_memory_limit_refuses_a_greedy_query(small_lake, capsys):
    assert main(["sql", "--memory-limit", "64MB", "SELECT list(range) FROM range(100000000)"]) == 2
    assert "needs more memory than its limit (--memory-limit)" in capsys.readouterr().err


@pytest.mark.parametrize("fmt, expected", [
    ("csv", 'n,s\n3,"a,b"'),
    ("json", '[\n {\n  "n": 3,\n  "s": "a,b"\n }\n]'),
    ("markdown", "| n | s |\n|---|---|\n| 3 | a,b |"),
])
def test_query_from_a_file_or_stdin_in_each_format(small_lake, tmp_path, capsys, monkeypatch, fmt, expected):
    import io

    query = "SELECT count(*) AS n, 'a,b' AS s FROM bronze.accidents"
    (tmp_path / "q.sql").write_text(query)
    capsys.readouterr()
    assert main(["sql", "--file", str(tmp_path / "q.sql"), "--format", fmt]) == 0
    assert capsys.readouterr().out.rstrip("\n") == expected
    monkeypatch.setattr("sys.stdin", io.StringIO(query))
    assert main(["sql", "-f", "-", "--format", fmt]) == 0
    assert capsys.readouterr().out.rstrip("\n") == expected


def test_time_travel_and_catalog_views_are_allowed(small_lake, capsys):
    capsys.readouterr()
    assert main(["sql", "--format", "csv", "SELECT count(*) > 0 AS ok FROM ducklake_snapshots('lake')"]) == 0
    assert capsys.readouterr().out.split() == ["ok", "True"]
    assert main(["sql", "--format", "csv", "WITH t AS (SELECT table_name FROM information_schema.tables "
                                           "WHERE table_schema = 'bronze') SELECT count(*) > 3 AS ok FROM t"]) == 0
    assert capsys.readouterr().out.split() == ["ok", "True"]


def test_show_tables_describe_and_summarize_are_allowed(small_lake, capsys):
    for query in ("SHOW TABLES", "DESCRIBE bronze.accidents", "SUMMARIZE bronze.accidents", "DESCRIBE SELECT 1 AS x"):
        capsys.readouterr()
        assert main(["sql", "--format", "csv", query]) == 0, capsys.readouterr().err
        assert capsys.readouterr().out.strip(), query
