"""A stand-in for pipeline.registry used by CLI and notebook tests."""

import sys
import types

import pipeline
from pipeline.errors import AccidentsError


def fake_registry(monkeypatch, champion=None, versions=None):
    """A stand-in for pipeline.registry: load_champion raises like the real one when none exists."""
    calls = []

    def load_champion(tracking_uri, registered_model):
        calls.append((tracking_uri, registered_model))
        if champion is None:
            raise AccidentsError(f"no champion model registered as {registered_model!r} at {tracking_uri}")
        return champion, "7"

    def load_version(tracking_uri, registered_model, version):
        calls.append((tracking_uri, registered_model, version))
        if version not in (versions or {}):
            raise AccidentsError(f"{registered_model!r} has no version {version}")
        return versions[version], version

    module = types.SimpleNamespace(load_champion=load_champion, load_version=load_version)
    monkeypatch.setitem(sys.modules, "pipeline.registry", module)
    monkeypatch.setattr(pipeline, "registry", module, raising=False)
    return calls
