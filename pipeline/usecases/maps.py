"""Draw the map of a predicted day: its stored predictions over the road network, as one offline HTML file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pipeline.core.errors import AccidentsError
from pipeline.core.lake import lake_connection
from pipeline.core.settings import Settings
from pipeline.gold.params import MapParams
from pipeline.gold.prediction_totals import read_totals
from pipeline.gold.predictions import read_predictions
from pipeline.gold.scenarios import scenario_code
from pipeline.serving.risk_map import build_risk_map, road_network
from pipeline.sources.provenance import lake_is_synthetic


def draw_map(settings: Settings, params: MapParams, day: dt.date, *, out: Path | None = None) -> tuple[Path, int]:
    """The offline HTML map of a predicted day -> (path, point-hours shown from)."""
    atm = scenario_code(params.atm)
    with lake_connection(settings, read_only=True) as con:  # one opening: each checks the lake's files
        df = read_predictions(con, day, atm)
        if df.empty:
            raise AccidentsError(f"no predictions for {day} atm={params.atm}: run accidents predict --date {day} "
                                 f"--atm {params.atm} first")
        roads, synthetic, totals = road_network(con), lake_is_synthetic(con), read_totals(con, day, atm)
    mode = "threshold" if params.threshold is not None else "top_n"
    path = build_risk_map(
        df, date=day, atm=atm, mode=mode, top_n=params.top_n,
        threshold_percentile=params.threshold if params.threshold is not None else 90.0,
        out_path=out or settings.maps_dir / f"{day.isoformat()}.html", department=settings.department, roads=roads,
        synthetic=synthetic, totals=totals,
    )
    return path, len(df)
