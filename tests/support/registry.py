"""A stand-in for pipeline.gold.registry used by CLI and notebook tests that need no MLflow store."""

from pipeline.core.errors import AccidentsError
from pipeline.gold import registry

CALIBRATED = {"validation_expected_observed": 1.0}  # a record that passes bundle.publishable


def fake_registry(monkeypatch, champion=None, versions=None, record=None):
    """load_champion / load_version answer like the real ones, (model, version, record), and raise like
    them when there is no such model. Returns the list of calls."""
    calls = []
    record = dict(CALIBRATED if record is None else record)

    def load_champion(tracking_uri, registered_model):
        calls.append((tracking_uri, registered_model))
        if champion is None:
            raise AccidentsError(f"no champion model registered as {registered_model!r} at {tracking_uri}")
        return champion, "7", record

    def load_version(tracking_uri, registered_model, version):
        calls.append((tracking_uri, registered_model, version))
        if version not in (versions or {}):
            raise AccidentsError(f"{registered_model!r} has no version {version}")
        return versions[version], version, record

    monkeypatch.setattr(registry, "load_champion", load_champion)
    monkeypatch.setattr(registry, "load_version", load_version)
    return calls
