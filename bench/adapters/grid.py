"""Grid steps: full-grid evaluation of a year (bench_scoring.py), one predicted day and a backfill
(bench_predictions.py), each with as many synthetic road points as the demo network has at the step.

The cost of these stages depends on the number of road points and hours, not on where the points
are, so synthetic points in the grid's number stand for the real ones."""

from __future__ import annotations

from bench.adapters.fixtures import road_point_count


def _points(work_dir: str, grid_step: float, points: int | None) -> int:
    return points if points is not None else road_point_count(work_dir, grid_step)


def evaluate_year(work_dir: str, grid_step: float, points: int | None = None, hours: int | None = None,
                  rounds: int = 300, year: int = 2024) -> dict:
    from bench.bench_scoring import measure

    figures = measure(_points(work_dir, grid_step, points), year=year, rounds=rounds, hours_limit=hours)
    return {**figures, "seconds": figures["grid_s"], "grid_step": grid_step,
            "cell_hours_per_cpu_s": figures["cell_hours"] / max(figures["grid_cpu_s"], 1e-9)}


def predict_day(work_dir: str, grid_step: float, points: int | None = None) -> dict:
    from bench.bench_predictions import measure

    figures = measure(_points(work_dir, grid_step, points), days=0)
    return {**figures, "seconds": figures["one_day_s"], "grid_step": grid_step}


def backfill(work_dir: str, grid_step: float, days: int, points: int | None = None) -> dict:
    from bench.bench_predictions import measure

    figures = measure(_points(work_dir, grid_step, points), days=days)
    return {**figures, "seconds": figures["backfill_s"], "grid_step": grid_step}
