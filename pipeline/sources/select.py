"""Turn a `--source` value into the BAAC files of each year: download, local folder or demo."""

from __future__ import annotations

from pathlib import Path

from pipeline.core.errors import AccidentsError
from pipeline.core.settings import Settings


DEMO_YEARS = tuple(range(2019, 2025))  # the span the demo is always generated for


def demo_files_dir(settings: Settings, seed: int, scale: float) -> Path:
    return settings.demo_dir / f"seed{seed}-scale{scale:g}"


def _generator_fingerprint() -> str:
    """Hash of the demo generator's code: a changed generator invalidates generated folders."""
    import hashlib

    digest = hashlib.sha256()
    for module in sorted(Path(__file__).parent.glob("demo*.py")):
        digest.update(module.read_bytes())
    return digest.hexdigest()[:16]


def demo_files(settings: Settings, years: list[int], *, seed: int, scale: float) -> Path:
    """The demo folder for (seed, scale), generated once over DEMO_YEARS and reused while the
    generator is unchanged. The synthetic weather and intensity depend on the whole span, so a single
    year is always read from the full span's generation, never generated alone."""
    import json
    import shutil

    from pipeline.sources.demo import generate_demo

    outside = sorted(set(years) - set(DEMO_YEARS))
    if outside:
        raise AccidentsError(f"year {outside[0]}: the demo covers {DEMO_YEARS[0]}-{DEMO_YEARS[-1]}")
    folder = demo_files_dir(settings, seed, scale)
    marker = folder / "generated.json"
    params = {"years": list(DEMO_YEARS), "seed": seed, "scale": scale, "generator": _generator_fingerprint()}
    if not (marker.is_file() and json.loads(marker.read_text()) == params):
        shutil.rmtree(folder, ignore_errors=True)  # no stale file of an earlier generation survives
        generate_demo(folder, years=DEMO_YEARS, seed=seed, scale=scale)
        marker.write_text(json.dumps(params))
    return folder


def resolve_source(source: str, years: list[int], settings: Settings, *, seed: int = 42,
                   scale: float = 1.0) -> tuple[dict[int, dict[str, Path]], str]:
    """(files by year and kind, source label for the lake)."""
    from pipeline.sources.mirror import find_year_files

    if source == "demo":
        folder = demo_files(settings, years, seed=seed, scale=scale)
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
