"""The HTML risk map of a day, built from the API's in-memory day grid by `pipeline.serving.risk_map`."""

from __future__ import annotations

import tempfile
from pathlib import Path


def map_html(service, grid, top_n: int) -> str:
    """The map of a day grid (the whole day: the map keeps its top points only)."""
    from pipeline.serving.risk_map import build_risk_map

    day, atm = grid.date, grid.atm
    frame = service.predictions_frame(grid)
    with tempfile.TemporaryDirectory() as tmp:
        out = build_risk_map(frame, date=day, atm=atm, mode="top_n", top_n=top_n,
                             out_path=Path(tmp) / "map.html", roads=service.map_roads(),
                             department=service.settings.department, synthetic=service.synthetic)
        return out.read_text(encoding="utf-8")
