"""Local mirror folders of BAAC files, and the file-name rules they rely on."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.core.errors import AccidentsError
from pipeline.sources.baac_files import KINDS, BaacFile, classify_filename, format_years
from pipeline.sources.mirror import find_year_files

SHARED_SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "data" / "baac-samples"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("caracteristiques-2019.csv", ("caracteristiques", 2019)),
        ("carcteristiques-2022.csv", ("caracteristiques", 2022)),  # misspelt at the source
        ("caract-2023.csv", ("caracteristiques", 2023)),
        ("caracteristiques_2018.csv", ("caracteristiques", 2018)),
        ("vehicules_2017.csv", ("vehicules", 2017)),
        ("Véhicules-2016.CSV", ("vehicules", 2016)),
        ("lieux-2021.csv", ("lieux", 2021)),
        ("usagers-2024.csv", ("usagers", 2024)),
        ("vehicules-immatricules-baac-2009-2022.csv", None),  # another table of the same dataset
        ("lieux-2021.csv.part", None),
        ("lieux-2021.txt", None),
        ("usagers-21.csv", None),
        ("description-des-bases-de-donnees-annuelles-2024.pdf", None),
    ],
)
def test_classify_filename(name, expected):
    assert classify_filename(name) == expected


def test_format_years_compacts_runs():
    assert format_years([2023, 2017, 2018, 2021, 2022]) == "2017-2018, 2021-2023"
    assert format_years([]) == "none"


def _write_year(folder: Path, names: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_text('"Num_Acc"\n"1"\n', encoding="utf-8")


def test_finds_published_spellings_directly_and_in_subfolders(tmp_path):
    _write_year(tmp_path, ["carcteristiques-2022.csv", "lieux-2022.csv", "vehicules-2022.csv", "usagers-2022.csv"])
    _write_year(tmp_path / "2017", ["caracteristiques_2017.csv", "lieux_2017.csv", "vehicules_2017.csv",
                                    "usagers_2017.csv"])
    # Unrelated files of the publication, notes and half-downloaded files are ignored.
    _write_year(tmp_path, ["vehicules-immatricules-baac-2009-2022.csv", "README.md", ".lieux-2022.csv.abc.part"])

    sets = find_year_files(tmp_path, [2022, 2017])

    assert [s.year for s in sets] == [2017, 2022]
    assert sets[1].files == {
        "caracteristiques": tmp_path / "carcteristiques-2022.csv",
        "lieux": tmp_path / "lieux-2022.csv",
        "vehicules": tmp_path / "vehicules-2022.csv",
        "usagers": tmp_path / "usagers-2022.csv",
    }
    assert sets[0].path("vehicules") == tmp_path / "2017" / "vehicules_2017.csv"
    assert [f.kind for f in sets[0].as_files()] == list(KINDS)
    assert sets[0].as_files()[0] == BaacFile("caracteristiques", 2017, tmp_path / "2017" / "caracteristiques_2017.csv")


def test_missing_folder_is_named(tmp_path):
    missing = tmp_path / "no-such-mirror"
    with pytest.raises(AccidentsError, match=f"BAAC mirror folder {missing} does not exist"):
        find_year_files(missing, [2021])


def test_missing_kind_names_year_kind_and_folder(tmp_path):
    _write_year(tmp_path, ["caracteristiques-2021.csv", "lieux-2021.csv", "usagers-2021.csv"])
    with pytest.raises(AccidentsError) as error:
        find_year_files(tmp_path, [2021])
    message = str(error.value)
    assert str(tmp_path) in message
    assert "year 2021 has no vehicules file" in message
    assert "vehicules-2021.csv" in message


def test_absent_year_lists_the_years_present(tmp_path):
    _write_year(tmp_path, ["caract-2023.csv", "lieux-2023.csv", "vehicules-2023.csv", "usagers-2023.csv"])
    with pytest.raises(AccidentsError, match=r"year 2019 has no caracteristiques, lieux, vehicules, usagers file.*: 2023\)"):
        find_year_files(tmp_path, [2019, 2023])


def test_two_candidates_for_one_table_are_both_named(tmp_path):
    _write_year(tmp_path, ["carcteristiques-2022.csv", "lieux-2022.csv", "vehicules-2022.csv", "usagers-2022.csv"])
    _write_year(tmp_path / "old", ["caracteristiques-2022.csv"])
    with pytest.raises(AccidentsError) as error:
        find_year_files(tmp_path, [2022])
    message = str(error.value)
    assert "several caracteristiques files for 2022" in message
    assert str(tmp_path / "carcteristiques-2022.csv") in message
    assert str(tmp_path / "old" / "caracteristiques-2022.csv") in message


@pytest.mark.skipif(not SHARED_SAMPLES.is_dir(), reason="shared BAAC samples not available")
def test_shared_real_samples_form_a_mirror():
    (file_set,) = find_year_files(SHARED_SAMPLES, [2021])
    assert file_set.files["lieux"] == SHARED_SAMPLES / "lieux-2021.csv"
    assert all(path.read_text(encoding="utf-8").startswith('"Num_Acc"') for path in file_set.files.values())
