"""Text that is not clean data: control characters, encodings that must be detected for sure,
spreadsheet exports, and files whose size is mostly junk (read in blocks, bounded memory)."""

from __future__ import annotations

import tracemalloc

import pytest

from pipeline.bronze.ingest import IngestRefused, ingest_years
from pipeline.bronze.parse import parse_file
from pipeline.bronze.text_file import detect_western
from pipeline.core.errors import AccidentsError
from tests.bronze.baac_files import Accident, accidents_for, write_year

CONTROL_SQL = "regexp_matches({c}, '[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f]')"


def rows(con, sql, params=None):
    return con.execute(sql, params or []).fetchall()


def _no_control_character_anywhere(con):
    """Not one control character in any text column of bronze."""
    for table, column in rows(con, "SELECT table_name, column_name FROM information_schema.columns WHERE "
                                   "table_catalog = 'lake' AND table_schema = 'bronze' AND data_type = 'VARCHAR'"):
        found = rows(con, f'SELECT count(*) FROM bronze.{table} WHERE {CONTROL_SQL.format(c=chr(34) + column + chr(34))}')
        assert found == [(0,)], (table, column)


def test_a_nul_or_control_character_rejects_its_line_and_is_stored_visible(lake, tmp_path):
    accidents = accidents_for(2024, 4)
    accidents[1].adr = "Rue\x00 de la Paix"
    accidents[2].adr = "Route\x85 du Sud"  # C1 control (NEL), as latin-1 reads a cp1252 byte
    files = write_year(tmp_path, 2024, accidents)
    summary = ingest_years(lake, {2024: files})
    assert summary.accidents == 2
    reasons = rows(lake, "SELECT line_number, reason, raw_text FROM bronze.rejected_rows "
                         "WHERE source_file LIKE 'caracteristiques%' ORDER BY 1")
    lines = files["caracteristiques"].read_text().split("\n")
    at = [lines[2].index("\x00") + 1, lines[3].index("\x85") + 1]
    assert [(n, r) for n, r, _ in reasons] == [
        (3, f"control character \\x00 at character {at[0]} (a damaged line)"),
        (4, f"control character \\x85 at character {at[1]} (a damaged line)")]
    assert "Rue\\x00 de la Paix" in reasons[0][2]
    _no_control_character_anywhere(lake)


def test_cp1252_lines_in_a_utf8_file_are_detected_and_recorded(lake, tmp_path):
    accidents = accidents_for(2024, 6)
    files = write_year(tmp_path, 2024, accidents)
    path = files["caracteristiques"]
    data = path.read_bytes().replace("Rue de Sébastopol".encode(), "Rue de l’Église – Païta".encode("cp1252"), 2)
    path.write_bytes(data)
    ingest_years(lake, {2024: files})
    adr = rows(lake, "SELECT DISTINCT adr FROM bronze.accidents ORDER BY 1")
    assert adr == [("Rue de Sébastopol",), ("Rue de l’Église – Païta",)]
    log = rows(lake, "SELECT encoding, notes FROM bronze.ingest_log WHERE kind = 'caracteristiques'")
    assert log == [("utf-8+cp1252", "not UTF-8: decoded as utf-8+cp1252 (detected)")]
    _no_control_character_anywhere(lake)


def test_latin1_release_reads_as_latin1(tmp_path):
    files = write_year(tmp_path, 2019, accidents_for(2019, 3), encoding="latin-1")
    parsed = parse_file(files["caracteristiques"])
    assert parsed.encoding == "latin-1"
    assert parsed.columns["adr"].to_pylist() == ["Rue de Sébastopol"] * 3


@pytest.mark.parametrize("text, encoding, expected", [
    ("Rue de Sébastopol", "latin-1", "latin_1"),
    ("RUE DE SÉBASTOPOL", "latin-1", "latin_1"),
    ("l’école de Païta – route", "cp1252", "cp1252"),
    ("Œuvre €", "iso8859_15", "iso8859_15"),
    ("Route près école", "mac_roman", "mac_roman"),
    ("Route près école", "cp850", None),  # mac-roman reads it 'präs Çcole': two readings, not sure
    ("Москва улица", "koi8_r", None),
    ("東京都", "shift_jis", None),
])
def test_detection_answers_only_when_sure(text, encoding, expected):
    assert detect_western(text.encode(encoding)) == expected


def test_a_file_in_an_encoding_that_cannot_be_told_is_refused(lake, tmp_path):
    accidents = [Accident(a.acc_id, adr="Москва улица", lat=a.lat, lon=a.lon) for a in accidents_for(2024, 3)]
    files = write_year(tmp_path, 2024, accidents, encoding="koi8_r")
    with pytest.raises(IngestRefused, match=r"caracteristiques-2024.csv: line 2: not UTF-8, and its encoding "
                                            r"cannot be told for sure.*re-export the file as UTF-8"):
        ingest_years(lake, {2024: files})


