"""The champion model held in memory, reloaded when the registry's `champion` alias moves."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from pipeline.errors import AccidentsError


@dataclass(frozen=True)
class LoadedModel:
    model: Any  # a RiskModel (pipeline.model_bundle) or anything with predict_probability
    name: str
    version: str
    loaded_at: float  # time.time()


class ChampionHolder:
    """Loads `accidents-risk-<dep>`@champion once; `refresh()` reloads it only when the alias points at
    another version (one cheap registry call per refresh)."""

    def __init__(self, tracking_uri: str, registered_model: str):
        self.tracking_uri = tracking_uri
        self.registered_model = registered_model
        self._lock = threading.Lock()
        self._current: LoadedModel | None = None
        self.last_error: str | None = None

    def current(self) -> LoadedModel:
        loaded = self._current
        if loaded is None:
            raise AccidentsError(self.last_error or f"no champion loaded for {self.registered_model}")
        return loaded

    @property
    def loaded(self) -> bool:
        return self._current is not None

    def refresh(self) -> bool:
        """Load the champion if the alias moved (or nothing is loaded); True when a new one was loaded.
        A registry that cannot be reached keeps the model already in memory."""
        from pipeline import registry

        with self._lock:
            try:
                version = registry.champion_version(self.tracking_uri, self.registered_model)
                if self._current is not None and self._current.version == version:
                    return False
                model, loaded_version = registry.load_version(self.tracking_uri, self.registered_model, version)
            except AccidentsError as exc:
                self.last_error = str(exc)
                return False
            self._current = LoadedModel(model, self.registered_model, loaded_version, time.time())
            self.last_error = None
            return True
