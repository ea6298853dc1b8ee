"""Parameters objects: one frozen dataclass per stage is the single source of defaults, ranges and help.

A field is declared with `param(default, help, ...)`. Constructing the object validates every field
(`__post_init__`), so a bad value raises one AccidentsError that names the *parameter*
(`grid_step=5.0: expected 0.001..1`), whichever entry point built it. Entry points only translate:
- the CLI adds one `--field-name` option per field (`add_arguments`) and builds the object from the
  parsed text (`from_text`);
- Dagster derives its `Config` class from the fields (`dagster_accidents.config.config_class`).

Standard library only: the CLI imports these objects to build `--help`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from pipeline.core.errors import AccidentsError

_KINDS = ("int", "float", "str", "bool", "list", "date", "years")


@dataclasses.dataclass(frozen=True)
class Spec:
    """What a field accepts: its kind, an inclusive range, a choice list; `cli=False` keeps it out of
    the command line (set by the entry point itself, e.g. the département)."""

    help: str
    kind: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] | None = None
    optional: bool = False
    cli: bool = True


def param(default: Any, help: str, *, kind: str | None = None, low: float | None = None,
          high: float | None = None, choices: tuple[str, ...] | None = None, cli: bool = True) -> Any:
    """A dataclass field with its spec. `kind` is inferred from the default when not given;
    a default of None makes the field optional."""
    if kind is None:
        kind = {bool: "bool", int: "int", float: "float", str: "str", tuple: "list"}[type(default)]
    if kind not in _KINDS:
        raise ValueError(f"unknown parameter kind {kind!r}")
    spec = Spec(help=help, kind=kind, low=low, high=high, choices=choices, optional=default is None, cli=cli)
    return dataclasses.field(default=default, metadata={"spec": spec})


def specs(cls_or_obj) -> dict[str, Spec]:
    return {f.name: f.metadata["spec"] for f in dataclasses.fields(cls_or_obj) if "spec" in f.metadata}


def defaults(cls) -> dict[str, Any]:
    return {f.name: f.default for f in dataclasses.fields(cls) if "spec" in f.metadata}


def _expected(spec: Spec) -> str:
    if spec.choices:
        return ("a comma list of " if spec.kind == "list" else "one of ") + ", ".join(spec.choices)
    if spec.low is not None or spec.high is not None:
        return f"{'' if spec.low is None else spec.low:g}..{'' if spec.high is None else spec.high:g}" \
            if spec.low is not None and spec.high is not None else \
            (f">= {spec.low:g}" if spec.low is not None else f"<= {spec.high:g}")
    return {"int": "a whole number", "float": "a number", "bool": "true or false", "date": "YYYY-MM-DD",
            "years": "YEAR, FIRST-LAST or a comma list", "list": "a comma list", "str": "text"}[spec.kind]


def check(name: str, spec: Spec, value: Any) -> None:
    """Raise AccidentsError naming `name` when `value` is outside its spec."""
    if value is None:
        if spec.optional:
            return
        raise AccidentsError(f"{name}: a value is required")
    bad = False
    if spec.kind == "int":
        bad = isinstance(value, bool) or not isinstance(value, int)
    elif spec.kind == "float":
        bad = isinstance(value, bool) or not isinstance(value, int | float) or value != value
    elif spec.kind == "bool":
        bad = not isinstance(value, bool)
    elif spec.kind in ("list", "years"):
        bad = not isinstance(value, tuple) or not value
        if not bad and spec.choices:
            bad = any(v not in spec.choices for v in value)
    elif spec.kind == "date":
        bad = not isinstance(value, dt.date)
    elif spec.kind == "str":
        bad = not isinstance(value, str) or (spec.choices is not None and value not in spec.choices)
    if not bad and spec.kind in ("int", "float"):
        bad = (spec.low is not None and value < spec.low) or (spec.high is not None and value > spec.high)
    if bad:
        raise AccidentsError(f"{name}={value!r}: expected {_expected(spec)}")


class Params:
    """Base of every parameters dataclass: validates on construction."""

    def __post_init__(self) -> None:
        for name, spec in specs(self).items():
            check(name, spec, getattr(self, name))

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in specs(self)}


def parse_years(text: str, name: str = "years", *, first: int = 2005, last: int | None = None) -> tuple[int, ...]:
    """'2019-2024', '2021', '2019,2021' -> sorted unique years within [first, last]."""
    last = last if last is not None else dt.date.today().year - 1
    years: set[int] = set()
    for part in str(text).split(","):
        part = part.strip()
        try:
            if "-" in part:
                lo, hi = (int(p) for p in part.split("-", 1))
                if lo > hi:
                    raise ValueError
                years.update(range(lo, hi + 1))
            else:
                years.add(int(part))
        except ValueError:
            raise AccidentsError(f"{name}={text!r}: expected YEAR, FIRST-LAST or a comma list") from None
    bad = sorted(y for y in years if not first <= y <= last)
    if bad:
        raise AccidentsError(f"{name}: {bad[0]} is not a published BAAC year ({first}-{last})")
    return tuple(sorted(years))


def parse_value(name: str, spec: Spec, text: Any) -> Any:
    """Text from a command line (or an already typed value) -> the field's type; errors name `name`."""
    if text is None or not isinstance(text, str):
        return tuple(text) if isinstance(text, list) else text
    raw = text.strip()
    if spec.optional and raw.lower() in ("", "none"):
        return None
    try:
        if spec.kind == "int":
            return int(raw)
        if spec.kind == "float":
            return float(raw)
        if spec.kind == "bool":
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if spec.kind == "date":
            return dt.date.fromisoformat(raw)
        if spec.kind == "years":
            return parse_years(raw, name)
        if spec.kind == "list":
            return tuple(dict.fromkeys(v.strip().lower() if spec.choices else v.strip()
                                       for v in raw.split(",") if v.strip()))
    except ValueError:
        kind = {"int": "a whole number", "float": "a number"}.get(spec.kind) or _expected(spec)
        raise AccidentsError(f"{name}={text!r}: expected {kind}") from None
    return raw


def from_text(cls, values: dict[str, Any], **fixed):
    """Build `cls` from text values (command line) plus typed `fixed` values set by the caller."""
    spec_by_name = specs(cls)
    typed = {name: parse_value(name, spec_by_name[name], value)
             for name, value in values.items() if name in spec_by_name and value is not None}
    return cls(**{**typed, **fixed})


def add_arguments(parser, cls, *, skip: tuple[str, ...] = (), defaults_override: dict[str, Any] | None = None) -> None:
    """One `--field-name` option per CLI field of `cls`, default None (= the dataclass default), so
    that `from_namespace` knows what the user actually gave."""
    overrides = defaults_override or {}
    for f in dataclasses.fields(cls):
        spec = f.metadata.get("spec")
        if spec is None or not spec.cli or f.name in skip:
            continue
        default = overrides.get(f.name, f.default)
        shown = ",".join(map(str, default)) if isinstance(default, tuple) else default
        extra = f" ({_expected(spec)})" if spec.choices or spec.low is not None else ""
        parser.add_argument("--" + f.name.replace("_", "-"), dest=f.name, default=None, metavar=f.name.upper(),
                            help=f"{spec.help}{extra} [default: {shown}]")


def from_namespace(cls, args, **fixed):
    """The parameters object from parsed CLI arguments (only options the user gave override defaults)."""
    return from_text(cls, {name: getattr(args, name, None) for name in specs(cls)}, **fixed)
