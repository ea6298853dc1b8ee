"""`accidents` command line. Each sub-command lives in its own module of this package and exposes
`register(subparsers)`; modules import only the standard library at top level so that
`accidents --help` stays fast (heavy libraries are imported inside the command's function).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from pipeline.core.errors import AccidentsError

# Order = order in --help.
COMMAND_MODULES = (
    "pipeline.cli.run",
    "pipeline.cli.demo",
    "pipeline.cli.ingest",
    "pipeline.cli.features",
    "pipeline.cli.train",
    "pipeline.cli.evaluate",
    "pipeline.cli.predict",
    "pipeline.cli.lakecmd",
    "pipeline.cli.serve",
)


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage + exiting 2, so errors stay on one line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise AccidentsError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="accidents",
        description="Road-accident risk lakehouse for New Caledonia (BAAC + OpenStreetMap on DuckLake).",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for module_name in COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:  # command not built yet
                continue
            raise
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    # Before any OpenMP library loads (sklearn, LightGBM, XGBoost): spinning idle OpenMP threads make
    # 2-thread training 4-10x slower on a 2-core machine (bench/bench_train.py).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    settings = None
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return 0
        from pipeline.core.settings import Settings

        settings = Settings.from_env().for_departments(getattr(args, "dep", None))
        result = args.func(args, settings)
        return int(result or 0)
    except AccidentsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        # A damaged data file or a failing S3 server or catalog is a user-facing condition, not a bug:
        # one line.
        from pipeline.core.lake import storage_error

        friendly = storage_error(settings, exc) if settings is not None else None
        if friendly is None:
            raise
        print(f"error: {friendly}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
