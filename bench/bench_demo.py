"""Time the SYNTHETIC demo generator at scale 1 and 200, and the truth's expected_counts.

Run: .venv/bin/python bench/bench_demo.py [--scales 1,200] [--keep DIR]
A script, not a test: prints seconds and row counts.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scales", default="1,200")
    parser.add_argument("--keep", default=None, help="write into this folder instead of a temporary one")
    args = parser.parse_args()

    started = time.perf_counter()
    import numpy as np
    import pandas as pd

    from pipeline.sources.demo.generator import generate_demo, load_truth

    print(f"imports: {time.perf_counter() - started:.1f} s")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.keep or tmp)
        for scale in (float(s) for s in args.scales.split(",")):
            out = root / f"scale{scale:g}"
            t0 = time.perf_counter()
            summary = generate_demo(out, scale=scale)
            seconds = time.perf_counter() - t0
            size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
            print(f"scale {scale:g}: {seconds:.1f} s, {summary.total_accidents} NC accidents "
                  f"({', '.join(f'{y}: {n}' for y, n in summary.accidents_per_year.items())}), "
                  f"{sum(summary.foreign_rows_per_year.values())} foreign rows, {len(summary.defects)} defects, "
                  f"{summary.vehicles} vehicles, {summary.users} users, {size / 1e6:.1f} MB on disk")
        print(f"roads.osm: {summary.osm_nodes} nodes, {summary.osm_ways} ways, {summary.osm_bytes / 1e3:.0f} kB; "
              f"{summary.sites} sites")
        from pipeline.sources.osm import load_roads_from_file
        from pipeline.silver.road_points import build_road_points

        t0 = time.perf_counter()
        roads = load_roads_from_file(out / "roads.osm")
        points = build_road_points(roads, department="988", grid_step=0.02, buffer_meters=200)
        print(f"silver road grid: {len(roads)} road segments, {len(points)} road points (0.02 deg, 200 m) "
              f"in {time.perf_counter() - t0:.1f} s")
        truth = load_truth(out)
        cells = np.unique(np.floor(truth.sites[["lat", "lon"]].to_numpy() / 0.02).astype(int), axis=0)
        centres = (cells + 0.5) * 0.02
        hours = pd.date_range("2024-01-01", "2024-12-31 23:00", freq="h")
        t0 = time.perf_counter()
        expected = truth.expected_counts(centres[:, 0], centres[:, 1], hours)
        print(f"expected_counts: {expected.shape[0]} points x {expected.shape[1]} hours in "
              f"{time.perf_counter() - t0:.1f} s (sum {expected.sum():.0f})")


if __name__ == "__main__":
    main()
