"""`accidents sql` output: a query's rows as a text table, CSV, JSON (one object per row) or Markdown."""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import json
import math


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    return str(value)


def _json_value(value):
    if isinstance(value, (dt.date, dt.datetime, dt.time, dt.timedelta, decimal.Decimal, bytes)):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    return value if isinstance(value, (str, int, float, bool)) or value is None else str(value)


def _table(names: list[str], rows: list[tuple], markdown: bool) -> str:
    cells = [[_text(v).replace("\n", " ") for v in row] for row in rows]
    if markdown:
        cells = [[c.replace("|", "\\|") for c in row] for row in cells]
        header = "| " + " | ".join(n.replace("|", "\\|") for n in names) + " |"
        return "\n".join([header, "|" + "|".join("---" for _ in names) + "|",
                          *("| " + " | ".join(row) + " |" for row in cells)])
    widths = [max([len(n)] + [len(row[i]) for row in cells]) for i, n in enumerate(names)]
    line = "  ".join("-" * w for w in widths)
    body = ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in cells]
    return "\n".join(["  ".join(n.ljust(w) for n, w in zip(names, widths)), line, *body]).rstrip()


def render(names: list[str], rows: list[tuple], fmt: str) -> str:
    """The rows in `fmt` (table, csv, json, markdown)."""
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(names)
        writer.writerows([[_text(v) for v in row] for row in rows])
        text = out.getvalue().rstrip("\n")
    elif fmt == "json":
        text = json.dumps([{n: _json_value(v) for n, v in zip(names, row)} for row in rows], ensure_ascii=False,
                          indent=1)
    else:
        text = _table(names, rows, markdown=fmt == "markdown")
        if fmt == "table":
            text += f"\n({len(rows)} row{'s' if len(rows) != 1 else ''})"
    return text
