"""The champion model held in memory, reloaded when the registry's `champion` alias moves.

Start-up is the slow part of asking MLflow (importing it, opening its store, downloading the bundle:
several seconds), so every champion loaded from the registry is also kept as a stored intensity model
under `cache_dir` (pipeline.gold.intensity.bundle: model.json + the trees' own files; no pickle) with a
pointer to its version. A
restarted API warm-starts from that copy at once and marks it `verified=False` until the first
registry check confirms the alias still points at it (or replaces it).

`load_in_background()` does that first load in a thread, so that an API starts answering what needs
no model (stored days) while the model's libraries import; `wait_loaded()` is how a request that
needs the model waits for it.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.core.errors import AccidentsError
from pipeline.core.file_stamp import sqlite_uri_stamp

log = logging.getLogger("accidents.serving")
POINTER = "champion.json"
LOAD_WAIT_SECONDS = 120.0  # a cold first load asks MLflow (imports, download): seconds, rarely more


@dataclass(frozen=True)
class LoadedModel:
    model: Any  # an intensity model (pipeline.gold.intensity), or anything with expected_counts(grid)
    name: str
    version: str
    loaded_at: float  # time.time()
    verified: bool  # True once the registry confirmed the alias points at this version


class ChampionHolder:
    """`accidents-risk-<dep>`@champion; `refresh()` reloads it only when the alias points at another
    version (one cheap registry call per refresh)."""

    def __init__(self, tracking_uri: str, registered_model: str, cache_dir: Path | None = None):
        self.tracking_uri = tracking_uri
        self.registered_model = registered_model
        self.cache_dir = cache_dir
        self._lock = threading.Lock()
        self._current: LoadedModel | None = None
        self.last_error: str | None = None
        self._stamp: list[int] | None = None
        self._first_load: threading.Thread | None = None

    def current(self) -> LoadedModel:
        loaded = self._current
        if loaded is None:
            raise AccidentsError(self.last_error or f"no champion loaded for {self.registered_model}")
        return loaded

    @property
    def loaded(self) -> bool:
        return self._current is not None

    @property
    def loading(self) -> bool:
        """The first load is still running."""
        return self._first_load is not None and self._first_load.is_alive()

    def load_in_background(self, then=None) -> None:
        """The first load (the warm copy, else the registry) in a daemon thread, followed by `then()`
        (e.g. importing what scoring needs, so that no first request pays for it)."""
        def first_load() -> None:
            try:
                if not self.warm_start():
                    self.refresh()
                if then is not None:
                    then()
            except Exception as exc:  # an unexpected error must still end the wait of requests
                self.last_error = f"champion not loaded: {exc}"
                log.exception("champion load failed")

        self._first_load = threading.Thread(target=first_load, name="champion-load", daemon=True)
        self._first_load.start()

    def wait_loaded(self, timeout: float = LOAD_WAIT_SECONDS) -> bool:
        """True once a model is in memory, waiting up to `timeout` for a first load still running."""
        if self._first_load is not None:
            self._first_load.join(timeout)
        return self.loaded

    def warm_start(self) -> bool:
        """Load the last champion this API saw from `cache_dir`; False when there is none."""
        from pipeline.gold.intensity.bundle import load_model

        if self.cache_dir is None or not (self.cache_dir / POINTER).is_file():
            return False
        try:
            pointer = json.loads((self.cache_dir / POINTER).read_text())
            if pointer.get("name") != self.registered_model:
                return False
            model = load_model(self.cache_dir / f"v{pointer['version']}")
        except (AccidentsError, OSError, ValueError, KeyError) as exc:
            log.warning("champion cache unusable, loading from the registry: %s", exc)
            return False
        with self._lock:
            if self._current is None:
                self._current = LoadedModel(model, self.registered_model, str(pointer["version"]), time.time(), False)
        return True

    def _store_stamp(self) -> list[int] | None:
        """The SQLite MLflow store's stamp (moving an alias writes it). None for a server."""
        return sqlite_uri_stamp(self.tracking_uri)

    def refresh(self) -> bool:
        """Load the champion if the alias moved (or nothing verified is loaded); True when the model in
        memory changed. A registry that cannot be reached keeps the model already in memory. A SQLite
        store is only asked when its file changed: an MLflow query holds the GIL for tens of
        milliseconds, which every request waiting at that moment would pay."""
        from pipeline.gold import registry

        with self._lock:
            stamp = self._store_stamp()
            current = self._current
            if stamp is not None and stamp == self._stamp and current is not None and current.verified:
                return False
            self._stamp = stamp
            try:
                version = registry.champion_version(self.tracking_uri, self.registered_model)
                current = self._current
                if current is not None and current.version == version:
                    if not current.verified:
                        self._current = LoadedModel(current.model, current.name, current.version,
                                                    current.loaded_at, True)
                    return False
                model, loaded_version, record = registry.load_version(self.tracking_uri, self.registered_model,
                                                                      version)
            except AccidentsError as exc:
                self.last_error = str(exc)
                return False
            self._current = LoadedModel(model, self.registered_model, loaded_version, time.time(), True)
            self.last_error = None
            self._save(model, loaded_version, record)
            return True

    def _save(self, model, version: str, record: dict) -> None:
        """Keep the model for the next warm start; a cache that cannot be written only costs speed."""
        from pipeline.gold.intensity.bundle import save_model

        if self.cache_dir is None:
            return
        try:
            target = self.cache_dir / f"v{version}"
            if not target.is_dir():
                tmp = self.cache_dir / f".v{version}.{os.getpid()}"
                save_model(model, tmp, record)
                os.replace(tmp, target)
            pointer = self.cache_dir / f".{POINTER}.{os.getpid()}"
            pointer.write_text(json.dumps({"name": self.registered_model, "version": version}))
            os.replace(pointer, self.cache_dir / POINTER)
            for old in self.cache_dir.glob("v*"):
                if old.name != f"v{version}":
                    shutil.rmtree(old, ignore_errors=True)
        except OSError as exc:
            log.warning("champion cache not written: %s", exc)
