"""A stand-in for pipeline.gold.registry used by CLI and notebook tests."""

import sys
import types

import pipeline.gold
from pipeline.core.errors import AccidentsError


def fake_registry(monkeypatch, champion=None, versions=None):
    """A stand-in for pipeline.gold.registry: load_champion raises like the real one when none exists."""
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
    monkeypatch.setitem(sys.modules, "pipeline.gold.registry", module)
    monkeypatch.setattr(pipeline.gold, "registry", module, raising=False)
    return calls
