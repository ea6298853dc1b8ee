"""`accidents run`: the whole chain on one lake (default: offline demo data).

ingest -> features -> train (the chain's trainings, see pipeline.usecases.training.CHAIN_TRAININGS)
-> evaluate -> predict (tomorrow) -> map, each through the same use case and printer as its own
sub-command, with one source object so that roads and the demo truth follow the data.
"""

from __future__ import annotations

import time

from pipeline.bronze.params import IngestParams
from pipeline.cli.common import add_department_argument, parse_date
from pipeline.core.params import add_arguments, from_namespace
from pipeline.gold.params import TrainParams


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "run", help="run the whole chain: ingest, features, train, evaluate, predict tomorrow, map",
        description="Ingest, build silver features, train and register models, evaluate on the hold-out "
                    "year, predict tomorrow and write its map. Default: offline SYNTHETIC demo data.")
    add_arguments(parser, IngestParams)
    add_department_argument(parser)
    add_arguments(parser, TrainParams, skip=("protocol", "sampler", "seed", "test_size"))
    parser.add_argument("--roads-file", help="OpenStreetMap file (default: the source's roads, else download)")
    parser.add_argument("--date", help="day to predict (default: tomorrow in the département's time zone)")
    parser.set_defaults(func=run)


def run(args, settings) -> int:
    from pipeline.cli.evaluate import print_evaluation
    from pipeline.cli.features import print_features
    from pipeline.cli.ingest import print_ingest
    from pipeline.cli.predict import format_summary
    from pipeline.gold.params import EvaluateParams, MapParams, PredictParams
    from pipeline.silver.params import FeatureParams
    from pipeline.usecases.evaluation import evaluate_models
    from pipeline.usecases.features import build_silver
    from pipeline.usecases.ingest import ingest
    from pipeline.usecases.predictions import draw_map, predict, tomorrow
    from pipeline.usecases.training import CHAIN_TRAININGS, train_and_register

    ingest_params = from_namespace(IngestParams, args)
    train_params = from_namespace(TrainParams, args, seed=ingest_params.seed)
    started = time.perf_counter()

    def step(title: str) -> float:
        print(f"\n== {title}", flush=True)
        return time.perf_counter()

    def done(t0: float) -> None:
        print(f"-- {time.perf_counter() - t0:.1f} s", flush=True)

    t0 = step(f"ingest ({ingest_params.source})")
    outcome = ingest(settings, ingest_params)
    if outcome.source.synthetic:
        print("note: this source is SYNTHETIC: accidents generated offline (not real data)")
    print_ingest(outcome)
    done(t0)

    t0 = step("features")
    print_features(build_silver(settings, FeatureParams(roads_file=args.roads_file, seed=ingest_params.seed),
                                source=outcome.source))
    done(t0)

    for i, (protocol, sampler) in enumerate(CHAIN_TRAININGS):
        t0 = step(f"train: {protocol} protocol, {sampler} sampler")
        params = train_params.replace(protocol=protocol, sampler=sampler)
        for summary in train_and_register(settings, params, build_datasets=True):
            from pipeline.cli.train import print_training

            print_training(summary, params.objective)
        done(t0)

    t0 = step("evaluate on the hold-out year")
    for result in evaluate_models(settings, EvaluateParams(), source=outcome.source,
                                  progress=lambda m: print(m, flush=True)):
        print_evaluation(result, settings.data_dir / "evaluation")
    done(t0)

    day = parse_date(args.date) if args.date else tomorrow(settings)
    t0 = step(f"predict {day}")
    print(format_summary(predict(settings, PredictParams(), [day])))
    path, n = draw_map(settings, MapParams(), day)
    print(f"map of {day} ({n} point-hours) written to {path}")
    done(t0)
    print(f"\n== done in {time.perf_counter() - started:.1f} s")
    return 0
