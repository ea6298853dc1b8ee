"""`accidents run`: the whole chain on one lake (default: offline demo data).

ingest -> features -> train (the intensity candidates compete; the winner is champion) -> evaluate (a
backtest of that training on the newest year) -> predict (tomorrow) -> map, each through the same use
case and printer as its own sub-command, with one source object so that roads and the demo truth
follow the data. The predecessor's reference reproduction is not part of the chain (`accidents train
--protocol reference`).
"""

from __future__ import annotations

import time

from pipeline.bronze.params import IngestParams
from pipeline.cli.common import parse_date
from pipeline.cli.evaluate import print_evaluation
from pipeline.cli.features import print_features
from pipeline.cli.ingest import print_ingest
from pipeline.cli.predict import report_prediction
from pipeline.cli.train import print_training
from pipeline.core.params import from_namespace
from pipeline.gold.params import EvaluateParams, MapParams, PredictParams, TrainParams
from pipeline.silver.params import FeatureParams
from pipeline.usecases.evaluation import evaluate_backtest
from pipeline.usecases.features import build_silver
from pipeline.usecases.ingest import ingest
from pipeline.usecases.maps import draw_map
from pipeline.usecases.predictions import predict, tomorrow
from pipeline.usecases.training import train_and_register


def run(args, settings) -> int:
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
    print_features(build_silver(settings, from_namespace(FeatureParams, args, seed=ingest_params.seed),
                                source=outcome.source))
    done(t0)

    def say(message: str) -> None:
        print(message, flush=True)

    t0 = step("train: the intensity candidates compete")
    for summary in train_and_register(settings, train_params, progress=say):
        print_training(summary)
    done(t0)

    t0 = step("evaluate: backtest of the newest year")
    print_evaluation(evaluate_backtest(settings, EvaluateParams(candidates=train_params.candidates,
                                                                trials=train_params.trials),
                                       source=outcome.source, progress=say), settings.data_dir / "evaluation")
    done(t0)

    day = parse_date(args.date) if args.date else tomorrow(settings)
    t0 = step(f"predict {day}")
    prediction = predict(settings, PredictParams(), [day])
    path, n = draw_map(settings, MapParams(), day)  # drawn even when the day check fails: the rows exist
    print(f"map of {day} ({n} point-hours) written to {path}")
    report_prediction(prediction)
    done(t0)
    print(f"\n== done in {time.perf_counter() - started:.1f} s")
    return 0
