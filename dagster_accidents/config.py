"""Dagster `Config` classes derived from the pipeline's parameters objects (one source of defaults,
ranges and help): the Launchpad shows the same fields, defaults and descriptions as `--help`, and the
run config is turned back into the parameters object, which validates it."""

from __future__ import annotations

import dataclasses
import enum
import datetime as dt
from typing import Any

import dagster as dg
from pydantic import Field, create_model

from pipeline.core.params import specs

_TYPES = {"int": int, "float": float, "str": str, "bool": bool, "list": list[str], "years": list[int],
          "date": str}


def config_class(params_cls, name: str, *, skip: tuple[str, ...] = (), only: tuple[str, ...] | None = None,
                 overrides: dict[str, Any] | None = None):
    """A `dg.Config` subclass with one field per parameter (lists as lists, dates as YYYY-MM-DD text),
    with the parameter's range and choices so that the Launchpad refuses a bad value before the run.
    `only`/`skip` select the fields an asset uses; `overrides` sets Launchpad-only defaults."""
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(params_cls):
        spec = f.metadata.get("spec")
        if spec is None or f.name in skip or (only is not None and f.name not in only):
            continue
        kind = _TYPES[spec.kind]
        default = (overrides or {}).get(f.name, f.default)
        if isinstance(default, list):  # from overrides
            default = tuple(default)
        elif isinstance(default, dt.date):
            default = default.isoformat()
        if spec.choices and all(c.isidentifier() for c in spec.choices):
            # an Enum, which the Launchpad's schema checks (Dagster config has no Literal)
            choice = enum.Enum(f"{name}_{f.name}", {c: c for c in spec.choices})
            kind = list[choice] if spec.kind == "list" else choice
        if isinstance(default, tuple):
            default = list(default)
        annotation = kind | None if spec.optional else kind
        fields[f.name] = (annotation, Field(default=default, description=spec.help, ge=spec.low, le=spec.high))
    return create_model(name, __base__=dg.Config, **fields)


def params_from(config: dg.Config, params_cls, **fixed):
    """The parameters object from a run's config (validated by the object itself)."""
    values: dict[str, Any] = {}
    spec_by_name = specs(params_cls)
    for name, value in config.model_dump().items():
        if name not in spec_by_name:
            continue
        value = [v.value if isinstance(v, enum.Enum) else v for v in value] if isinstance(value, list) \
            else (value.value if isinstance(value, enum.Enum) else value)
        if spec_by_name[name].kind == "date" and isinstance(value, str):
            value = dt.date.fromisoformat(value)
        values[name] = tuple(value) if isinstance(value, list) else value
    return params_cls(**{**values, **fixed})
