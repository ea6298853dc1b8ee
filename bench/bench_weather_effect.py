"""Weather-effect recovery on the demo: the learned light-rain and heavy-rain ratios per month against
the generator's true ratios.

    ACCIDENTS_DATA_DIR=/tmp/x uv run python bench/bench_weather_effect.py [--year 2024] [--model champion]

Needs a lake built by `accidents run` (demo source) and its registered models. For each month of
--year, every road point is scored at every third hour of the month with atm 1 (normal), 2 (light
rain) and 3 (heavy rain), the history windows being those evaluation uses (1 January of the year);
the learned ratio is sum p(atm=k) / sum p(atm=1). The true ratio is the same sum of the demo's true
intensity (`DemoTruth.expected_counts` with atm fixed). The measurement is the replication's
(`bench.replication.weather_effects`) on more hours. Target (issue 9): within +-25 % every month.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pandas as pd  # noqa: E402

RAIN_EFFECTS = ((2, "light"), (3, "heavy"))  # BAAC atm codes: light rain, heavy rain


def learned_and_true_ratios(con, model, truth, year: int, step_hours: int = 3) -> pd.DataFrame:
    """One row per month: learned and true light/heavy-rain ratios and their gaps in %, measured by the
    replication's `weather_effects` on every `step_hours`-th hour of `year`."""
    from bench.replication import weather_effects

    hours = pd.date_range(f"{year}-01-01", f"{year + 1}-01-01", freq=f"{step_hours}h", inclusive="left")
    effects = weather_effects(con, model, truth, year, hours=hours, effects=RAIN_EFFECTS)
    wide = effects.pivot(index="month", columns="effect", values=["learned", "truth"])
    out = pd.DataFrame({"month": wide.index})
    for _, name in RAIN_EFFECTS:
        out[f"{name}_learned"] = wide[("learned", name)].to_numpy()
        out[f"{name}_true"] = wide[("truth", name)].to_numpy()
    for _, name in RAIN_EFFECTS:
        out[f"{name}_gap_%"] = 100 * (out[f"{name}_learned"] / out[f"{name}_true"] - 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--year", type=int, default=2024, help="year whose months are scored (default 2024)")
    parser.add_argument("--model", default="champion", help="'champion' or a registered version")
    parser.add_argument("--dep", default="988")
    args = parser.parse_args()

    from pipeline.usecases.predictions import load_model
    from pipeline.core.lake import connect
    from pipeline.core.settings import Settings
    from pipeline.sources.demo.model import load_truth
    from pipeline.silver.weather import demo_truth_folder

    settings = Settings.from_env()
    model, name, version = load_model(settings.for_departments(args.dep), args.model)
    con = connect(settings, read_only=True)
    try:
        truth = load_truth(demo_truth_folder(con, settings))
        table = learned_and_true_ratios(con, model, truth, args.year)
    finally:
        con.close()
    print(f"{name} v{version} ({model.algorithm}, sampler {model.sampler}); months of {args.year}")
    print(table.round(2).to_string(index=False))
    within = (table[["light_gap_%", "heavy_gap_%"]].abs() <= 25).all(axis=1)
    print(f"months within +-25 % of the truth for both ratios: {int(within.sum())}/12")


if __name__ == "__main__":
    main()
