"""A local folder holding the BAAC CSV files as published (offline work, or a pre-downloaded copy).

Files may sit directly in the folder or in sub-folders (e.g. `2021/lieux-2021.csv`); the download
cache of `pipeline.sources.datagouv` is itself a valid mirror folder.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pipeline.core.errors import AccidentsError
from pipeline.sources.baac_files import KINDS, BaacFileSet, classify_filename, format_years


def _index_folder(folder: Path) -> dict[tuple[str, int], list[Path]]:
    found: dict[tuple[str, int], list[Path]] = {}
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.name.startswith("."):
            continue
        key = classify_filename(path.name)
        if key is not None:
            found.setdefault(key, []).append(path)
    return found


def find_year_files(folder: Path, years: Sequence[int]) -> list[BaacFileSet]:
    """The four BAAC files of each requested year in `folder`, one BaacFileSet per year (sorted)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise AccidentsError(f"BAAC mirror folder {folder} does not exist or is not a folder")
    found = _index_folder(folder)
    sets = []
    for year in sorted(set(years)):
        files: dict[str, Path] = {}
        missing = []
        for kind in KINDS:
            candidates = found.get((kind, year), [])
            if len(candidates) > 1:
                names = " and ".join(str(p) for p in candidates)
                raise AccidentsError(
                    f"BAAC mirror folder {folder}: several {kind} files for {year}: {names}; keep only one"
                )
            if candidates:
                files[kind] = candidates[0]
            else:
                missing.append(kind)
        if missing:
            available = format_years({y for (_, y) in found})
            raise AccidentsError(
                f"BAAC mirror folder {folder}: year {year} has no {', '.join(missing)} file "
                f"(expected e.g. {missing[0]}-{year}.csv; years with BAAC files there: {available})"
            )
        sets.append(BaacFileSet(year, files))
    return sets
