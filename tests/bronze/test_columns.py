"""Whole-column ingest = line by line: the Arrow split of the official layouts gives what the csv module
gives, and the column rules give each row the value and the reason the row rules give it."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa
import pytest

from pipeline.bronze import fields as f
from pipeline.bronze.columns import accident_columns, apply, check_columns
from pipeline.bronze.parse import CONTROL, MAX_LINE_CHARS, _split_one_by_one, parse_file
from tests.bronze.baac_fuzz import HOSTILE

_CHARS = ['"', '"', ";", ",", "\t", " ", "\r", "a", "1", "\x00", "\x1c", "\u00a0", "é", "\u2028", "-", "."]


def _random_line(rng: random.Random, separator: str, width: int) -> str:
    def cell() -> str:
        return "".join(rng.choice(_CHARS) if rng.random() < 0.15 else rng.choice("ab12 ")
                       for _ in range(rng.randint(0, 4)))

    roll = rng.random()
    cells = [cell() for _ in range(width + rng.choice([0, 0, 0, 1, -1]))]
    if roll < 0.4:
        return separator.join(f'"{c}"' for c in cells)
    if roll < 0.7:
        return separator.join(cells)
    return "".join(rng.choice(_CHARS) for _ in range(rng.randint(0, 20)))


@pytest.mark.parametrize("separator", [";", ",", "\t"])
def test_official_layouts_split_by_arrow_as_the_csv_module_splits_them(tmp_path, separator):
    q = separator
    lines = [
        f'"202100056512"{q}"1"{q}" -22,22"', f"202100056512{q}1{q} -22,22",  # the two official layouts
        f'"a{q}b"{q}"c"{q}"d"', f'"a""b"{q}"c"{q}"d"', f'"a"{q}"b"', f'"a"{q}"b"{q}"c"{q}"d"',  # quotes, counts
        f'"a"x{q}"b"{q}"c"', f' "a"{q}"b"{q}"c"', f'"a"{q}"b"{q}"c', f'""{q}""{q}""', f"{q}{q}",
        f'"a\r"{q}"b"{q}"c"', "", "   ", "\x1c\u2028", "\u00a0", f'"{"x" * MAX_LINE_CHARS}"{q}"b"{q}"c"',
        f'"a\x00"{q}"b"{q}"c"', f"a\x00{q}b{q}c", '"', '""', f"é{q}\u00a0{q}1",
    ]
    rng = random.Random(13)
    lines += [_random_line(rng, separator, 3) for _ in range(600)]
    path = tmp_path / "lieux-2021.csv"
    path.write_bytes(("\n".join([separator.join(["Num_Acc", "b", "c"]), *lines]) + "\n").encode())
    parsed = parse_file(path)
    text_lines = parsed.text_lines
    # lines with a control character are refused before any split (the documented text rule)
    damaged = [i for i, line in enumerate(text_lines[1:]) if CONTROL.search(line)]
    clean = np.setdiff1d(np.arange(len(text_lines) - 1), damaged)
    problems, positions, rows = _split_one_by_one(text_lines, clean, separator, 3)
    control = [(i + 2, reason) for i in damaged for n, reason in parsed.problems if n == i + 2]
    assert len(control) == len(damaged) >= 3 and all("control character" in r for _, r in control)
    assert parsed.problems == sorted(problems + control)  # csv reference: every other line one by one
    assert parsed.line_numbers.to_pylist() == (positions + 2).tolist()
    columns = [parsed.columns[name].to_pylist() for name in parsed.header]
    assert [list(r) for r in zip(*columns)] == rows
    assert len(rows) > 200 and len(problems) > 100


def _row_rule(kind: str, values: dict[str, str], year: int) -> dict[str, object]:
    """The row rule, written out: RULES' order, first refusal wins, then the birth year."""
    parsed = {c: rule.parse(c, values[c]) for c, rule in f.RULES[kind].items() if c in values}
    if kind == "usagers" and parsed.get("an_nais") is not None:
        f.born_by(parsed["an_nais"], year)
    return parsed


