"""MLflow helpers: experiment set-up, registration, and loading the champion.

The embedded store is `sqlite:///<data_dir>/mlflow/mlflow.db` with artifacts in
`<data_dir>/mlflow/artifacts`. A model version points at the candidate's child run, whose
`risk_model/` artifacts hold the stored intensity model (pipeline.gold.intensity.bundle: model.json
and the trees' native files); `load_champion` / `load_version` rebuild it from there, never from a
pickle, and refuse a model that may not be published (uncalibrated, or a case-control classifier of
the reference protocol). The reference protocol's classifiers are logged with their native MLflow
flavour too (`log_risk_model`).
"""

from __future__ import annotations

import importlib
import logging
import os
import re
import tempfile
import warnings
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.core.errors import AccidentsError
from pipeline.gold.intensity.bundle import ensure_publishable, load_model, read_document
from pipeline.gold.model_bundle import RiskModel

if TYPE_CHECKING:
    import pandas as pd

CHAMPION = "champion"
BUNDLE_ARTIFACT = "risk_model"
MODEL_ARTIFACT = "model"
RUN_ID_TAG = "risk_model_run_id"


# A tracking server that does not answer must fail within seconds, not after MLflow's default
# minutes of retries (7 retries with exponential backoff, 120 s timeout each).
HTTP_DEFAULTS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
                 "MLFLOW_HTTP_REQUEST_TIMEOUT": "30"}
_UNREACHABLE = ("max retries exceeded", "connection refused", "failed to establish", "name or service not known",
                "temporary failure in name resolution", "timed out", "connectionerror", "remote end closed")


def display_uri(tracking_uri: str) -> str:
    """The tracking URI without credentials (user:password@ is removed)."""
    return re.sub(r"//[^/@]*@", "//", tracking_uri)


def is_unreachable(exc: BaseException) -> bool:
    """True when `exc` (or its cause) says the server could not be reached, as opposed to an answer
    such as 'not found'."""
    seen = exc
    while seen is not None:
        if any(token in f"{type(seen).__name__} {seen}".lower() for token in _UNREACHABLE):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def unreachable_error(tracking_uri: str, exc: BaseException) -> AccidentsError:
    return AccidentsError(f"MLflow tracking server {display_uri(tracking_uri)} is unreachable "
                          f"({type(exc).__name__}); check MLFLOW_TRACKING_URI and that the server runs")


def is_not_found(exc: BaseException) -> bool:
    return getattr(exc, "error_code", None) == "RESOURCE_DOES_NOT_EXIST" or "RESOURCE_DOES_NOT_EXIST" in str(exc)


def configure_mlflow(tracking_uri: str) -> None:
    """Point MLflow at `tracking_uri` (tracking + registry) and quiet its chatter."""
    import mlflow

    for name, value in HTTP_DEFAULTS.items():
        os.environ.setdefault(name, value)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    for name in ("mlflow", "alembic", "alembic.runtime.migration", "urllib3"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module=r"mlflow(\..*)?")
    warnings.filterwarnings("ignore", message=r".*(pkg_resources|Pydantic|pydantic).*")
    if tracking_uri.startswith("sqlite:///"):
        Path(tracking_uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)


def artifact_root_for(tracking_uri: str) -> str | None:
    """`artifacts/` next to a SQLite store; None lets a tracking server choose."""
    if tracking_uri.startswith("sqlite:///"):
        db = Path(tracking_uri.removeprefix("sqlite:///"))
        return (db.parent / "artifacts").resolve().as_uri()
    return None


def ensure_experiment(tracking_uri: str, experiment: str) -> str:
    import mlflow

    configure_mlflow(tracking_uri)
    client = mlflow.MlflowClient(tracking_uri)
    try:
        found = client.get_experiment_by_name(experiment)
    except Exception as exc:
        if is_unreachable(exc):
            raise unreachable_error(tracking_uri, exc) from None
        raise
    if found is not None:
        mlflow.set_experiment(experiment_id=found.experiment_id)
        return found.experiment_id
    experiment_id = client.create_experiment(experiment, artifact_location=artifact_root_for(tracking_uri))
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id


def log_risk_model(model: RiskModel, example: pd.DataFrame) -> str:
    """Log the native flavour (signature + input example) and the bundle to the active run.

    `example` holds raw feature rows; the flavour sees them encoded, as the booster does.
    Returns the logged model's URI.
    """
    import mlflow
    from mlflow.models import infer_signature

    encoded = model.encode(example).reset_index(drop=True)
    signature = infer_signature(encoded, model.predict_encoded(encoded))

    spec = model.spec
    flavour = importlib.import_module(spec.mlflow_flavour)
    pinned = f"{spec.requirement}=={version(spec.requirement)}"
    kwargs: dict[str, Any] = spec.mlflow_log_kwargs()
    info = flavour.log_model(
        model.booster, name=MODEL_ARTIFACT, signature=signature, input_example=encoded.head(5),
        pip_requirements=[pinned], **kwargs,
    )
    with tempfile.TemporaryDirectory() as tmp:
        mlflow.log_artifacts(str(model.save(Path(tmp) / BUNDLE_ARTIFACT)), artifact_path=BUNDLE_ARTIFACT)
    return info.model_uri


