"""Every BAAC field's rule: accepted, NULL for the official "not specified" spellings, or refused
with a reason naming the column."""

from __future__ import annotations

import datetime as dt

import pytest

from pipeline.bronze import fields as f
from pipeline.bronze.columns import check_row
from pipeline.bronze.ingest import ingest_years
from tests.bronze.baac_files import Accident, accidents_for, write_year


@pytest.mark.parametrize("kind, column, value, expected", [
    ("caracteristiques", "lum", "5", 5),
    ("caracteristiques", "lum", " -1", None),
    ("caracteristiques", "atm", "N/A", None),
    ("caracteristiques", "col", "(1)", None),
    ("caracteristiques", "int", "", None),
    ("caracteristiques", "agg", "02", 2),
    ("lieux", "vma", "70", 70),
    ("lieux", "catr", "9", 9),
    ("vehicules", "catv", "99", 99),
    ("vehicules", "catv", "07", 7),
    ("usagers", "actp", "a", "A"),
    ("usagers", "grav", "4", 4),
    ("usagers", "an_nais", "1989", 1989),
    ("caracteristiques", "adr", "  VE2 - sortie Mont Dore ", "VE2 - sortie Mont Dore"),
])
def test_valid_and_not_specified_values(kind, column, value, expected):
    assert check_row(kind, {column: value}, 2021)[column] == expected


@pytest.mark.parametrize("kind, column, value, reason", [
    ("caracteristiques", "lum", "6", "lum 6 is not in the official code list"),
    ("caracteristiques", "lum", "inf", "lum 'inf' is not an integer code"),
    ("caracteristiques", "atm", "1e10", "atm '1e10' is not an integer code"),
    ("caracteristiques", "atm", "2.5", "atm '2.5' is not an integer code"),
    ("caracteristiques", "atm", "\uff12", "atm '\uff12' is not an integer code"),  # fullwidth digit
    ("caracteristiques", "agg", "3", "agg 3 is not in the official code list"),
    ("caracteristiques", "int", "0", "int 0 is not in the official code list"),
    ("caracteristiques", "col", "8", "col 8 is not in the official code list"),
    ("caracteristiques", "adr", "x" * 301, "adr is 301 characters long (limit 300)"),
    ("lieux", "vma", "900", "vma 900 is outside 5-130 km/h"),
    ("lieux", "catr", "8", "catr 8 is not in the official code list"),
    ("lieux", "surf", "-2", "surf -2 is not in the official code list"),
    ("lieux", "nbv", "99", "nbv 99 is outside 0-20 lanes"),
    ("vehicules", "catv", "22", "catv 22 is not in the official code list"),
    ("vehicules", "manv", "27", "manv 27 is not in the official code list"),
    ("usagers", "catu", "5", "catu 5 is not in the official code list"),
    ("usagers", "grav", "0", "grav 0 is not in the official code list"),
    ("usagers", "sexe", "3", "sexe 3 is not in the official code list"),
    ("usagers", "actp", "C", "actp 'C' is not in the official code list"),
    ("usagers", "an_nais", "2030", "an_nais 2030 is after the accident's year 2021"),
    ("usagers", "an_nais", "1850", "an_nais 1850 is outside 1900-2100"),
])
def test_values_outside_their_format_name_the_column(kind, column, value, reason):
    with pytest.raises(f.FieldError) as caught:
        check_row(kind, {column: value}, 2021)
    assert str(caught.value) == reason


@pytest.mark.parametrize("value, year, result", [
    ("202100056512", 2021, "202100056512"),
    ("2021 000 56512", 2021, "202100056512"),
    ("2021\u00a000056512", 2021, "202100056512"),
    ("2.02100056512E+11", 2021, "accident_id '2.02100056512E+11' is not 12 digits"),
    ("20210005651", 2021, "accident_id '20210005651' is not 12 digits"),
    ("２０２１00056512", 2021, "accident_id '２０２１00056512' is not 12 digits"),
    ("202000056512", 2021, "accident_id 202000056512 does not start with the file's year 2021"),
    ("", 2021, "accident_id is missing"),
])
def test_accident_id_is_12_digits_with_the_year_prefix(value, year, result):
    try:
        assert f.accident_id(value, year) == result
    except f.FieldError as exc:
        assert str(exc) == result


