"""`accidents train` (gold datasets + tuned models + MLflow registry) and `accidents models`."""

from __future__ import annotations

import argparse

from pipeline.core.errors import AccidentsError

ALGORITHMS = ("catboost", "lightgbm", "xgboost")
OBJECTIVES = ("pr_auc", "logloss", "recall")
PROTOCOLS = ("temporal", "reference", "both")
SAMPLERS = ("exclusion", "uniform")
MAX_TRIALS = 10_000


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train",
        help="build gold datasets, tune CatBoost/LightGBM/XGBoost with Optuna, register the best in MLflow",
        description="Rebuild gold.train/test/temporal_* from silver.features, tune each algorithm on "
        "validation rows, test once, log to MLflow and alias the best version 'champion'.",
    )
    p.add_argument("--trials", default="50", help="Optuna trials per algorithm (default 50)")
    p.add_argument("--objective", default="pr_auc", help="pr_auc | logloss | recall (default pr_auc)")
    p.add_argument("--algorithms", default=",".join(ALGORITHMS), help="comma list (default all three)")
    p.add_argument("--protocol", default="temporal",
                   help="temporal (by year, honest) | reference (predecessor's 80/20 split) | both")
    p.add_argument("--sampler", default="uniform",
                   help="negative sampler: uniform (calibratable, default) | exclusion (predecessor's)")
    p.add_argument("--seed", default=None, help="random seed (default ACCIDENTS_SEED or 42)")
    p.add_argument("--dep", default="988", help="département (names the experiment and registered model)")
    p.add_argument("--timeout", default=None, help="seconds of tuning per algorithm at most")
    p.add_argument("--threads", default="2", help="threads per model fit (default 2; 1 on a busy machine)")
    p.set_defaults(func=run_train)

    m = subparsers.add_parser("models", help="list registered model versions, their metrics and the champion",
                              description="Versions of accidents-risk-<dep> in the MLflow registry.")
    m.add_argument("--dep", default="988", help="département (default 988)")
    m.set_defaults(func=run_models)


def _positive_int(option: str, text: str, maximum: int) -> int:
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise AccidentsError(f"{option} {text!r}: expected a whole number") from None
    if not 1 <= value <= maximum:
        raise AccidentsError(f"{option} {value}: expected 1..{maximum}")
    return value


def parse_train_args(args: argparse.Namespace, default_seed: int = 42) -> dict:
    """Validated options of `accidents train` (one-line AccidentsError for each mistake)."""
    trials = _positive_int("--trials", args.trials, MAX_TRIALS)
    if args.objective not in OBJECTIVES:
        raise AccidentsError(f"--objective {args.objective!r}: expected one of {', '.join(OBJECTIVES)}")
    algorithms = tuple(dict.fromkeys(a.strip().lower() for a in args.algorithms.split(",") if a.strip()))
    if not algorithms:
        raise AccidentsError("--algorithms: give at least one of " + ",".join(ALGORITHMS))
    for name in algorithms:
        if name not in ALGORITHMS:
            raise AccidentsError(f"--algorithms: unknown {name!r} (expected {','.join(ALGORITHMS)})")
    if args.protocol not in PROTOCOLS:
        raise AccidentsError(f"--protocol {args.protocol!r}: expected one of {', '.join(PROTOCOLS)}")
    if args.sampler not in SAMPLERS:
        raise AccidentsError(f"--sampler {args.sampler!r}: expected one of {', '.join(SAMPLERS)}")
    seed = default_seed if args.seed is None else _positive_int("--seed", args.seed, 2**31 - 1)
    timeout = None
    if args.timeout is not None:
        try:
            timeout = float(args.timeout)
        except ValueError:
            raise AccidentsError(f"--timeout {args.timeout!r}: expected seconds") from None
        if timeout <= 0:
            raise AccidentsError(f"--timeout {args.timeout}: must be positive")
    threads = _positive_int("--threads", args.threads, 64)
    dep = args.dep.strip().upper()
    if not dep.isalnum():
        raise AccidentsError(f"--dep {args.dep!r}: expected a département code such as 988")
    protocols = ("reference", "temporal") if args.protocol == "both" else (args.protocol,)
    return {"trials": trials, "objective": args.objective, "algorithms": algorithms, "protocols": protocols,
            "sampler": args.sampler, "seed": seed, "timeout": timeout, "dep": dep, "threads": threads}


def reference_split_sampler(protocols: tuple[str, ...], sampler: str) -> str:
    """Sampler of gold.train/test, the reference protocol's split. A temporal-only training keeps it
    on the predecessor's `exclusion` negatives, so that after `accidents run` (reference, then
    temporal with each sampler) gold.train/test still match gold.reference_report."""
    return sampler if "reference" in protocols else "exclusion"


def run_train(args: argparse.Namespace, settings) -> int:
    options = parse_train_args(args, settings.seed)
    from pipeline.core.lake import lake_connection
    from pipeline.gold.datasets import build_datasets
    from pipeline.gold.training import train_models

    dep = options["dep"]
    with lake_connection(settings) as con:
        datasets = build_datasets(con, sampler=reference_split_sampler(options["protocols"], options["sampler"]),
                                  seed=options["seed"])
        print("datasets: " + ", ".join(f"{t.removeprefix('gold.')}={n}" for t, n in datasets.rows.items()))
        for protocol in options["protocols"]:
            summary = train_models(
                con, protocol=protocol, sampler=options["sampler"], algorithms=options["algorithms"],
                trials=options["trials"], objective=options["objective"], seed=options["seed"],
                tracking_uri=settings.resolved_mlflow_uri, experiment=f"accidents-{dep}",
                registered_model=f"accidents-risk-{dep}", department=dep,
                timeout_per_algorithm=options["timeout"], threads=options["threads"],
                # only a temporal (honest) model is ever promoted to champion
                set_champion=protocol == "temporal",
            )
            for r in summary.results:
                print(f"{protocol:<9} {r.algorithm:<9} valid {options['objective']}={r.validation_value:.4f} "
                      f"test pr_auc={r.test_metrics['pr_auc']:.4f} roc_auc={r.test_metrics['roc_auc']:.4f} "
                      f"{r.seconds:.1f}s" + (f"  -> version {r.registered_version}" if r.registered_version else ""))
    return 0


def run_models(args: argparse.Namespace, settings) -> int:
    from pipeline.gold.registry import list_model_versions

    name = f"accidents-risk-{args.dep.strip().upper()}"
    versions = list_model_versions(settings.resolved_mlflow_uri, name)
    if not versions:
        print(f"no versions registered for {name}; run accidents train")
        return 0
    print(f"{'version':>7}  {'algorithm':<9} {'protocol':<9} {'sampler':<9} "
          f"{'valid_pr_auc':>12} {'test_pr_auc':>11} {'test_roc_auc':>12}  aliases")
    for v in versions:
        m = v["metrics"]
        print(f"{v['version']:>7}  {v['algorithm'] or '-':<9} {v['protocol'] or '-':<9} {v['sampler'] or '-':<9} "
              f"{m.get('valid_pr_auc', float('nan')):>12.4f} {m.get('test_pr_auc', float('nan')):>11.4f} "
              f"{m.get('test_roc_auc', float('nan')):>12.4f}  {','.join(v['aliases'])}")
    return 0
