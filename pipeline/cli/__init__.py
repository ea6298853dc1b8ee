"""`accidents` command line. `parser.py` defines every sub-command's arguments without loading any stage
code; each sub-command's handler lives in its own module of this package (run, demo, ingest, features,
train, evaluate, predict, maps, lakecmd, serve), which imports its use case at the top.

`main` imports the chosen command's module only when that command runs: the CLI's one lazy project
import (listed in pipeline/core/heavy.py), so that `accidents --help` and a usage error load neither the
stage code nor numpy, pandas or DuckDB.
"""

from __future__ import annotations

import importlib
import os
import sys

from pipeline.cli.parser import build_parser
from pipeline.core.errors import AccidentsError
from pipeline.core.settings import Settings

__all__ = ["build_parser", "main"]


def handler_of(reference: str):
    """The function a sub-command names as "pipeline.cli.module:function", its module imported now."""
    module, _, function = reference.partition(":")
    return getattr(importlib.import_module(module), function)


def main(argv: list[str] | None = None) -> int:
    # Before any OpenMP library loads (sklearn, LightGBM, XGBoost): spinning idle OpenMP threads make
    # 2-thread training 4-10x slower on a 2-core machine (bench/bench_train.py).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    settings = None
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "handler", None):
            parser.print_help()
            return 0
        settings = Settings.from_env().for_departments(getattr(args, "dep", None))
        result = handler_of(args.handler)(args, settings)
        return int(result or 0)
    except AccidentsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        # A damaged data file or a failing S3 server or catalog is a user-facing condition, not a bug:
        # one line. The lake's diagnosis needs the lake's code (DuckDB): imported only on this path.
        from pipeline.core.lake import storage_error

        friendly = storage_error(settings, exc) if settings is not None else None
        if friendly is None:
            raise
        print(f"error: {friendly}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
