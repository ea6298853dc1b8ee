"""Storing an intensity model: `model.json` (kind, coefficients, choices, validation record) plus the
trees' native files; a blend keeps each component in `components/<name>/`. Nothing is pickled.

The validation record travels with the model, and decides whether it may be published: a model whose
validation expected / observed count lies outside CALIBRATION_RANGE, or that is not an intensity model
at all (the predecessor's case-control classifiers of the reference protocol), is refused by
`ensure_publishable` with the reason, whatever asks for it (`predict --model N`, the API, alerts).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.core.errors import AccidentsError
from pipeline.gold.intensity.blend import Blend
from pipeline.gold.intensity.boosted import BoostedGLM
from pipeline.gold.intensity.competition import CALIBRATION_RANGE
from pipeline.gold.intensity.glm import PoissonGLM
from pipeline.gold.intensity.hotspot import HotspotMap

MODEL_FILE = "model.json"
FORMAT_VERSION = 2
LEGACY_FILE = "bundle.json"  # a case-control classifier of an earlier release or of the reference protocol


def save_model(model, folder: Path, record: dict[str, Any]) -> Path:
    """Write `model` and its validation `record` (see `publishable`) into `folder`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if isinstance(model, Blend):
        for component in model.components:
            save_model(component, folder / "components" / component.name, {})
        payload = {"components": [c.name for c in model.components], "weights": model.weights.tolist(),
                   "train_years": list(model.train_years),
                   "year_counts": {str(k): v for k, v in model.year_counts.items()}}
    elif isinstance(model, BoostedGLM):
        model.save_native(folder)
        payload = model.to_json()
    else:
        payload = model.to_json()
    document = {"format_version": FORMAT_VERSION, "name": model.name, "kind": model.kind, "payload": payload,
                "record": record}
    (folder / MODEL_FILE).write_text(json.dumps(document, indent=1, sort_keys=True, default=float))
    return folder


def read_document(folder: Path) -> dict[str, Any]:
    folder = Path(folder)
    path = folder / MODEL_FILE
    if not path.is_file():
        if (folder / LEGACY_FILE).is_file():
            raise AccidentsError(f"{folder}: a case-control classifier (the predecessor's reference protocol or a "
                                 "release before the intensity models): it gives no calibrated expected counts "
                                 "and cannot be published; run `accidents train` for an intensity model")
        raise AccidentsError(f"{path}: no intensity model here (model.json missing)")
    try:
        document = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise AccidentsError(f"{path}: invalid JSON at line {exc.lineno}") from None
    if document.get("format_version") != FORMAT_VERSION:
        raise AccidentsError(f"{path}: unsupported model format {document.get('format_version')!r}")
    return document


def load_model(folder: Path):
    """The model stored in `folder` (its record is `read_document(folder)['record']`)."""
    folder = Path(folder)
    document = read_document(folder)
    name, payload = document["name"], document["payload"]
    if name == "glm":
        return PoissonGLM.from_json(payload)
    if name == "hotspot":
        return HotspotMap.from_json(payload)
    if name == "blend":
        components = [load_model(folder / "components" / c) for c in payload["components"]]

        return Blend(components, np.asarray(payload["weights"], float), tuple(payload["train_years"]),
                     {int(k): float(v) for k, v in payload.get("year_counts", {}).items()})
    if payload.get("library") == name:
        return BoostedGLM.from_json(payload, folder)
    raise AccidentsError(f"{folder / MODEL_FILE}: unknown model {name!r}")


def publishable(record: dict[str, Any]) -> tuple[bool, str]:
    """(may be published, why not): the validation expected / observed must lie in CALIBRATION_RANGE."""
    ratio = record.get("validation_expected_observed")
    if ratio is None:
        return False, "it carries no validation record"
    low, high = CALIBRATION_RANGE
    if not low <= float(ratio) <= high:
        return False, (f"its validation expected/observed is {float(ratio):.2f}, outside {low}-{high}: "
                       "its expected counts are not calibrated")
    return True, ""


def ensure_publishable(record: dict[str, Any], label: str) -> None:
    allowed, why = publishable(record)
    if not allowed:
        raise AccidentsError(f"{label} cannot be published: {why}")
