from __future__ import annotations

import datetime as dt

import pytest

from pipeline.core.errors import AccidentsError
from pipeline.bronze.ingest import KINDS, ingest_years
from tests.bronze.baac_files import Accident, accidents_for, write_year
from tests.conftest import SHARED_DATA


def rows(con, sql):
    return con.execute(sql).fetchall()


def test_real_official_sample_ingests_to_the_known_accident(lake):
    folder = SHARED_DATA / "baac-samples"
    if not folder.is_dir():
        pytest.skip("../shared/data/baac-samples not present")
    files = {2021: {k: folder / f"{k}-2021.csv" for k in KINDS}}
    summary = ingest_years(lake, files)
    assert summary.accidents == 1 and summary.rejected == 0
    (acc,) = rows(lake, "SELECT accident_id, event_time, lat, lon, atm, com, vma FROM bronze.accidents")
    assert acc == ("202100056512", dt.datetime(2021, 1, 1, 20, 55), pytest.approx(-22.223959),
                   pytest.approx(166.468706), 2, "98805", 70)


def test_quirks_bom_latin1_crlf_accident_id_negatives_and_nbsp(lake, tmp_path):
    files = {
        2019: write_year(tmp_path / "y", 2019, accidents_for(2019, 3), encoding="latin-1"),
        2020: write_year(tmp_path / "y", 2020, accidents_for(2020, 3), bom=True),
        2021: write_year(tmp_path / "y", 2021, accidents_for(2021, 3), crlf=True),
        2022: write_year(tmp_path / "y", 2022, accidents_for(2022, 3), id_header="Accident_Id",
                         carac_name="carcteristiques-2022.csv"),
    }
    summary = ingest_years(lake, files)
    assert summary.rejected == 0
    assert rows(lake, "SELECT year, count(*) FROM bronze.accidents GROUP BY 1 ORDER BY 1") == [
        (2019, 3), (2020, 3), (2021, 3), (2022, 3)]
    # latin-1 and BOM files decode to the same text; CRLF leaves no stray \r
    assert {r[0] for r in rows(lake, "SELECT DISTINCT adr FROM bronze.accidents")} == {"Rue de Sébastopol"}
    assert rows(lake, "SELECT count(*) FROM bronze.raw_usagers WHERE etatp LIKE '%\r%'") == [(0,)]
    # leading-space negative latitude with a decimal comma
    assert rows(lake, "SELECT min(lat) < -22.2 AND max(lat) < 0 FROM bronze.accidents") == [(True,)]
    # the no-break space of id_vehicule is kept in raw text; ids are clean
    assert rows(lake, "SELECT count(*) FROM bronze.raw_vehicules WHERE id_vehicule LIKE '%\u00a0%'") == [(12,)]
    encodings = dict(rows(lake, "SELECT year, encoding FROM bronze.ingest_log WHERE kind='caracteristiques'"))
    assert encodings[2019] == "latin-1" and encodings[2020] == "utf-8-sig"
    assert all(f.balanced for f in summary.files)


def test_bad_rows_are_rejected_with_reasons_and_other_departments_counted(lake, tmp_path):
    accs = accidents_for(2023, 4) + [
        Accident("202300000100", lat=None),                       # missing coordinates
        Accident("202300000101", lat=48.85, lon=2.35),             # outside New Caledonia
        Accident("202300000102", hrmn="25:99"),                    # bad time
        Accident("202300000103", day=31, month=2),                 # bad date
        Accident("202300000104", dep="13", lat=43.3, lon=5.4),     # another département
        Accident("202300000001"),                                  # duplicate id
    ]
    summary = ingest_years(lake, {2023: write_year(tmp_path, 2023, accs)})
    reasons = [r[0] for r in rows(lake, "SELECT reason FROM bronze.rejected_rows ORDER BY line_number")]
    assert len(reasons) == 5
    assert reasons[0] == "lat is missing"
    assert "outside the bounds of département 988" in reasons[1]
    assert reasons[2] == "hrmn '25:99' is not a time of day (00:00-23:59)"
    assert reasons[3] == "date 31/2/2023 (jour/mois/an) does not exist"
    assert "duplicate accident id 202300000001 (first at line 2)" in reasons[4]
    carac = next(f for f in summary.files if f.kind == "caracteristiques")
    assert (carac.rows_read, carac.rows_kept, carac.rows_rejected, carac.rows_other_department) == (10, 4, 5, 1)
    lieux = next(f for f in summary.files if f.kind == "lieux")
    # lieux rows follow their accident: the other département's row is out of scope, not lost
    assert lieux.rows_other_department == 1 and lieux.balanced
    assert rows(lake, "SELECT count(*) FROM bronze.accidents") == [(4,)]


def test_reingest_is_idempotent(lake, tmp_path):
    files = {y: write_year(tmp_path / str(y), y, accidents_for(y, 5)) for y in (2023, 2024)}
    ingest_years(lake, files)
    snapshot = {t: sorted(rows(lake, f"SELECT * EXCLUDE (ingested_at) FROM bronze.{t}") if t == "ingest_log"
                          else rows(lake, f"SELECT * FROM bronze.{t}"))
                for t in ("accidents", "rejected_rows", "ingest_log", *(f"raw_{k}" for k in KINDS))}
    ingest_years(lake, {2024: files[2024]})
    for table, before in snapshot.items():
        sql = f"SELECT * EXCLUDE (ingested_at) FROM bronze.{table}" if table == "ingest_log" else f"SELECT * FROM bronze.{table}"
        assert sorted(rows(lake, sql)) == before, table


def test_failure_mid_ingest_leaves_previous_snapshot_intact(lake, tmp_path, monkeypatch):
    import pipeline.bronze.ingest as stage

    ingest_years(lake, {2024: write_year(tmp_path / "a", 2024, accidents_for(2024, 5))})
    before = sorted(rows(lake, "SELECT * FROM bronze.accidents"))
    calls = {"n": 0}
    real_insert = stage._insert

    def failing_insert(con, table, data, dep):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("disk full (injected)")
        real_insert(con, table, data, dep)

    monkeypatch.setattr(stage, "_insert", failing_insert)
    with pytest.raises(RuntimeError, match="injected"):
        ingest_years(lake, {2024: write_year(tmp_path / "b", 2024, accidents_for(2024, 9, start=50))})
    assert sorted(rows(lake, "SELECT * FROM bronze.accidents")) == before
    assert rows(lake, "SELECT count(*) FROM bronze.raw_caracteristiques") == [(5,)]


def test_missing_kind_and_unknown_department_are_user_errors(lake, tmp_path):
    files = write_year(tmp_path, 2024, accidents_for(2024, 1))
    del files["usagers"]
    with pytest.raises(AccidentsError, match="year 2024: missing file.*usagers"):
        ingest_years(lake, {2024: files})
    with pytest.raises(AccidentsError, match="unknown département '999'"):
        ingest_years(lake, {2024: write_year(tmp_path, 2024, [])}, departments=["999"])


def test_header_without_id_names_the_file(lake, tmp_path):
    files = write_year(tmp_path, 2024, accidents_for(2024, 1))
    files["lieux"].write_text('"x";"catr"\n"1";"2"\n')
    with pytest.raises(AccidentsError, match=r"lieux-2024.csv: line 1: no Num_Acc or Accident_Id"):
        ingest_years(lake, {2024: files})
