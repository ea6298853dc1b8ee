"""Accident sources as classes: the offline demo, data.gouv.fr and a local folder.

Each source knows its BAAC files per year, its roads file (if it ships one), its true intensity (the
demo only) and the years it covers. `open_source` turns a `source` parameter (CLI `--source`, the
Dagster resource's `source`) into one of them; nothing else in the project branches on the name.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.core.errors import AccidentsError
from pipeline.core.settings import Settings
from pipeline.sources.datagouv import download_year_files
from pipeline.sources.demo.generator import generate_demo
from pipeline.sources.demo.model import load_truth
from pipeline.sources.mirror import find_year_files
from pipeline.sources.provenance import DEMO_LABEL

if TYPE_CHECKING:
    from pipeline.sources.demo.model import DemoTruth

DEMO_YEARS = tuple(range(2019, 2025))  # the span the demo is always generated for
FIRST_LAYOUT_YEAR = 2019  # first year of the current BAAC file layout that the models use


class AccidentSource:
    """Where the BAAC files (and possibly roads and a truth) of a lake come from."""

    label: str  # recorded in bronze.ingest_log.source
    synthetic: bool = False
    announces_releases: bool = False  # a new year can appear (worth polling for)

    def files_for_years(self, years: list[int]) -> dict[int, dict[str, Path]]:
        raise NotImplementedError

    def roads_file(self, department: str | None = None) -> Path | None:
        """The roads file to load for `department`, or None to download OpenStreetMap into the cache."""
        return None

    def truth(self) -> DemoTruth | None:
        """The generator's true intensity (lets the evaluation score an oracle), None for real data."""
        return None

    def covered_years(self, today=None) -> tuple[int, ...]:
        """Years this source can provide (partitions, validation). By default every year since the
        current BAAC layout (2019) whose files can be published: a year's files appear in the autumn
        of the next year at the earliest."""
        today = today or dt.date.today()
        return tuple(range(FIRST_LAYOUT_YEAR, today.year))


def demo_files_dir(settings: Settings, seed: int, scale: float) -> Path:
    return settings.demo_dir / f"seed{seed}-scale{scale:g}"


DEMO_PACKAGE = Path(__file__).parent / "demo"


def _generator_fingerprint(package: Path = DEMO_PACKAGE) -> str:
    """Hash of the demo generator's code: a changed generator invalidates generated folders."""
    digest = hashlib.sha256()
    for module in sorted(package.glob("*.py")):
        digest.update(module.read_bytes())
    return digest.hexdigest()[:16]


class DemoSource(AccidentSource):
    """SYNTHETIC data generated offline, once per (seed, scale) over DEMO_YEARS and reused while the
    generator is unchanged. The synthetic weather and intensity depend on the whole span, so a single
    year is always read from the full span's generation, never generated alone."""

    label = DEMO_LABEL
    synthetic = True

    def __init__(self, settings: Settings, *, seed: int | None = None, scale: float = 1.0):
        self.settings, self.seed, self.scale = settings, settings.seed if seed is None else seed, scale
        self.folder = demo_files_dir(settings, self.seed, scale)

    def generated_folder(self) -> Path:
        marker = self.folder / "generated.json"
        params = {"years": list(DEMO_YEARS), "seed": self.seed, "scale": self.scale,
                  "generator": _generator_fingerprint()}
        if not (marker.is_file() and json.loads(marker.read_text()) == params):
            shutil.rmtree(self.folder, ignore_errors=True)  # no stale file of an earlier generation survives
            generate_demo(self.folder, years=DEMO_YEARS, seed=self.seed, scale=self.scale)
            marker.write_text(json.dumps(params))
        return self.folder

    def files_for_years(self, years):
        outside = sorted(set(years) - set(DEMO_YEARS))
        if outside:
            raise AccidentsError(f"year {outside[0]}: the demo covers {DEMO_YEARS[0]}-{DEMO_YEARS[-1]}")
        return {fs.year: dict(fs.files) for fs in find_year_files(self.generated_folder(), years)}

    def roads_file(self, department: str | None = None) -> Path:
        return self.generated_folder() / "roads.osm"

    def truth(self):
        folder = self.generated_folder() / "demo_truth"
        return load_truth(folder) if folder.exists() else None

    def covered_years(self, today=None):
        return DEMO_YEARS


class DataGouvSource(AccidentSource):
    """The official files, discovered through the data.gouv.fr dataset API and cached."""

    label = "datagouv"
    announces_releases = True

    def __init__(self, settings: Settings):
        self.settings = settings

    def files_for_years(self, years):
        file_sets = download_year_files(self.settings.datagouv_api, years, self.settings.cache_dir / "datagouv")
        return {fs.year: dict(fs.files) for fs in file_sets}


class FolderSource(AccidentSource):
    """A local folder of BAAC files as published (and optionally a `roads.osm` beside them, or one
    `roads-<dep>.osm` per département when the files cover several)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.label = f"folder {folder.resolve()}"

    def files_for_years(self, years):
        return {fs.year: dict(fs.files) for fs in find_year_files(self.folder, years)}

    def roads_file(self, department: str | None = None):
        own = (f"roads-{department}.osm", f"roads-{department}.osm.pbf") if department else ()
        for name in (*own, "roads.osm", "roads.osm.pbf"):
            if (self.folder / name).is_file():
                return self.folder / name
        return None


def open_source(name: str, settings: Settings, *, seed: int | None = None, scale: float = 1.0) -> AccidentSource:
    """'demo', 'datagouv' or an existing folder; anything else is a one-line error naming `source`."""
    if name == "demo":
        return DemoSource(settings, seed=seed, scale=scale)
    if name == "datagouv":
        return DataGouvSource(settings)
    folder = Path(name)
    if not folder.is_dir():
        raise AccidentsError(f"source={name!r}: unknown; expected 'demo', 'datagouv' or an existing folder")
    return FolderSource(folder)


def source_of_lake(labels: set[str], settings: Settings) -> AccidentSource | None:
    """The source a lake was ingested from, when its ingest log names exactly one that can be reopened:
    a folder, or the demo when exactly one generated demo folder exists under the data directory."""
    if len(labels) != 1:
        return None
    (label,) = labels
    if label.startswith("folder "):
        folder = Path(label.removeprefix("folder "))
        return FolderSource(folder) if folder.is_dir() else None
    if label == "demo":
        folders = sorted(p for p in settings.demo_dir.glob("seed*-scale*") if (p / "generated.json").is_file())
        if len(folders) != 1:
            return None
        seed, scale = folders[0].name.removeprefix("seed").split("-scale")
        return DemoSource(settings, seed=int(seed), scale=float(scale))
    return DataGouvSource(settings) if label == "datagouv" else None
