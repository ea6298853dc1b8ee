"""The SYNTHETIC demo BAAC files: names, headers, official format quirks, defects, counts and shares."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.sources.demo.generator import generate_demo
from pipeline.sources.demo.writer import HEADERS

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "baac-samples"
YEARS = list(range(2019, 2025))
GREATER_NOUMEA = {"98818", "98817", "98821", "98805"}
ENCODING = {2019: "latin-1"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    return generate_demo(out, years=YEARS, seed=42, scale=1.0)


def caracteristiques_name(year: int) -> str:
    return "carcteristiques-2022.csv" if year == 2022 else f"caracteristiques-{year}.csv"


def read(path: Path, year: int) -> pd.DataFrame:
    encoding = ENCODING.get(year, "utf-8-sig")
    return pd.read_csv(path, sep=";", dtype=str, keep_default_na=False, encoding=encoding)


def all_caracteristiques(out: Path) -> pd.DataFrame:
    frames = [read(out / caracteristiques_name(y), y).rename(columns={"Accident_Id": "Num_Acc"}) for y in YEARS]
    return pd.concat(frames, ignore_index=True)


def test_every_year_has_the_four_files_under_their_published_names(demo):
    names = {p.name for p in demo.out_dir.iterdir()}
    for year in YEARS:
        for table in ("lieux", "vehicules", "usagers"):
            assert f"{table}-{year}.csv" in names
        assert caracteristiques_name(year) in names
    assert "caracteristiques-2022.csv" not in names  # misspelt at the source, as in the real release
    assert {"roads.osm", "README.txt", "demo_truth"} <= names


def test_headers_are_the_official_ones_with_accident_id_in_2022(demo):
    for year in YEARS:
        for table in ("caracteristiques", "lieux", "vehicules", "usagers"):
            name = caracteristiques_name(year) if table == "caracteristiques" else f"{table}-{year}.csv"
            first = read(demo.out_dir / name, year).columns.tolist()
            expected = list(HEADERS[table])
            if table == "caracteristiques" and year == 2022:
                expected[0] = "Accident_Id"
            assert first == expected, name


@pytest.mark.skipif(not SAMPLES.is_dir(), reason="shared BAAC samples not available")
def test_headers_match_the_real_sample_files():
    for table in ("caracteristiques", "lieux", "vehicules", "usagers"):
        header = (SAMPLES / f"{table}-2021.csv").read_text(encoding="utf-8").splitlines()[0]
        assert header == ";".join(f'"{h}"' for h in HEADERS[table])


def test_release_quirks_encoding_bom_line_endings(demo):
    raw = {y: (demo.out_dir / f"lieux-{y}.csv").read_bytes() for y in YEARS}
    assert raw[2020].startswith(b"\xef\xbb\xbf")  # BOM year
    assert not raw[2021].startswith(b"\xef\xbb\xbf")
    assert b"\r\n" in raw[2021] and b"\r\n" in raw[2023]  # CRLF years
    assert b"\r\n" not in raw[2022] and b"\n" in raw[2022]  # LF year
    # 2019 is latin-1: accented street names decode as latin-1 and are invalid UTF-8.
    latin = (demo.out_dir / "caracteristiques-2019.csv").read_bytes()
    assert "é".encode("latin-1") in latin
    with pytest.raises(UnicodeDecodeError):
        latin.decode("utf-8")
    assert "Rue de Sébastopol" in latin.decode("latin-1") or "Sébastopol" in latin.decode("latin-1")
    assert "é" in (demo.out_dir / "caracteristiques-2021.csv").read_text(encoding="utf-8")


def test_field_formats_follow_the_official_files(demo):
    text = (demo.out_dir / "caracteristiques-2021.csv").read_text(encoding="utf-8")
    line = text.splitlines()[1]
    assert line.startswith('"') and line.endswith('"') and '";"' in line  # every field quoted
    df = read(demo.out_dir / "caracteristiques-2021.csv", 2021)
    nc = df[df["dep"] == "988"]
    assert nc["Num_Acc"].str.fullmatch(r"2021\d{8}").all()
    assert nc["mois"].str.fullmatch(r"\d\d").all()
    assert not nc["jour"].str.startswith("0").any() and (nc["jour"].str.len() == 1).any()
    ok_time = nc["hrmn"] != "25:99"
    assert nc.loc[ok_time, "hrmn"].str.fullmatch(r"\d\d:\d\d").all()
    assert nc["com"].str.fullmatch(r"988\d\d").all()
    lat = nc.loc[nc["lat"] != "", "lat"]
    assert lat.str.fullmatch(r" -\d+,\d{10}").all()  # leading space before the minus, decimal comma
    assert nc.loc[nc["long"] != "", "long"].str.fullmatch(r"\d+,\d{10}").all()
    veh = (demo.out_dir / "vehicules-2021.csv").read_text(encoding="utf-8")
    ids = read(demo.out_dir / "vehicules-2021.csv", 2021)["id_vehicule"]
    assert "\u00a0" in veh and ids.str.fullmatch("\\d{3}\u00a0\\d{3}").all()
    lieux = read(demo.out_dir / "lieux-2021.csv", 2021)
    for token in (" -1", "N/A", "(1)", ""):
        assert (lieux.to_numpy() == token).any(), f"missing-value token {token!r} never used"


def test_tables_are_consistent(demo):
    for year in YEARS:
        cara = read(demo.out_dir / caracteristiques_name(year), year)
        ids = cara.iloc[:, 0]
        assert ids.is_unique and ids.is_monotonic_increasing
        lieux = read(demo.out_dir / f"lieux-{year}.csv", year)
        assert lieux["Num_Acc"].tolist() == ids.tolist()
        veh = read(demo.out_dir / f"vehicules-{year}.csv", year)
        usr = read(demo.out_dir / f"usagers-{year}.csv", year)
        per_acc = veh.groupby("Num_Acc").size()
        assert set(per_acc.index) == set(ids) and per_acc.between(1, 3).all()
        per_veh = usr.groupby(["Num_Acc", "id_vehicule"]).size()
        assert set(per_veh.index) == set(zip(veh["Num_Acc"], veh["id_vehicule"], strict=True))
        assert per_veh.between(1, 4).all()


def test_other_departements_are_scattered_among_the_988_rows(demo):
    cara = all_caracteristiques(demo.out_dir)
    foreign = cara["dep"] != "988"
    assert foreign.sum() == sum(demo.foreign_rows_per_year.values())
    assert 0.01 < foreign.mean() < 0.06
    assert set(cara.loc[foreign, "dep"]) <= {"13", "75", "69", "33", "59", "29"}
    # interleaved, not appended: some foreign row sits before the last 988 row of its year
    y21 = read(demo.out_dir / "caracteristiques-2021.csv", 2021)
    positions = np.flatnonzero(y21["dep"].to_numpy() != "988")
    assert positions.min() < len(y21) - 1 - positions.size


def test_defects_are_documented_and_present(demo):
    kinds = {d.kind for d in demo.defects}
    assert kinds == {"missing_coordinates", "outside_bounds", "bad_hrmn"}
    n_nc = sum(demo.accidents_per_year.values())
    assert 0.005 < len(demo.defects) / n_nc < 0.03
    cara = all_caracteristiques(demo.out_dir).set_index("Num_Acc")
    for d in demo.defects:
        row = cara.loc[d.accident_id]
        assert row["dep"] == "988"
        if d.kind == "missing_coordinates":
            assert row["lat"] == "" and row["long"] == ""
        elif d.kind == "bad_hrmn":
            assert row["hrmn"] == "25:99"
        else:
            lat = float(row["lat"].replace(",", "."))
            lon = float(row["long"].replace(",", "."))
            assert not (-23.0 <= lat <= -19.5 and 163.5 <= lon <= 168.0)
    good = cara[(cara["dep"] == "988") & ~cara.index.isin([d.accident_id for d in demo.defects])]
    lat = good["lat"].str.replace(",", ".").astype(float)
    lon = good["long"].str.replace(",", ".").astype(float)
    assert lat.between(-23.0, -19.5).all() and lon.between(163.5, 168.0).all()


def test_yearly_counts_in_the_calibrated_band(demo):
    counts = demo.accidents_per_year
    # Targets 270-290 (Poisson sd ~17): seed 42 lands inside the published 250-320 range.
    for year in (2019, 2020, 2021, 2022, 2024):
        assert 250 <= counts[year] <= 320, (year, counts[year])
    assert abs(counts[2023] - 222) <= 3 * np.sqrt(222)  # the real 2023 count, +-3 Poisson sd


def test_volume_and_time_marginals_at_scale_20(tmp_path):
    from pipeline.sources.demo.model import HOUR_COUNTS, MONTH_COUNTS, WEEKDAY_COUNTS

    summary = generate_demo(tmp_path, years=[2023], seed=7, scale=20.0)
    expected = 222 * 20
    assert abs(summary.accidents_per_year[2023] - expected) <= 4 * np.sqrt(expected)
    cara = read(tmp_path / "caracteristiques-2023.csv", 2023)
    nc = cara[(cara["dep"] == "988") & (cara["hrmn"] != "25:99")]
    when = pd.to_datetime(nc["an"] + "-" + nc["mois"] + "-" + nc["jour"] + " " + nc["hrmn"])
    # ~4,400 accidents: profiles follow the real 2023 ones (hours lightly smoothed, so r > 0.9).
    for values, counts, size in ((when.dt.hour, HOUR_COUNTS, 24), (when.dt.dayofweek, WEEKDAY_COUNTS, 7),
                                 (when.dt.month - 1, MONTH_COUNTS, 12)):
        profile = np.bincount(values, minlength=size)
        assert np.corrcoef(profile, counts)[0, 1] > 0.9


def test_weekend_and_greater_noumea_shares_match_calibration(demo):
    cara = all_caracteristiques(demo.out_dir)
    nc = cara[cara["dep"] == "988"]
    day = pd.to_datetime(nc["an"] + "-" + nc["mois"] + "-" + nc["jour"])
    n = len(nc)  # ~1,700 accidents: a share's sd is <= 0.5/sqrt(n) ~ 0.012; allow ~4 sd
    tolerance = 4 * 0.5 / np.sqrt(n)
    assert abs((day.dt.dayofweek >= 5).mean() - 106 / 222) < tolerance  # Sat+Sun 47.7 % in 2023
    assert abs(nc["com"].isin(GREATER_NOUMEA).mean() - 124 / 222) < tolerance  # 56 %
    atm = nc["atm"].value_counts(normalize=True)
    assert abs(atm["1"] - 190 / 222) < tolerance and set(atm.index) <= {"1", "2", "3", "8"}
    assert abs((nc["agg"] == "2").mean() - 109 / 222) < 0.08  # agg follows from the site mix


def test_vma_is_the_speed_limit_of_the_road(demo):
    from sklearn.neighbors import BallTree

    from pipeline.sources.demo.model import load_truth

    sites = load_truth(demo.out_dir).sites
    cara = read(demo.out_dir / "carcteristiques-2022.csv", 2022).rename(columns={"Accident_Id": "Num_Acc"})
    lieux = read(demo.out_dir / "lieux-2022.csv", 2022)
    rows = cara.merge(lieux, on="Num_Acc")
    rows = rows[(rows["dep"] == "988") & (rows["lat"] != "")]
    lat = rows["lat"].str.replace(",", ".").astype(float)
    lon = rows["long"].str.replace(",", ".").astype(float)
    inside = lat.between(-23, -19.5)
    tree = BallTree(np.radians(sites[["lat", "lon"]].to_numpy()), metric="haversine")
    _, idx = tree.query(np.radians(np.column_stack([lat[inside], lon[inside]])), k=1)
    nearest_speed = sites["speed_limit"].to_numpy()[idx[:, 0]]
    vma = rows.loc[inside, "vma"].astype(int).to_numpy()
    assert (vma == nearest_speed).mean() > 0.9  # jitter can put a few near a crossing road


def test_same_seed_is_byte_identical_and_other_seeds_differ(tmp_path):
    def digest(folder: Path) -> dict[str, str]:
        return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(folder.rglob("*")) if p.is_file()}

    a = generate_demo(tmp_path / "a", years=[2022], seed=5)
    b = generate_demo(tmp_path / "b", years=[2022], seed=5)
    c = generate_demo(tmp_path / "c", years=[2022], seed=6)
    da, db, dc = digest(a.out_dir), digest(b.out_dir), digest(c.out_dir)
    assert da == db
    assert da["usagers-2022.csv"] != dc["usagers-2022.csv"]
    assert da["carcteristiques-2022.csv"] != dc["carcteristiques-2022.csv"]
    assert da["roads.osm"] == dc["roads.osm"]  # the road network is the fixed "real world"


def test_everything_is_labelled_synthetic(demo):
    assert demo.synthetic is True
    assert "SYNTHETIC" in (demo.out_dir / "README.txt").read_text()
    assert "SYNTHETIC" in (demo.out_dir / "roads.osm").read_text()[:400]
    assert "SYNTHETIC" in (demo.out_dir / "demo_truth" / "model.json").read_text()


def test_bad_scale_is_a_user_error(tmp_path):
    from pipeline.core.errors import AccidentsError

    with pytest.raises(AccidentsError, match="scale"):
        generate_demo(tmp_path, years=[2023], scale=0)


def test_cli_writes_demo_and_says_synthetic(tmp_path, capsys, monkeypatch):
    from pipeline.cli import main

    monkeypatch.setenv("ACCIDENTS_DATA_DIR", str(tmp_path / "data"))
    assert main(["demo-data", "--out", str(tmp_path / "out"), "--years", "2023", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "SYNTHETIC" in out and "2023:" in out
    assert (tmp_path / "out" / "caracteristiques-2023.csv").exists()
    assert main(["demo-data", "--out", str(tmp_path / "x"), "--scale", "-2"]) == 2
    err = capsys.readouterr().err
    assert "--scale" in err and err.count("\n") == 1
