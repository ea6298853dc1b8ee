"""`accidents demo-data`: write the offline SYNTHETIC demo data set (BAAC files, roads.osm, truth)."""

from __future__ import annotations

from pathlib import Path

from pipeline.core.errors import AccidentsError
from pipeline.core.params import parse_years
from pipeline.sources.demo.generator import generate_demo


def _scale(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise AccidentsError(f"--scale {text!r}: expected a number > 0") from None
    if not value > 0 or value != value or value == float("inf"):
        raise AccidentsError(f"--scale {text!r}: expected a number > 0")
    return value


def run(args, settings) -> int:
    years = list(parse_years(args.years, "--years"))
    scale = _scale(str(args.scale))
    seed = settings.seed if args.seed is None else args.seed

    summary = generate_demo(Path(args.out), years=years, seed=seed, scale=scale)
    per_year = ", ".join(f"{y}: {n}" for y, n in summary.accidents_per_year.items())
    print(f"SYNTHETIC demo data (not real accidents) written to {summary.out_dir} "
          f"(seed {summary.seed}, scale {summary.scale:g}) in {summary.seconds:.1f} s")
    print(f"  New Caledonia accidents per year: {per_year} (total {summary.total_accidents})")
    print(f"  + {sum(summary.foreign_rows_per_year.values())} rows of other départements, "
          f"{len(summary.defects)} deliberately defective rows, {summary.vehicles} vehicles, {summary.users} users")
    print(f"  roads.osm: {summary.osm_nodes} nodes, {summary.osm_ways} ways, {summary.osm_bytes / 1e6:.2f} MB; "
          f"truth: {summary.sites} sites in demo_truth/")
    return 0
