"""Dagster `Config` classes derived from the pipeline's parameters objects (one source of defaults,
ranges and help): the Launchpad shows the same fields, defaults and descriptions as `--help`, and the
run config is turned back into the parameters object, which validates it."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import dagster as dg
from pydantic import Field, create_model

from pipeline.core.params import specs

_TYPES = {"int": int, "float": float, "str": str, "bool": bool, "list": list[str], "years": list[int],
          "date": str}


def config_class(params_cls, name: str, *, skip: tuple[str, ...] = (), overrides: dict[str, Any] | None = None):
    """A `dg.Config` subclass with one field per parameter (lists as lists, dates as YYYY-MM-DD text).
    `overrides` sets Launchpad defaults that differ from the CLI's (e.g. fewer trials)."""
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(params_cls):
        spec = f.metadata.get("spec")
        if spec is None or f.name in skip:
            continue
        kind = _TYPES[spec.kind]
        default = (overrides or {}).get(f.name, f.default)
        if isinstance(default, tuple):
            default = list(default)
        elif isinstance(default, dt.date):
            default = default.isoformat()
        annotation = kind | None if spec.optional else kind
        fields[f.name] = (annotation, Field(default=default, description=spec.help))
    return create_model(name, __base__=dg.Config, **fields)


def params_from(config: dg.Config, params_cls, **fixed):
    """The parameters object from a run's config (validated by the object itself)."""
    values: dict[str, Any] = {}
    spec_by_name = specs(params_cls)
    for name, value in config.model_dump().items():
        if name not in spec_by_name:
            continue
        if spec_by_name[name].kind == "date" and isinstance(value, str):
            value = dt.date.fromisoformat(value)
        values[name] = tuple(value) if isinstance(value, list) else value
    return params_cls(**{**values, **fixed})
