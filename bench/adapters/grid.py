"""Grid steps: full-grid evaluation of a year (bench_scoring.py), one predicted day and a backfill
(bench_predictions.py), each on a synthetic world with as many road points as the demo network has
at the step (bench/synthetic_world.py) and a real intensity model fitted on it."""

from __future__ import annotations

from bench.adapters.fixtures import road_point_count


def _points(work_dir: str, grid_step: float, points: int | None) -> int:
    return points if points is not None else road_point_count(work_dir, grid_step)


def evaluate_year(work_dir: str, grid_step: float, points: int | None = None, hours: int | None = None,
                  model: str = "glm", year: int = 2024) -> dict:
    from bench.bench_scoring import measure

    figures = measure(_points(work_dir, grid_step, points), year=year, model=model, hours_limit=hours)
    return {**figures, "grid_step": grid_step, "cell_hours_per_cpu_s": figures["cell_hours"] / max(figures["cpu_s"], 1e-9)}


def predict_day(work_dir: str, grid_step: float, points: int | None = None, model: str = "glm") -> dict:
    from bench.bench_predictions import measure

    figures = measure(_points(work_dir, grid_step, points), days=0, model=model)
    return {**figures, "seconds": figures["one_day_s"], "grid_step": grid_step}


def backfill(work_dir: str, grid_step: float, days: int, points: int | None = None, model: str = "glm") -> dict:
    from bench.bench_predictions import measure

    figures = measure(_points(work_dir, grid_step, points), days=days, model=model)
    return {**figures, "seconds": figures["backfill_s"], "grid_step": grid_step}
