"""Inputs shared by the benchmarks, built once in the work folder and reused by the later runs (the
warm-up run builds them): the demo files per scale, the road-point count per grid step, a demo lake
with a registered champion."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from bench.adapters.process import cli, run_measured

# The lake the CLI and start-up benchmarks read: the demo at scale 1 with every candidate, the boosted
# ones tuned briefly (the champion is what predict and serve load); --quick: a tiny one.
CHAMPION_LAKE = {"full": {"scale": 1.0, "trials": 5, "candidates": None},
                 "quick": {"scale": 0.05, "trials": 1, "candidates": "hotspot,glm", "roads": "small"}}
# One predicted day in the lake, so that the README's queries over gold.predictions and
# gold.prediction_totals have rows (`accidents predict` itself is measured on another day).
FIXTURE_DAY = "2025-06-14"
READY = "ingest, features, train, predict done\n"


def demo_folder(work_dir: str, scale: float) -> Path:
    """The demo files of `scale` (default seed), generated once (DemoSource caches them)."""
    from pipeline.core.settings import Settings
    from pipeline.sources.select import DemoSource

    return DemoSource(Settings(data_dir=Path(work_dir) / "demo-files"), scale=scale).generated_folder()


def road_point_count(work_dir: str, grid_step: float) -> int:
    """Road points of the demo network at `grid_step` (built once per step, then read from a cache)."""
    cache = Path(work_dir) / "road_points.json"
    counts = json.loads(cache.read_text()) if cache.is_file() else {}
    key = f"{grid_step:g}"
    if key not in counts:
        from pipeline.silver.road_points import build_road_points
        from pipeline.sources.osm import load_roads_from_file

        roads = load_roads_from_file(demo_folder(work_dir, 1.0) / "roads.osm")
        counts[key] = len(build_road_points(roads, department="988", grid_step=grid_step, buffer_meters=200))
        cache.write_text(json.dumps(counts))
    return counts[key]


def champion_lake(work_dir: str, *, scale: float, trials: int, candidates: str | None, roads: str = "demo") -> Path:
    """A data folder holding a demo lake with silver features, a registered champion (the winner of
    `candidates`, None: every candidate) and one predicted day, built once with the CLI (ingest,
    features, train, predict) as a user would; a folder built by an older version is rebuilt.
    roads="small": a small street grid instead of the demo's network (smoke tests: far fewer road points
    and edges)."""
    data = Path(work_dir) / f"lake-scale{scale:g}-trials{trials}-{(candidates or 'all').replace(',', '+')}-{roads}"
    done = data / "bench-ready"
    if not done.is_file() or done.read_text() != READY:
        if data.exists():
            shutil.rmtree(data)
        env = {"ACCIDENTS_DATA_DIR": str(data), "ACCIDENTS_CATALOG": "sqlite"}
        chosen = ["--candidates", candidates] if candidates else []
        roads_file = []
        if roads == "small":
            from bench.bench_silver import write_roads_osm

            data.mkdir(parents=True, exist_ok=True)
            write_roads_osm(data / "small-roads.osm", "small")
            roads_file = ["--roads-file", str(data / "small-roads.osm")]
        for args in (cli("ingest", "--source", "demo", "--scale", f"{scale:g}"), cli("features", *roads_file),
                     cli("train", "--trials", str(trials), *chosen), cli("predict", "--date", FIXTURE_DAY)):
            run_measured(args, env_extra=env, what=" ".join(args[1:2]))
        done.write_text(READY)
    return data
