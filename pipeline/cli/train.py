"""`accidents train` (the intensity candidates compete; the reference reproduction on request) and
`accidents models`."""

from __future__ import annotations

from pipeline.core.params import from_namespace
from pipeline.gold.params import TrainParams
from pipeline.gold.registry import list_model_versions
from pipeline.usecases.training import train_and_register


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
    params = from_namespace(TrainParams, args)
    for summary in train_and_register(settings, params, progress=lambda m: print(m, flush=True)):
        print_training(summary)
    return 0


def run_models(args, settings) -> int:
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
