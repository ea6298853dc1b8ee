"""Structure before rows: each class of damaged file a user can meet either ingests correctly or is
refused by name, and a refused year keeps its previous snapshot."""

from __future__ import annotations

import gzip

import pytest

from pipeline.bronze.parse import MAX_LINE_CHARS, MAX_REJECTED_TEXT
from pipeline.bronze.ingest import IngestRefused, ingest_years
from tests.bronze.baac_files import accidents_for, write_year


def rows(con, sql):
    return con.execute(sql).fetchall()


def count_year(con, year):
    return rows(con, f"SELECT count(*) FROM bronze.accidents WHERE year = {year}")[0][0]


@pytest.fixture
def held(lake, tmp_path):
    """A lake holding 10 accidents of 2024, as a previous ingest left it."""
    ingest_years(lake, {2024: write_year(tmp_path / "before", 2024, accidents_for(2024, 10))})
    return lake


def rewrite(path, transform):
    path.write_bytes(transform(path.read_bytes()))


# --- encodings and line endings that ingest to the same accidents ------------------------------

@pytest.mark.parametrize("name, transform", [
    ("utf-16 with BOM", lambda b: b.decode("utf-8").encode("utf-16")),
    ("CR-only line endings", lambda b: b.replace(b"\n", b"\r")),
    ("stray CR in the header", lambda b: b.replace(b'"dep";', b'"dep"\r;', 1)),
    ("stray CR in a data line", lambda b: b.replace(b'"98818";', b'"98818"\r;', 1)),
])
def test_readable_variants_ingest_every_accident(lake, tmp_path, name, transform):
    files = write_year(tmp_path, 2024, accidents_for(2024, 6))
    for path in files.values():
        rewrite(path, transform)
    summary = ingest_years(lake, {2024: files})
    assert (summary.accidents, summary.rejected) == (6, 0), name
    assert all(f.balanced and f.rows_read == 6 for f in summary.files)


# --- files refused whole: the year keeps its previous snapshot --------------------------------

def _header_edit(old: bytes, new: bytes):
    return lambda b: b.replace(old, new, 1)


REFUSED = [
    ("gzip named .csv", "caracteristiques", gzip.compress, "gzip-compressed data"),
    ("utf-16 without BOM", "caracteristiques", lambda b: b.decode().encode("utf-16-le"),
     "without a byte-order mark"),
    ("very long header", "caracteristiques", lambda b: b.replace(b"\n", b';"' + b"x" * 5000 + b'"\n', 1),
     "header line is 5"),
    ("missing dep column", "caracteristiques", _header_edit(b'"dep";', b""), "required column 'dep' is missing"),
    ("renamed dep column", "caracteristiques", _header_edit(b'"dep";', b'"departement";'),
     "required column 'dep' is missing"),
    ("duplicated dep column", "caracteristiques", _header_edit(b'"com";', b'"dep";'),
     "column 'dep' appears more than once"),
    ("unbalanced quote in the header", "caracteristiques", _header_edit(b'"dep";', b'"dep;'),
     "cannot parse the header|is missing"),
    ("missing vma-era lieux column", "lieux", _header_edit(b'"surf";', b'"surface";'),
     "required column 'surf' is missing"),
    ("no separator", "usagers", lambda b: b.replace(b";", b"|"), "cannot find a column separator"),
]


@pytest.mark.parametrize("name, kind, transform, message", REFUSED, ids=[r[0] for r in REFUSED])
def test_refused_file_names_file_and_column_and_year_keeps_its_snapshot(held, tmp_path, name, kind,
                                                                        transform, message):
    before = sorted(rows(held, "SELECT * FROM bronze.accidents"))
    files = write_year(tmp_path / "new", 2024, accidents_for(2024, 12))
    rewrite(files[kind], transform)
    with pytest.raises(IngestRefused, match=message) as caught:
        ingest_years(held, {2024: files})
    assert files[kind].name in str(caught.value) and "\n" not in str(caught.value)
    assert sorted(rows(held, "SELECT * FROM bronze.accidents")) == before


def test_a_refused_year_does_not_stop_the_other_years(held, tmp_path):
    good = write_year(tmp_path / "2023", 2023, accidents_for(2023, 4))
    bad = write_year(tmp_path / "2024", 2024, accidents_for(2024, 12))
    rewrite(bad["caracteristiques"], gzip.compress)
    with pytest.raises(IngestRefused, match=r"year 2024 refused.*ingested: 2023") as caught:
        ingest_years(held, {2023: good, 2024: bad})
    assert caught.value.summary.accidents == 4
    assert (count_year(held, 2023), count_year(held, 2024)) == (4, 10)


