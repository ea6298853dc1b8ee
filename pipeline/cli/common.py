"""What the sub-commands share: the `--dep` option and date parsing. Rules live in pipeline.usecases."""

from __future__ import annotations

import datetime as dt

from pipeline.core.errors import AccidentsError


def add_department_argument(parser, *, several: bool = False) -> None:
    parser.add_argument("--dep", default=None, metavar="DEP",
                        help=("département code(s), comma separated" if several else "département code")
                        + " (default: ACCIDENTS_DEPS or 988)")


def parse_date(text: str, option: str = "--date") -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise AccidentsError(f"{option} {text!r}: expected YYYY-MM-DD") from None
