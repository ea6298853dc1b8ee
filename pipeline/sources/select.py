"""Turn a `--source` value into the BAAC files of each year: download, local folder or demo."""

from __future__ import annotations

from pathlib import Path

from pipeline.errors import AccidentsError
from pipeline.settings import Settings


def demo_files_dir(settings: Settings, seed: int, scale: float) -> Path:
    return settings.demo_dir / f"seed{seed}-scale{scale:g}"


def resolve_source(source: str, years: list[int], settings: Settings, *, seed: int = 42,
                   scale: float = 1.0) -> tuple[dict[int, dict[str, Path]], str]:
    """(files by year and kind, source label for the lake)."""
    from pipeline.sources.mirror import find_year_files

    if source == "demo":
        from pipeline.sources.demo import generate_demo

        folder = demo_files_dir(settings, seed, scale)
        generate_demo(folder, years=years, seed=seed, scale=scale)
        file_sets, label = find_year_files(folder, years), "demo"
    elif source == "datagouv":
        from pipeline.sources.datagouv import download_year_files

        file_sets = download_year_files(settings.datagouv_api, years, settings.cache_dir / "datagouv")
        label = "datagouv"
    else:
        folder = Path(source)
        if not folder.is_dir():
            raise AccidentsError(f"--source {source!r}: not 'datagouv', 'demo' or an existing folder")
        file_sets, label = find_year_files(folder, years), f"folder {folder.resolve()}"
    return {fs.year: dict(fs.files) for fs in file_sets}, label
