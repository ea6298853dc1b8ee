"""`accidents map`: the hourly risk map (HTML) of a predicted day."""

from __future__ import annotations

import argparse
from pathlib import Path

from pipeline.cli.common import parse_date
from pipeline.core.params import from_namespace
from pipeline.gold.params import MapParams
from pipeline.usecases.maps import draw_map
from pipeline.usecases.predictions import tomorrow


def run_map(args: argparse.Namespace, settings) -> int:
    params = from_namespace(MapParams, args)
    day = parse_date(args.date) if args.date else tomorrow(settings)
    path, n = draw_map(settings, params, day, out=Path(args.out) if args.out else None)
    print(f"map of {day} (atm={params.atm}, {n} point-hours) written to {path}")
    return 0
