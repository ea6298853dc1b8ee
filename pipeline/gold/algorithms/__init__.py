"""The algorithm registry: one module per learning library, each exposing `ALGORITHM`.

Adding an algorithm = one new module here (an `Algorithm` subclass: search space, fit with early
stopping, native save/load, importance, MLflow flavour) and its dependency in pyproject.toml. Names are
discovered from the package's modules without importing them, so the CLI can list the choices
without loading any learning library.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from typing import TYPE_CHECKING

from pipeline.core.errors import AccidentsError

if TYPE_CHECKING:
    from pipeline.gold.algorithms.base import Algorithm


@cache
def names() -> tuple[str, ...]:
    return tuple(sorted(m.name for m in pkgutil.iter_modules(__path__)
                        if not m.name.startswith("_") and m.name != "base"))


def get(name: str) -> Algorithm:
    """The algorithm called `name`; an unknown name is an error listing the known ones."""
    if name not in names():
        raise AccidentsError(f"algorithm {name!r}: unknown; known algorithms are {', '.join(names())}")
    return importlib.import_module(f"{__name__}.{name}").ALGORITHM
