"""The whole chain with the real CLI in a temporary ACCIDENTS_DATA_DIR, stage by stage: generate the
demo files, ingest, features, the chain's three trainings (as `accidents run`), evaluate, predict, map."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from bench.adapters.process import BIN, cli, run_measured
from bench.worker import partial

ALL_STAGES = "generate,ingest,features,train,evaluate,predict,map"
PREDICT_DATE = "2025-06-15"
GENERATE = ("from pipeline.core.settings import Settings; from pipeline.sources.select import DemoSource; "
            "DemoSource(Settings.from_env(), scale={scale!r}).generated_folder()")


def exclusion_km(scale: float) -> float:
    """At scale 200 every road point lies within 300 m of some accident: the exclusion radius shrinks
    with the accident density (area per accident ~ 1/scale), as in bench_silver.py."""
    return 0.3 / scale ** 0.5 if scale > 1 else 0.3


def stage_commands(scale: float, trials: int, algorithms: str | None) -> dict[str, list[list[str]]]:
    from pipeline.usecases.training import CHAIN_TRAININGS

    algos = ["--algorithms", algorithms] if algorithms else []
    return {
        "generate": [[str(BIN / "python"), "-c", GENERATE.format(scale=float(scale))]],
        "ingest": [cli("ingest", "--source", "demo", "--scale", f"{scale:g}")],
        "features": [cli("features", "--exclusion-km", f"{exclusion_km(scale):.4f}")],
        "train": [cli("train", "--protocol", p, "--sampler", s, "--trials", str(trials), *algos)
                  for p, s in CHAIN_TRAININGS],
        "evaluate": [cli("evaluate")],
        "predict": [cli("predict", "--date", PREDICT_DATE)],
        "map": [cli("map", "--date", PREDICT_DATE)],
    }


def chain(work_dir: str, scale: float, stages: str = ALL_STAGES, trials: int = 20, algorithms: str | None = None,
          keep: bool = False) -> dict:
    commands = stage_commands(scale, trials, algorithms)
    figures: dict = {"scale": scale, "trials": trials}
    total = 0.0
    peak = 0.0
    with tempfile.TemporaryDirectory(prefix="chain-", dir=work_dir) as tmp:
        env = {"ACCIDENTS_DATA_DIR": tmp, "ACCIDENTS_CATALOG": "sqlite"}
        for stage in stages.split(","):
            partial({**figures, "seconds": total, "stage_peak_mb": peak, "running": stage})
            seconds = stage_peak = 0.0
            for args in commands[stage]:
                done = run_measured(args, env_extra=env, what=f"{stage} ({' '.join(args[1:3])})")
                seconds += done.seconds
                stage_peak = max(stage_peak, done.peak_mb)
            figures[f"{stage}_s"] = seconds
            figures[f"{stage}_peak_mb"] = stage_peak
            total += seconds
            peak = max(peak, stage_peak)
            print(f"chain {stage}: {seconds:.1f} s, peak {stage_peak:.0f} MB", flush=True)
            if stage == "ingest":
                figures["accidents"] = _count(tmp, "SELECT count(*) FROM bronze.accidents")
            if stage == "features":
                figures["road_points"] = _count(tmp, "SELECT count(*) FROM silver.road_points")
                figures["feature_rows"] = _count(tmp, "SELECT count(*) FROM silver.features")
        if keep:
            os.rename(tmp, Path(work_dir) / f"chain-scale{scale:g}-kept")
            os.makedirs(tmp)
    figures["seconds"] = total
    figures["stage_peak_mb"] = peak
    return figures


def _count(data_dir: str, sql: str) -> int:
    from pipeline.core.lake import lake_connection
    from pipeline.core.settings import Settings

    with lake_connection(Settings(data_dir=Path(data_dir)), read_only=True) as con:
        return int(con.execute(sql).fetchone()[0])