def test_a_few_undecidable_lines_are_rejected_with_the_reason(lake, tmp_path):
    files = write_year(tmp_path, 2024, accidents_for(2024, 6))
    path = files["caracteristiques"]
    path.write_bytes(path.read_bytes().replace("Rue de Sébastopol".encode(), "Москва".encode("koi8_r"), 1))
    summary = ingest_years(lake, {2024: files})
    assert summary.accidents == 5
    assert rows(lake, "SELECT line_number, reason FROM bronze.rejected_rows "
                      "WHERE source_file LIKE 'caracteristiques%'") == [
        (2, "not UTF-8, and its encoding cannot be told for sure")]


def _spreadsheet(path, extra: str = ";;;", first_line_extra: str | None = None):
    lines = path.read_bytes().decode().splitlines()
    out = [line + extra for line in lines]
    if first_line_extra is not None:
        out[1] = lines[1] + first_line_extra
    path.write_text("\n".join(out) + "\n")


def test_spreadsheet_export_with_trailing_empty_columns_is_read_and_noted(lake, tmp_path):
    files = write_year(tmp_path, 2024, accidents_for(2024, 5))
    for kind, path in files.items():
        if kind != "lieux":
            _spreadsheet(path)
    _spreadsheet(files["lieux"], first_line_extra=';"x";;')  # a value under an unnamed column
    summary = ingest_years(lake, {2024: files})
    assert summary.accidents == 5
    assert "note: caracteristiques-2024.csv: 3 empty column(s) at the end of each line ignored" in summary.table()
    assert rows(lake, "SELECT count(*) FROM bronze.ingest_log WHERE notes LIKE '%empty column(s)%'") == [(4,)]
    assert rows(lake, "SELECT source_file, line_number, reason FROM bronze.rejected_rows "
                      "WHERE source_file LIKE 'lieux%'") == [
        ("lieux-2024.csv", 2, "a value under an unnamed column at the end of the line (the header names fewer "
                              "columns)")]


def test_an_empty_column_name_inside_the_header_names_the_cause(tmp_path):
    files = write_year(tmp_path, 2024, accidents_for(2024, 2))
    path = files["vehicules"]
    path.write_bytes(path.read_bytes().replace(b'"num_veh"', b'""', 1))
    with pytest.raises(AccidentsError, match=r"line 1: column 3 has no name"):
        parse_file(path)


def test_number_formatted_codes_get_a_hint(lake, tmp_path):
    accidents = accidents_for(2024, 4)
    accidents[0].dep = "988.0"
    accidents[1].atm = "1.0"
    summary = ingest_years(lake, {2024: write_year(tmp_path, 2024, accidents)})
    assert summary.accidents == 2
    carac = next(f for f in summary.files if f.kind == "caracteristiques")
    assert carac.rows_other_department == 1
    assert carac.notes == ["1 line(s) give dep '988.0', a number formatted by a spreadsheet: they are not counted "
                           "as département 988; re-export the column as text"]
    assert rows(lake, "SELECT reason FROM bronze.rejected_rows") == [
        ("atm '1.0' is not an integer code (written as a number by a spreadsheet? expected 1: re-export the column "
         "as text)",)]


def _padded(tmp_path, mb: int):
    files = write_year(tmp_path, 2024, accidents_for(2024, 40))  # the first 4 KB are text
    path = files["caracteristiques"]
    with path.open("ab") as out:
        for _ in range(mb):
            out.write(b"\x00" * (1 << 20))
    return files, path


def test_a_file_padded_with_nul_bytes_costs_one_block_not_its_size(lake, tmp_path):
    files, path = _padded(tmp_path, 64)
    tracemalloc.start()
    parsed = parse_file(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 24 << 20, peak  # 64 MB of padding; a 4 MB block (+ the carry) is what it may cost
    assert parsed.line_count == 41
    last = parsed.problems[-1]
    assert last == (42, f"line too long: {64 << 20} characters (limit 10000)")
    summary = ingest_years(lake, {2024: files})
    assert summary.accidents == 40
    stored = rows(lake, "SELECT length(raw_text), raw_length FROM bronze.rejected_rows")
    assert stored == [(4000, 64 << 20)]  # 1000 NULs, each stored as \x00


def test_a_file_above_the_size_cap_is_refused_with_the_option_to_raise_it(tmp_path):
    files, path = _padded(tmp_path, 3)
    with pytest.raises(AccidentsError, match=r"caracteristiques-2024.csv: the file is 3 MB, above the limit of 2 MB "
                                            r"\(raise it with --max-file-mb"):
        parse_file(path, max_bytes=2 << 20)