@pytest.mark.parametrize("values, result", [
    ({"jour": "1", "mois": "01", "an": "2021", "hrmn": "20:55"}, dt.datetime(2021, 1, 1, 20, 55)),
    ({"jour": "1", "mois": "1", "an": "21", "hrmn": "855"}, dt.datetime(2021, 1, 1, 8, 55)),
    ({"jour": "1", "mois": "01", "an": "2020", "hrmn": "20:55"}, "an '2020' is not the file's year 2021"),
    ({"jour": "0", "mois": "01", "an": "2021", "hrmn": "20:55"}, "jour '0' is outside 1-31"),
    ({"jour": "1", "mois": "13", "an": "2021", "hrmn": "20:55"}, "mois '13' is outside 1-12"),
    ({"jour": "29", "mois": "02", "an": "2021", "hrmn": "20:55"}, "date 29/2/2021 (jour/mois/an) does not exist"),
    ({"jour": "1", "mois": "01", "an": "2021", "hrmn": "24:00"}, "hrmn '24:00' is not a time of day (00:00-23:59)"),
    ({"jour": "1", "mois": "01", "an": "2021", "hrmn": "1e3"}, "hrmn '1e3' is not a time (HH:MM)"),
])
def test_date_and_time_ranges(values, result):
    try:
        assert f.event_time(values, 2021) == result
    except f.FieldError as exc:
        assert str(exc) == result


@pytest.mark.parametrize("value, dep, result", [
    ("98805", "988", "98805"), ("13055", "13", "13055"), ("2A004", "2A", "2A004"), ("805", "988", "805"),
    ("N/A", "988", None),
    ("13055", "988", "com '13055' is not a commune of département 988"),
    ("9880", "988", "com '9880' is not a commune of département 988"),
])
def test_commune_belongs_to_the_departement(value, dep, result):
    try:
        assert f.commune(value, dep) == result
    except f.FieldError as exc:
        assert str(exc) == result


@pytest.mark.parametrize("value, result", [
    (" -22,2239590000", -22.223959), ("166.468706", 166.468706),
    ("inf", "lat 'inf' is not a decimal coordinate"), ("1e10", "lat '1e10' is not a decimal coordinate"),
    ("", "lat is missing"),
])
def test_coordinates_are_plain_decimals(value, result):
    try:
        assert f.coordinate("lat", value) == pytest.approx(result)
    except f.FieldError as exc:
        assert str(exc) == result


def test_no_invalid_value_reaches_bronze_accidents(lake, tmp_path):
    accs = accidents_for(2024, 4) + [
        Accident("202400000100", com="13055"),      # commune of another département
        Accident("202400000101", vma="900"),        # speed limit out of range: lieux row rejected
        Accident("202400000102", atm="12"),         # code outside its list
        Accident("202400000103", hrmn="7:5"),       # not a time
    ]
    summary = ingest_years(lake, {2024: write_year(tmp_path, 2024, accs)})
    reasons = dict(lake.execute("SELECT line_number, reason FROM bronze.rejected_rows "
                                "WHERE source_file LIKE 'caract%'").fetchall())
    assert reasons == {6: "com '13055' is not a commune of département 988",
                       8: "atm 12 is not in the official code list", 9: "hrmn '7:5' is not a time (HH:MM)"}
    lieux = lake.execute("SELECT reason FROM bronze.rejected_rows WHERE source_file LIKE 'lieux%'").fetchall()
    assert lieux == [("vma 900 is outside 5-130 km/h",)]
    # the accident whose only lieux row was refused is kept, its lieux fields NULL
    assert lake.execute("SELECT vma, catr FROM bronze.accidents WHERE accident_id = '202400000101'"
                        ).fetchall() == [(None, None)]
    assert summary.accidents == 5
    for rule, condition in f.invalid_accident_conditions().items():
        bad = lake.execute(f"SELECT count(*) FROM bronze.accidents a WHERE {condition}").fetchone()[0]
        assert bad == 0, rule


def test_invalid_accident_conditions_catch_each_broken_rule():
    import duckdb

    con = duckdb.connect()
    good = ("202400000001", dt.datetime(2024, 2, 3, 7, 45), -22.27, 166.45, 1, 1, 2, 1, 3, "98818", "988",
            None, 2024, 3, 50, 1, 1, 1)
    con.execute("CREATE TABLE a (accident_id VARCHAR, event_time TIMESTAMP, lat DOUBLE, lon DOUBLE, atm INT, "
                "lum INT, agg INT, \"int\" INT, col INT, com VARCHAR, dep VARCHAR, adr VARCHAR, year INT, "
                "catr INT, vma INT, plan INT, prof INT, surf INT)")
    con.execute("INSERT INTO a VALUES (" + ", ".join("?" * len(good)) + ")", list(good))
    conditions = f.invalid_accident_conditions()
    assert all(con.execute(f"SELECT count(*) FROM a WHERE {c}").fetchone()[0] == 0 for c in conditions.values())
    breakages = {"accident_id": "accident_id = '202300000001'", "event_time": "year = 2023",
                 "com": "com = '13055'", "lat/lon": "lat = 48.8", "atm": "atm = 10", "vma": "vma = 900",
                 "int": "\"int\" = 0"}
    for rule, change in breakages.items():
        con.execute("BEGIN")
        con.execute(f"UPDATE a SET {change}")
        fired = {name for name, c in conditions.items() if con.execute(f"SELECT count(*) FROM a WHERE {c}").fetchone()[0]}
        con.execute("ROLLBACK")
        assert rule in fired, (rule, fired)
