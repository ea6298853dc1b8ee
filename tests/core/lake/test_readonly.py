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
    assert "│   n   │" in out and "│     3 │" in out


@pytest.mark.parametrize("query, message", [
    ("ATTACH 'ducklake:sqlite:{catalog}' AS again (DATA_PATH '{files}')", "ATTACH statements are not allowed"),
    ("COPY (SELECT 1) TO '{files}/x.csv'", "COPY statements are not allowed"),
    ("EXPLAIN ANALYZE COPY (SELECT 1) TO '{files}/x.csv'", "EXPLAIN statements are not allowed"),
    ("DELETE FROM bronze.accidents", "DELETE statements are not allowed"),
    ("CREATE TABLE bronze.x AS SELECT 1", "CREATE statements are not allowed"),
    ("SET enable_external_access = true", "SET statements are not allowed"),
    ("SELECT 1; DROP TABLE bronze.accidents", "exactly one statement"),
    ("SELECT * FROM read_csv('{outside}')", "file system operations are disabled"),
    ("SELECT content FROM read_text('{outside}')", "file system operations are disabled"),
    ("SELECT CAST(adr AS INTEGER) FROM bronze.accidents", "Conversion Error"),
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