@pytest.mark.parametrize("kind", list(f.RULES))
def test_column_rules_give_each_row_the_value_and_reason_of_the_row_rules(kind):
    rng = random.Random(kind)
    columns = list(f.RULES[kind])
    good = {"an_nais": "1990", "adr": "Rue", "voie": "RT1", "actp": "a", "id_vehicule": "100\u00a0891"}
    rows = [{c: rng.choice(HOSTILE) if rng.random() < 0.15 else good.get(c, str(rng.randint(0, 9))) for c in columns}
            for _ in range(300)]
    parsed, reasons = check_columns(kind, {c: pa.array([r[c] for r in rows], pa.string()) for c in columns}, 2021)
    for i, row in enumerate(rows):
        try:
            expected, reason = _row_rule(kind, row, 2021), None
        except f.FieldError as exc:
            expected, reason = None, str(exc)
        assert reasons[i].as_py() == reason, row
        if reason is None:
            assert {c: parsed[c][i].as_py() for c in columns} == expected


def test_a_rule_of_several_columns_runs_once_per_distinct_tuple_and_skips_nulls():
    calls = []

    def rule(a, b):
        calls.append((a, b))
        if a < 0:
            raise f.FieldError(f"{a} {b}")
        return f"{a}/{b}"

    a = pa.array([1.0, -0.0, 1.0, None, -1.0, 0.0, -1.0])
    b = pa.array([2.0, 0.0, 2.0, 5.0, 3.0, 0.0, 4.0])
    checked = apply(rule, a, b, arrow_type=pa.string())
    assert checked.values.to_pylist() == ["1.0/2.0", "-0.0/0.0", "1.0/2.0", None, None, "0.0/0.0", None]
    assert checked.errors.to_pylist() == [None, None, None, None, "-1.0 3.0", None, "-1.0 4.0"]
    assert sorted(map(repr, calls)) == ['(-0.0, 0.0)', '(-1.0, 3.0)', '(-1.0, 4.0)', '(0.0, 0.0)', '(1.0, 2.0)']


def test_an_accident_row_takes_the_reason_of_its_first_refused_field():
    good = {"an": "2021", "jour": "3", "mois": "02", "hrmn": "07:45", "lat": " -22,27", "long": "166,45",
            "lum": "1", "agg": "2", "int": "1", "atm": "1", "col": "3", "adr": "Rue", "com": "98818"}
    # each row breaks its field and every field checked after it: the reason names its field
    breaks = [("mois", "13", "mois '13' is outside 1-12"), ("hrmn", "25:00", "hrmn '25:00' is not a time of day"),
              ("lat", "x", "lat 'x' is not a decimal coordinate"), ("long", "", "long is missing"),
              ("lat", "48,8", "coordinates (48.8, 166.45) outside the bounds"), ("atm", "12", "atm 12 is not in"),
              ("adr", "x" * 301, "adr is 301 characters long"), ("com", "13055", "com '13055' is not a commune")]
    rows = []
    for i in range(len(breaks)):
        row = dict(good)
        for column, value, _ in breaks[i:]:
            if column != "lat" or row["lat"] == good["lat"]:
                row[column] = value
        rows.append(row)
    rows[4]["lat"] = "48,8"  # inside its own rule, outside the bounds
    rows.append(good)
    values, reasons = accident_columns({c: pa.array([r[c] for r in rows], pa.string()) for c in good}, 2021, "988")
    for i, (_, _, reason) in enumerate(breaks):
        assert reasons[i].as_py().startswith(reason), (i, reasons[i])
    assert reasons[-1].as_py() is None
    assert values["event_time"][-1].as_py() == f.event_time(good, 2021)
    assert (values["lat"][-1].as_py(), values["com"][-1].as_py()) == (-22.27, "98818")


def test_fields_does_not_import_columns():
    """fields.py is the layer below columns.py (issue 20): an import back would be a circle."""
    import ast
    from pathlib import Path

    import pipeline.bronze.fields as fields_module

    tree = ast.parse(Path(fields_module.__file__).read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert not {name for name in imported if name and name.startswith("pipeline.bronze")}
