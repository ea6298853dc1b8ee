"""`accidents run`: the whole chain on one lake (default: offline demo data).

Each step is the corresponding sub-command, parsed by the same parser, so `run` validates and prints
exactly what the individual commands do: ingest -> features -> train (reference protocol for the
predecessor's comparison, then the temporal protocol for both samplers, the uniform one last so it is
the champion) -> evaluate -> predict (tomorrow) -> map.
"""

from __future__ import annotations

import time
from pathlib import Path

from pipeline.cli.ingest import add_source_arguments

RUN_TRIALS = 20


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "run", help="run the whole chain: ingest, features, train, evaluate, predict tomorrow, map",
        description="Ingest, build silver features, train and register models, evaluate on the hold-out "
                    "year, predict tomorrow and write its map. Default: offline SYNTHETIC demo data.")
    add_source_arguments(parser)
    parser.add_argument("--roads-file", help="OpenStreetMap file (default: the demo's roads.osm, "
                        "DIR/roads.osm for a folder source, else download)")
    parser.add_argument("--trials", type=int, default=RUN_TRIALS,
                        help="Optuna trials per algorithm and training (default %(default)s)")
    parser.add_argument("--algorithms", default="catboost,lightgbm,xgboost")
    parser.add_argument("--date", help="day to predict (default: tomorrow in Pacific/Noumea)")
    parser.add_argument("--weather", default="auto", help="hourly weather history (see `accidents features --help`)")
    parser.set_defaults(func=run)


def _roads_file(args, settings) -> str | None:
    from pipeline.sources.select import demo_files_dir

    if args.roads_file:
        return args.roads_file
    if args.source == "demo":
        seed = settings.seed if args.seed is None else args.seed
        return str(demo_files_dir(settings, seed, args.scale) / "roads.osm")
    if args.source != "datagouv" and (Path(args.source) / "roads.osm").is_file():
        return str(Path(args.source) / "roads.osm")
    return None  # download from OpenStreetMap (cached)


def _weather(args, settings) -> str:
    """The demo's own weather for a demo run (its folder is known here), else --weather as given."""
    from pipeline.sources.select import demo_files_dir

    if args.weather == "auto" and args.source == "demo":
        seed = settings.seed if args.seed is None else args.seed
        return str(demo_files_dir(settings, seed, args.scale) / "demo_truth")
    return args.weather


def _steps(args, settings) -> list[tuple[str, list[str]]]:
    source = ["--years", args.years, "--source", args.source, "--scale", str(args.scale)]
    if args.dep:
        source += ["--dep", args.dep]
    if args.seed is not None:
        source += ["--seed", str(args.seed)]
    seed = [] if args.seed is None else ["--seed", str(args.seed)]
    train = ["train", "--trials", str(args.trials), "--algorithms", args.algorithms, *seed]
    date = ["--date", args.date] if args.date else []
    roads = _roads_file(args, settings)
    return [
        ("ingest", ["ingest", *source]),
        ("features", ["features", *(["--roads-file", roads] if roads else []), "--weather", _weather(args, settings),
                      *seed]),
        ("train: reference protocol (predecessor's 80/20 split, exclusion sampler)",
         [*train, "--protocol", "reference", "--sampler", "exclusion"]),
        ("train: temporal protocol, exclusion sampler", [*train, "--protocol", "temporal", "--sampler", "exclusion"]),
        ("train: temporal protocol, uniform sampler (champion)",
         [*train, "--protocol", "temporal", "--sampler", "uniform"]),
        ("evaluate on the hold-out year", ["evaluate", "--sampler", "both"]),
        ("predict", ["predict", *date]),
        ("map", ["map", *date]),
    ]


def run(args, settings) -> int:
    from pipeline.cli import build_parser

    parser = build_parser()
    started = time.perf_counter()
    if args.source == "demo":
        print("note: --source demo uses SYNTHETIC accidents generated offline (not real data)")
    for title, argv in _steps(args, settings):
        print(f"\n== {title}: accidents {' '.join(argv)}", flush=True)
        step_started = time.perf_counter()
        step = parser.parse_args(argv)
        code = step.func(step, settings)
        if code:
            return int(code)
        print(f"-- {time.perf_counter() - step_started:.1f} s", flush=True)
    print(f"\n== done in {time.perf_counter() - started:.1f} s")
    return 0
