"""Every data file the lake writes is checksummed: a set of damaged files (bytes flipped in a data page
or the footer, truncation, deletion, a file swapped with another table's) is detected by `lake
verify` (100 %), met by every command with one line naming the table and the file, never rewritten
by `maintain`, and bronze is repaired from the cached source files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.core.lake import connect
from pipeline.core.lake.integrity import live_files
from pipeline.core.settings import Settings
from tests.bronze.baac_files import accidents_for, write_year


@pytest.fixture
def lake_dir(tmp_path, monkeypatch):
    """A lake with two bronze years ingested from a folder, a derived silver table, checksums recorded."""
    monkeypatch.setenv("ACCIDENTS_DATA_DIR", str(tmp_path / "data"))
    for year in (2021, 2022):
        write_year(tmp_path / "src", year, accidents_for(year, 40))
    assert main(["ingest", "--source", str(tmp_path / "src"), "--years", "2021-2022"]) == 0
    con = connect(Settings.from_env())
    from pipeline.core.lake import replace_table

    replace_table(con, "silver.by_year", "SELECT year, count(*) AS n FROM bronze.accidents GROUP BY year")
    con.close()
    return tmp_path / "data"


def _files(table: str) -> list[Path]:
    con = connect(Settings.from_env(), read_only=True, check_files=False)
    try:
        return [Path(f.path) for f in live_files(con) if f.table == table and f.kind == "data"]
    finally:
        con.close()


def _flip_data_page(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[60:80] = bytes(b ^ 0x5A for b in data[60:80])  # inside the first column chunk's pages
    path.write_bytes(data)


def _flip_footer(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-40:-20] = b"\x00" * 20
    path.write_bytes(data)


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _delete(path: Path) -> None:
    path.unlink()


def _swap_with_another_tables(path: Path) -> None:
    other = _files("bronze.ingest_log")[0]
    shutil.copyfile(other, path)


DAMAGE = {"bytes flipped in a data page": _flip_data_page, "footer damaged": _flip_footer,
          "truncated": _truncate, "deleted": _delete, "swapped with another table's file": _swap_with_another_tables}


def _one_line_error(capsys, argv: list[str], code: int = 2) -> str:
    capsys.readouterr()
    assert main(argv) == code, argv
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: "), err
    return err


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_each_damage_is_detected_and_every_command_names_the_file(lake_dir, capsys, damage):
    target = sorted(_files("bronze.accidents"))[0]
    DAMAGE[damage](target)

    files_before = sorted(p.name for p in target.parent.iterdir())
    capsys.readouterr()
    assert main(["lake", "verify"]) == 1
    out = capsys.readouterr().out
    assert f"DAMAGED bronze.accidents file {target} (snapshot 11, year 2021): " in out, out
    for argv in (["sql", "SELECT sum(lat) FROM bronze.accidents"], ["tables"], ["lake", "maintain"],
                 ["ingest", "--source", str(lake_dir.parent / "src"), "--years", "2021"]):
        err = _one_line_error(capsys, argv)
        assert "bronze.accidents" in err and str(target) in err, (argv, err)
    assert sorted(p.name for p in target.parent.iterdir()) == files_before  # nothing merged, rewritten or deleted


def test_maintain_rewrites_no_damaged_file(lake_dir, capsys):
    [target] = _files("bronze.accidents")[:1]
    _flip_data_page(target)
    folder = target.parent
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    err = _one_line_error(capsys, ["lake", "maintain", "--retention-days", "0", "--orphan-grace-minutes", "0"])
    assert err.startswith("error: lake maintain refused to rewrite a damaged file: bronze.accidents file")
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_repair_rebuilds_bronze_from_the_cached_sources_and_marks_derived_tables_stale(lake_dir, capsys):
    con = connect(Settings.from_env(), read_only=True)
    expected = con.execute("SELECT * FROM bronze.accidents ORDER BY accident_id").fetchall()
    con.close()
    _flip_data_page(_files("bronze.accidents")[0])
    _delete(_files("bronze.raw_lieux")[0])

    capsys.readouterr()
    assert main(["lake", "repair"]) == 0
    out = capsys.readouterr().out
    assert "rebuilt bronze.accidents, bronze.raw_lieux from the cached source files (988/2021, 988/2022)" in out
    assert "marked stale (built from the old bronze): silver.by_year" in out
    assert main(["lake", "verify"]) == 0
    con = connect(Settings.from_env(), read_only=True)
    assert con.execute("SELECT * FROM bronze.accidents ORDER BY accident_id").fetchall() == expected
    assert con.execute("SELECT count(*) FROM bronze.raw_lieux").fetchone()[0] == 80
    [(comment,)] = con.execute("SELECT comment FROM duckdb_tables() WHERE table_name = 'by_year'").fetchall()
    assert comment.startswith("STALE: built from bronze before its repair")
    con.close()


def test_repair_refuses_a_changed_source_file_and_changes_nothing(lake_dir, capsys):
    _flip_data_page(_files("bronze.accidents")[0])
    source = lake_dir.parent / "src" / "lieux-2022.csv"
    source.write_bytes(source.read_bytes() + b"\n")
    err = _one_line_error(capsys, ["lake", "repair"])
    assert err == (f"error: cannot repair bronze year 2022: the cached {source} has changed since it was ingested "
                   "(SHA-256 differs from bronze.ingest_log)")
    assert main(["lake", "verify"]) == 1


def test_a_damaged_derived_table_is_dropped_with_the_command_that_rebuilds_it(lake_dir, capsys):
    _truncate(_files("silver.by_year")[0])
    capsys.readouterr()
    assert main(["lake", "repair"]) == 0
    assert "dropped silver.by_year (damaged, derived): rebuild it with `accidents features`" in capsys.readouterr().out
    assert main(["lake", "verify"]) == 0


def test_files_written_outside_a_transaction_are_recorded_at_the_next_writable_open(lake_dir):
    con = connect(Settings.from_env())
    con.execute("CREATE TABLE gold.t AS SELECT range AS x FROM range(100)")  # autocommit: no `committed`
    con.close()
    connect(Settings.from_env()).close()
    con = connect(Settings.from_env(), read_only=True)
    from pipeline.usecases.lake_integrity import verify_lake

    report = verify_lake(con)
    con.close()
    assert report.ok and not report.unrecorded


def test_verify_tells_rows_inlined_in_the_catalog(lake_dir, capsys):
    """DuckLake inlines small inserts in the catalog when allowed (a lake written by another client):
    no file to checksum, and verify says so rather than claiming them checked."""
    con = connect(Settings.from_env())
    con.execute("CALL lake.set_option('data_inlining_row_limit', 10)")
    con.execute("CREATE TABLE gold.tiny (x INTEGER)")
    con.execute("INSERT INTO gold.tiny VALUES (1), (2)")
    con.close()
    capsys.readouterr()
    assert main(["lake", "verify"]) == 0
    assert "1 table(s) hold rows inlined in the catalog database" in capsys.readouterr().out
