"""Silver (roads, road points, sampling, features) on synthetic accidents: bench/bench_silver.py."""

from __future__ import annotations


def silver(work_dir: str, scale: float, neg_ratio: int = 20, grid_step: float | None = None,
           network: str = "demo") -> dict:
    from bench.bench_silver import measure

    return measure(scale, neg_ratio, grid_step, network)
