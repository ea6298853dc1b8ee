"""The HTML risk map of a day, built from the API's in-memory day grid by `pipeline.serving.risk_map`."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path


def map_html(service, day: dt.date, atm: int, top_n: int) -> str:
    from pipeline.serving.risk_map import build_risk_map

    frame = service.predictions_frame(day, atm, whole_day_cap=False)  # the map keeps top points only
    with tempfile.TemporaryDirectory() as tmp:
        out = build_risk_map(frame, date=day, atm=atm, mode="top_n", top_n=top_n,
                             out_path=Path(tmp) / "map.html", roads=service.map_roads(),
                             department=service.settings.department, synthetic=service.synthetic)
        return out.read_text(encoding="utf-8")
