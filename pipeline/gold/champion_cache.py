"""A local copy of the registry's champion, so that scoring a day need not start MLflow.

Asking MLflow for the champion costs seconds (importing it, opening its store, copying the model)
where the scoring itself takes a fraction of one. With a SQLite store every registry change (a new
version, a moved alias) rewrites the store file, so a copy of the champion saved together with the
store file's (size, mtime) stamp is still the champion as long as the stamp matches. A tracking server
gives no such stamp: it is always asked.

The copy is the stored intensity model itself (pipeline.gold.intensity.bundle: model.json and the
trees' native files, no pickle) under `<cache dir>/v<version>`, with `champion.json` naming the model,
the version and the stamp.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from pipeline.core.errors import AccidentsError
from pipeline.core.file_stamp import sqlite_uri_stamp
from pipeline.gold.intensity.bundle import load_model, read_document, save_model

POINTER = "champion.json"


def store_stamp(tracking_uri: str) -> list[int] | None:
    """The SQLite store's stamp (its file and write-ahead log); None for a tracking server or a store
    that does not exist."""
    return sqlite_uri_stamp(tracking_uri)


def load_cached_champion(cache_dir: Path, tracking_uri: str, registered_model: str):
    """(model, version, record) of the cached champion when the store has not changed since it was saved."""
    stamp = store_stamp(tracking_uri)
    pointer_path = Path(cache_dir) / POINTER
    if stamp is None or not pointer_path.is_file():
        return None
    try:
        pointer = json.loads(pointer_path.read_text())
        if (pointer.get("name"), pointer.get("tracking_uri"), pointer.get("stamp")) != (
                registered_model, tracking_uri, stamp):
            return None
        version = str(pointer["version"])
        folder = Path(cache_dir) / f"v{version}"
        return load_model(folder), version, read_document(folder)["record"]
    except (AccidentsError, OSError, ValueError, KeyError):
        return None  # an unusable copy only costs the registry's time


def save_champion(cache_dir: Path, tracking_uri: str, registered_model: str, model, version: str, record: dict,
                  stamp: list[int] | None) -> bool:
    """Keep `model` as the champion seen at `stamp` (taken before asking the registry); nothing is
    kept when the store changed meanwhile, or is not a SQLite file. True when kept."""
    if stamp is None or store_stamp(tracking_uri) != stamp:
        return False
    cache_dir = Path(cache_dir)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        target = cache_dir / f"v{version}"
        tmp = cache_dir / f".v{version}.{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        save_model(model, tmp, record)
        shutil.rmtree(target, ignore_errors=True)  # a reset registry may reuse a version number
        os.replace(tmp, target)
        pointer = cache_dir / f".{POINTER}.{os.getpid()}"
        pointer.write_text(json.dumps({"name": registered_model, "tracking_uri": tracking_uri,
                                       "version": version, "stamp": stamp}))
        os.replace(pointer, cache_dir / POINTER)
        for old in cache_dir.glob("v*"):
            if old.name != target.name:
                shutil.rmtree(old, ignore_errors=True)
    except OSError:
        return False
    return True