def test_far_fewer_accidents_needs_force_and_says_how_many(held, tmp_path):
    few = write_year(tmp_path / "few", 2024, accidents_for(2024, 3))
    with pytest.raises(IngestRefused, match="would replace its 10 accidents with 3"):
        ingest_years(held, {2024: few})
    assert count_year(held, 2024) == 10
    # a file broken row by row (every caracteristiques line rejected) cannot empty the year either
    broken = write_year(tmp_path / "broken", 2024, accidents_for(2024, 10))
    rewrite(broken["caracteristiques"], lambda b: b.replace(b'"2024";"07:45"', b'"2023";"07:45"'))
    with pytest.raises(IngestRefused, match="with 0"):
        ingest_years(held, {2024: broken})
    assert count_year(held, 2024) == 10
    summary = ingest_years(held, {2024: few}, force=True)
    assert summary.accidents == 3 and count_year(held, 2024) == 3


# --- rows rejected with a reason naming the column --------------------------------------------

@pytest.mark.parametrize("bad, reason", [
    ("inf", "atm 'inf' is not an integer code"),
    ("1e10", "atm '1e10' is not an integer code"),
    ("99", "atm 99 is not in the official code list"),
    ("nan", None),  # a "not specified" spelling: kept with atm NULL
])
def test_bad_code_rejects_only_its_row(lake, tmp_path, bad, reason):
    accs = accidents_for(2024, 3)
    accs[1].atm = bad
    summary = ingest_years(lake, {2024: write_year(tmp_path, 2024, accs)})
    got = rows(lake, "SELECT line_number, reason FROM bronze.rejected_rows")
    if reason is None:
        assert got == [] and rows(lake, "SELECT count(*) FROM bronze.accidents WHERE atm IS NULL") == [(1,)]
    else:
        assert got == [(3, reason)] and summary.accidents == 2


def test_scientific_notation_id_is_rejected_not_kept(lake, tmp_path):
    accs = accidents_for(2024, 3)
    accs[0].acc_id = "2.02400000001E+11"
    ingest_years(lake, {2024: write_year(tmp_path, 2024, accs)})
    reasons = [r[0] for r in rows(lake, "SELECT reason FROM bronze.rejected_rows WHERE line_number = 2")]
    assert reasons[0] == "accident_id '2.02400000001E+11' is not 12 digits"
    assert rows(lake, "SELECT count(*) FROM bronze.accidents WHERE accident_id NOT SIMILAR TO '[0-9]{12}'") == [(0,)]


def test_one_file_given_for_two_years_stores_each_id_once(lake, tmp_path):
    files_2023 = write_year(tmp_path / "a", 2023, accidents_for(2023, 5))
    summary = ingest_years(lake, {2023: files_2023, 2024: files_2023})
    assert summary.accidents == 5
    assert rows(lake, "SELECT count(*), count(DISTINCT accident_id) FROM bronze.accidents") == [(5, 5)]
    reasons = rows(lake, "SELECT DISTINCT reason FROM bronze.rejected_rows WHERE year = 2024 "
                         "AND source_file LIKE 'caract%'")
    assert len(reasons) == 5 and all("does not start with the file's year 2024" in r[0] for r in reasons)


def test_huge_rejected_line_is_truncated_with_its_length(lake, tmp_path):
    files = write_year(tmp_path, 2024, accidents_for(2024, 3))
    huge = b'"202400000099";"' + b"z" * (MAX_LINE_CHARS * 5) + b'"\n'
    rewrite(files["usagers"], lambda b: b + huge)
    ingest_years(lake, {2024: files})
    ((text, length, reason),) = rows(lake, "SELECT raw_text, raw_length, reason FROM bronze.rejected_rows")
    assert len(text) == MAX_REJECTED_TEXT and length == len(huge) - 1
    assert reason == f"line too long: {length} characters (limit {MAX_LINE_CHARS})"


def test_cli_prints_one_line_and_fails_for_a_refused_year(tmp_path, monkeypatch, capsys):
    from pipeline.cli import main

    monkeypatch.setenv("ACCIDENTS_DATA_DIR", str(tmp_path / "data"))
    write_year(tmp_path / "src", 2021, accidents_for(2021, 4))
    rewrite(tmp_path / "src" / "caracteristiques-2021.csv", _header_edit(b'"dep";', b""))
    code = main(["ingest", "--source", str(tmp_path / "src"), "--years", "2021"])
    err = capsys.readouterr().err.strip()
    assert code != 0 and len(err.splitlines()) == 1
    assert err.startswith("error: ") and "caracteristiques-2021.csv" in err and "'dep'" in err


def test_a_lake_created_before_raw_length_gains_the_column(lake, tmp_path):
    lake.execute("CREATE TABLE bronze.rejected_rows (source_file VARCHAR, year INTEGER, line_number INTEGER, "
                 "raw_text VARCHAR, reason VARCHAR)")
    lake.execute("INSERT INTO bronze.rejected_rows VALUES ('old.csv', 2020, 2, 'x', 'old reason')")
    files = write_year(tmp_path, 2024, accidents_for(2024, 2))
    rewrite(files["lieux"], lambda b: b + b'"202400000001";"broken\n')
    ingest_years(lake, {2024: files})
    assert rows(lake, "SELECT year, raw_length FROM bronze.rejected_rows ORDER BY year") == [(2020, None), (2024, len('"202400000001";"broken'))]
