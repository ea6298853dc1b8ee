"""`accidents train` (the intensity candidates compete; the reference reproduction on request) and
`accidents models`."""

from __future__ import annotations

from pipeline.cli.common import add_department_argument
from pipeline.core.params import add_arguments, from_namespace
from pipeline.gold.params import TrainParams


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train",
        help="let the risk models compete on the newest year's likelihood; register the winner as champion",
        description="The intensity candidates (the hotspot map, a Poisson GLM, CatBoost/LightGBM/XGBoost on the GLM "
        "tuned with Optuna, a blend) are fitted on the years before the newest one and scored on every road point "
        "x hour of it; the best calibrated one is refitted on every year, logged to MLflow and registered as "
        "'champion'. --protocol reference reproduces the predecessor's case-control classifiers (80/20 split; "
        "logged, never published).",
    )
    add_arguments(p, TrainParams)
    add_department_argument(p)
    p.set_defaults(func=run_train)

    m = subparsers.add_parser("models", help="list registered model versions, their metrics and the champion",
                              description="Versions of accidents-risk-<dep> in the MLflow registry.")
    add_department_argument(m)
    m.set_defaults(func=run_models)


def print_training(summary) -> None:
    """One line per candidate (intensity) or per classifier (reference reproduction)."""
    if hasattr(summary, "candidates"):
        for r in sorted(summary.candidates, key=lambda c: -c.loglik_per_accident):
            flag = "  <- champion" if r.name == summary.champion else ("" if r.calibrated else "  (uncalibrated)")
            print(f"{r.name:<9} {r.kind:<28} valid {summary.data_end} LL/accident {r.loglik_per_accident:8.3f} "
                  f"expected/observed {r.expected:6.1f}/{r.observed} ({r.expected / max(r.observed, 1):.2f}) "
                  f"{r.seconds:5.1f}s{flag}")
        for note in summary.notes:
            print(f"warning: {note}")
        if summary.registered_version:
            print(f"registered version {summary.registered_version} ({summary.champion_kind}), alias champion; "
                  f"trained on {summary.fit_years[0]}-{summary.data_end}")
        return
    for r in summary.results:
        print(f"{summary.protocol:<9} {r.algorithm:<9} valid {summary.objective}={r.validation_value:.4f} "
              f"test pr_auc={r.test_metrics['pr_auc']:.4f} roc_auc={r.test_metrics['roc_auc']:.4f} "
              f"{r.seconds:.1f}s" + (f"  -> version {r.registered_version} (never champion)" if r.registered_version else ""))


def run_train(args, settings) -> int:
    from pipeline.usecases.training import train_and_register

    params = from_namespace(TrainParams, args)
    for summary in train_and_register(settings, params, progress=lambda m: print(m, flush=True)):
        print_training(summary)
    return 0


def run_models(args, settings) -> int:
    from pipeline.gold.registry import list_model_versions

    name = settings.registered_model
    versions = list_model_versions(settings.resolved_mlflow_uri, name)
    if not versions:
        print(f"no versions registered for {name}; run accidents train")
        return 0
    print(f"{'version':>7}  {'model':<9} {'protocol':<9} {'valid LL/acc':>12} {'exp/obs':>7} "
          f"{'test_pr_auc':>11}  aliases")
    for v in versions:
        m = v["metrics"]
        print(f"{v['version']:>7}  {v['algorithm'] or '-':<9} {v['protocol'] or '-':<9} "
              f"{m.get('valid_loglik_per_accident', float('nan')):>12.3f} "
              f"{m.get('valid_expected_observed', float('nan')):>7.2f} {m.get('test_pr_auc', float('nan')):>11.4f}  "
              f"{','.join(v['aliases'])}")
    return 0