def register_version(tracking_uri: str, registered_model: str, model_uri: str, run_id: str,
                     tags: dict[str, str], *, champion: bool = True) -> str:
    """New version of `registered_model` from a logged model; alias `champion` when asked."""
    import mlflow

    configure_mlflow(tracking_uri)
    client = mlflow.MlflowClient(tracking_uri)
    try:
        client.get_registered_model(registered_model)
    except Exception:
        client.create_registered_model(registered_model, description="Road-accident risk per road-point-hour")
    # A tracking server accepts a `models:/<model id>` source only with that model id named as well.
    model_id = model_uri.removeprefix("models:/") if model_uri.startswith("models:/m-") else None
    version = client.create_model_version(
        registered_model, source=model_uri, run_id=run_id, tags={**tags, RUN_ID_TAG: run_id}, model_id=model_id,
    )
    if champion:
        client.set_registered_model_alias(registered_model, CHAMPION, version.version)
    return str(version.version)


def register_run_model(tracking_uri: str, registered_model: str, run_id: str, tags: dict[str, str], *,
                       champion: bool = True) -> str:
    """New version of `registered_model` from the `risk_model/` artifacts of run `run_id`."""
    return register_version(tracking_uri, registered_model, f"runs:/{run_id}/{BUNDLE_ARTIFACT}", run_id, tags,
                            champion=champion)


def _champion_version(client, registered_model: str):
    try:
        return client.get_model_version_by_alias(registered_model, CHAMPION)
    except Exception as exc:
        if is_unreachable(exc):
            raise unreachable_error(client.tracking_uri, exc) from None
        if not is_not_found(exc):
            raise AccidentsError(f"MLflow could not give the champion of {registered_model}: "
                                 f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}") from None
        raise AccidentsError(
            f"no champion registered for {registered_model}; run accidents train") from None


def champion_version(tracking_uri: str, registered_model: str) -> str:
    """The version number alias `champion` points at now (cheap: no artifact download)."""
    import mlflow

    configure_mlflow(tracking_uri)
    return str(_champion_version(mlflow.MlflowClient(tracking_uri), registered_model).version)


def load_champion(tracking_uri: str, registered_model: str) -> tuple[Any, str, dict]:
    """(model, version number as a string, validation record) of the version behind alias `champion`;
    an error when it may not be published."""
    import mlflow

    configure_mlflow(tracking_uri)
    client = mlflow.MlflowClient(tracking_uri)
    return _load_bundle(tracking_uri, _champion_version(client, registered_model), registered_model)


def load_version(tracking_uri: str, registered_model: str, version: str) -> tuple[Any, str, dict]:
    """(model, version, record) of one registered version (e.g. a former champion); an error naming
    the reason when it may not be published."""
    import mlflow

    configure_mlflow(tracking_uri)
    client = mlflow.MlflowClient(tracking_uri)
    try:
        found = client.get_model_version(registered_model, str(version))
    except Exception as exc:
        if is_unreachable(exc):
            raise unreachable_error(tracking_uri, exc) from None
        raise AccidentsError(f"{registered_model} has no version {version}; see accidents models") from None
    return _load_bundle(tracking_uri, found, registered_model)


def download_bundle(tracking_uri: str, version, destination: str) -> Path:
    """The version's `risk_model/` artifacts, copied under `destination`."""
    import mlflow

    run_id = version.tags.get(RUN_ID_TAG) or version.run_id
    return Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=BUNDLE_ARTIFACT, dst_path=destination,
                                                    tracking_uri=tracking_uri))


def _load_bundle(tracking_uri: str, version, registered_model: str) -> tuple[Any, str, dict]:
    """Download the version's stored model, check it may be published, load it natively."""
    with tempfile.TemporaryDirectory() as tmp:
        local = download_bundle(tracking_uri, version, tmp)
        try:
            record = read_document(local)["record"]
        except AccidentsError as exc:
            raise AccidentsError(f"{registered_model} version {version.version}: {str(exc).split(': ', 1)[-1]}") from None
        ensure_publishable(record, f"{registered_model} version {version.version}")
        return load_model(local), str(version.version), record


def list_model_versions(tracking_uri: str, registered_model: str) -> list[dict[str, Any]]:
    """Every version: number, run id, algorithm, protocol, aliases and the run's metrics."""
    import mlflow

    configure_mlflow(tracking_uri)
    client = mlflow.MlflowClient(tracking_uri)
    try:
        aliases_by_version: dict[str, list[str]] = {}
        for alias, number in (client.get_registered_model(registered_model).aliases or {}).items():
            aliases_by_version.setdefault(str(number), []).append(alias)
    except Exception as exc:
        if is_not_found(exc):
            return []
        if is_unreachable(exc):
            raise unreachable_error(tracking_uri, exc) from None
        raise
    out = []
    for mv in client.search_model_versions(f"name = '{registered_model}'"):
        run_id = mv.tags.get(RUN_ID_TAG) or mv.run_id
        metrics = client.get_run(run_id).data.metrics if run_id else {}
        out.append({
            "version": str(mv.version),
            "run_id": run_id,
            "algorithm": mv.tags.get("algorithm") or mv.tags.get("candidate"),
            "kind": mv.tags.get("kind"),
            "protocol": mv.tags.get("protocol") or ("intensity" if mv.tags.get("kind") else None),
            "sampler": mv.tags.get("sampler"),
            "aliases": sorted(set(mv.aliases or []) | set(aliases_by_version.get(str(mv.version), []))),
            "created": mv.creation_timestamp,
            "metrics": dict(metrics),
        })
    return sorted(out, key=lambda v: int(v["version"]))
