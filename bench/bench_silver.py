"""Benchmark the silver layer (roads -> road points -> sampling -> features) on synthetic accidents.

    .venv/bin/python bench/bench_silver.py                 # scale 1 and 200, each in its own process
    .venv/bin/python bench/bench_silver.py --scales 1      # scale 1 only

Scale 1 = ~1,700 accidents over 2019-2024 (New Caledonia's order of magnitude); scale 200 = ~340,000.
Roads: the demo generator's synthetic New Caledonia network when available, else a generated grid.
Accidents are placed along roads (weighted by length, 30 m noise). Prints time and peak memory.
Targets: scale 1 < 10 s, scale 200 < 5 min within 24 GB.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ACCIDENTS_PER_SCALE = 1700
YEARS = (2019, 2024)


def write_roads_osm(path: Path, network: str = "demo") -> str:
    """The demo generator's network ("demo", when available) or a small street grid ("small")."""
    if network == "small":
        return _write_small_grid_osm(path)
    try:
        from pipeline.sources.demo.geography import build_network, write_osm_xml
    except ImportError:
        return _write_grid_osm(path)
    write_osm_xml(build_network(), path)
    return "demo network"


def _write_grid_osm(path: Path) -> str:
    import numpy as np

    nodes, ways, nid = [], [], 1
    for w, lat in enumerate(np.arange(-22.6, -20.4, 0.1) + 0.0005):
        refs = []
        for lon in np.arange(164.2, 167.0, 0.01):
            nodes.append(f'<node id="{nid}" lat="{lat:.6f}" lon="{lon:.6f}"/>')
            refs.append(nid)
            nid += 1
        ways.append(f'<way id="{w + 1}">' + "".join(f'<nd ref="{r}"/>' for r in refs)
                    + '<tag k="highway" v="secondary"/></way>')
    path.write_text('<?xml version="1.0"?><osm version="0.6">' + "".join(nodes + ways) + "</osm>")
    return "grid network"


def _write_small_grid_osm(path: Path) -> str:
    """Streets every 0.0025 deg over 0.05 x 0.05 deg near Noumea: they cross the cell centres of the
    0.02, 0.01 and 0.005 deg grids, so every grid step finds road points (smoke tests)."""
    import numpy as np

    ticks = np.round(np.arange(0, 0.05, 0.0025), 4)
    lat0, lon0 = -22.3, 166.4
    nodes, ways, ids = [], [], {}
    for i, dlat in enumerate(ticks):
        for j, dlon in enumerate(ticks):
            ids[i, j] = len(ids) + 1
            nodes.append(f'<node id="{ids[i, j]}" lat="{lat0 + dlat:.4f}" lon="{lon0 + dlon:.4f}"/>')
    n = len(ticks)
    lines = [[ids[i, j] for j in range(n)] for i in range(n)] + [[ids[i, j] for i in range(n)] for j in range(n)]
    for w, refs in enumerate(lines):
        ways.append(f'<way id="{w + 1}">' + "".join(f'<nd ref="{r}"/>' for r in refs)
                    + '<tag k="highway" v="residential"/></way>')
    path.write_text('<?xml version="1.0"?><osm version="0.6">' + "".join(nodes + ways) + "</osm>")
    return "small street grid"


def synthetic_accidents(roads, n: int, seed: int):
    import numpy as np
    import pandas as pd
    import shapely

    rng = np.random.default_rng(seed)
    lengths = roads["length_m"].to_numpy()
    edges = rng.choice(len(roads), size=n, p=lengths / lengths.sum())
    geoms = shapely.from_wkt(roads["geometry_wkt"].to_numpy())[edges]
    pts = shapely.line_interpolate_point(geoms, rng.random(n), normalized=True)
    noise = rng.normal(0, 30 / 111_000, (n, 2))
    start = np.datetime64(f"{YEARS[0]}-01-01T00:00")
    minutes = int((np.datetime64(f"{YEARS[1] + 1}-01-01T00:00") - start).astype(int))
    times = start + rng.integers(0, minutes, n).astype("timedelta64[m]")
    frame = pd.DataFrame({
        "accident_id": [f"B{i:09d}" for i in range(n)], "event_time": times.astype("datetime64[ns]"),
        "lat": shapely.get_y(pts) + noise[:, 0], "lon": shapely.get_x(pts) + noise[:, 1],
        "atm": rng.choice([1, 2, 3, 5, 8], n, p=[0.75, 0.12, 0.05, 0.03, 0.05]),
        "com": "98818", "dep": "988", "vma": rng.choice([50, 70, 90, 110], n),
    })
    frame["year"] = frame["event_time"].dt.year
    return frame


