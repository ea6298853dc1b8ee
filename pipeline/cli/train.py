"""`accidents train` (gold datasets + tuned models + MLflow registry) and `accidents models`."""

from __future__ import annotations

from pipeline.cli.common import add_department_argument
from pipeline.core.params import add_arguments, from_namespace
from pipeline.gold.params import TrainParams


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train",
        help="build gold datasets, tune CatBoost/LightGBM/XGBoost with Optuna, register the best in MLflow",
        description="Rebuild gold.train/test/temporal_* from silver.features, tune each algorithm on "
        "validation rows, test once, log to MLflow and register the best; only a temporal model "
        "becomes 'champion'.",
    )
    add_arguments(p, TrainParams)
    add_department_argument(p)
    p.set_defaults(func=run_train)

    m = subparsers.add_parser("models", help="list registered model versions, their metrics and the champion",
                              description="Versions of accidents-risk-<dep> in the MLflow registry.")
    add_department_argument(m)
    m.set_defaults(func=run_models)


def print_training(summary, objective: str) -> None:
    for r in summary.results:
        print(f"{summary.protocol:<9} {r.algorithm:<9} valid {objective}={r.validation_value:.4f} "
              f"test pr_auc={r.test_metrics['pr_auc']:.4f} roc_auc={r.test_metrics['roc_auc']:.4f} "
              f"{r.seconds:.1f}s" + (f"  -> version {r.registered_version}" if r.registered_version else ""))


def run_train(args, settings) -> int:
    from pipeline.usecases.training import build_gold_datasets, train_and_register

    params = from_namespace(TrainParams, args)
    datasets = build_gold_datasets(settings, params)
    print("datasets: " + ", ".join(f"{t.removeprefix('gold.')}={n}" for t, n in datasets.rows.items()))
    for summary in train_and_register(settings, params, build_datasets=False):
        print_training(summary, params.objective)
    return 0


def run_models(args, settings) -> int:
    from pipeline.gold.registry import list_model_versions

    name = settings.registered_model
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