def measure(scale: float, neg_ratio: int = 20, grid_step: float | None = None, network: str = "demo") -> dict:
    """Build roads then silver on a fresh lake with scale x 1,700 synthetic accidents; the figures."""
    from pipeline.core.lake import connect
    from pipeline.core.settings import Settings
    from pipeline.silver.features import build_features
    from pipeline.silver.params import FeatureParams
    from pipeline.bronze.roads import build_roads

    with tempfile.TemporaryDirectory(prefix="bench-silver-") as tmp:
        tmp = Path(tmp)
        con = connect(Settings(data_dir=tmp / "data"))
        network = write_roads_osm(tmp / "roads.osm", network)
        t0 = time.perf_counter()
        roads = build_roads(con, roads_file=tmp / "roads.osm", department="988")  # no accidents yet: class defaults only
        t_roads = time.perf_counter() - t0
        accidents = synthetic_accidents(con.execute("SELECT * FROM bronze.roads").df(),
                                        max(int(ACCIDENTS_PER_SCALE * scale), 1), seed=1)
        con.register("acc", accidents)
        con.execute("CREATE OR REPLACE TABLE bronze.accidents AS SELECT accident_id, event_time, lat, lon, "
                    "atm::INTEGER AS atm, com, dep, year::INTEGER AS year, vma::INTEGER AS vma FROM acc")
        con.unregister("acc")
        # At scale 200 every road point lies within 300 m of some accident, so the exclusion radius
        # shrinks with the accident density (area per accident ~ 1/scale) to keep candidates.
        exclusion_km = 0.3 / scale ** 0.5 if scale > 1 else 0.3
        grid = {} if grid_step is None else {"grid_step": grid_step}
        t0 = time.perf_counter()
        summary = build_features(con, FeatureParams(neg_ratio=neg_ratio, exclusion_km=exclusion_km, **grid),
                                 department="988")
        t_features = time.perf_counter() - t0
        con.close()
    return {"seconds": t_roads + t_features, "roads_s": t_roads, "features_s": t_features, "network": network,
            "road_edges": roads.rows, "accidents": summary.positives, "points": summary.road_points,
            "feature_rows": sum(summary.rows_by_sampler.values()), "exclusion_km": exclusion_km,
            **{f"silver_{stage}_s": seconds for stage, seconds in summary.timings.items()}}


def run_one(scale: float, neg_ratio: int) -> None:
    f = measure(scale, neg_ratio)
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2
    print(f"scale {scale:g} ({f['network']}): {f['road_edges']} road edges in {f['roads_s']:.1f}s; "
          f"{f['accidents']} accidents, {f['points']} road points, {f['feature_rows']} feature rows "
          f"(exclusion {f['exclusion_km']:.3f} km) in {f['features_s']:.1f}s; peak memory {peak_gb:.2f} GB", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", default="1,200")
    parser.add_argument("--neg-ratio", type=int, default=20)
    parser.add_argument("--one", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        run_one(args.one, args.neg_ratio)
        return 0
    for scale in args.scales.split(","):  # one process per scale so peak memory is per scale
        t0 = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--one", scale, "--neg-ratio", str(args.neg_ratio)], check=True)
        print(f"  (process wall time incl. imports {time.perf_counter() - t0:.1f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
