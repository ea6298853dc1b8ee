"""What a model scores: road points x hours under a weather (history, forecast or scenario)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pipeline.gold.intensity.cells import TimeCells, WeatherSeries
from pipeline.gold.intensity.terms import point_groups

if TYPE_CHECKING:
    from pipeline.core.weather import WeatherHistory

# A year of the 0.02-degree demo grid is 11 M point-hours (90 MB in float64): an evaluation keeps each
# candidate's once, so a blend, the champion and the effects reuse them. Finer grids recompute.
CACHE_CELLS = 15_000_000


@dataclass(frozen=True, eq=False)
class ScoringGrid:
    """Every road point of `points` (silver.road_points rows) at every hour of `hours` (local hour
    starts); `weather` is a BAAC code for every hour (a scenario), a WeatherHistory (each point the
    series of its nearest station) or None (normal weather)."""

    points: pd.DataFrame
    hours: pd.DatetimeIndex
    weather: int | WeatherHistory | None
    department: str
    cache_cells: int = CACHE_CELLS  # matrices of at most this many point-hours are kept (see `expected_of`)
    _cells: dict = field(default_factory=dict, repr=False)
    _expected: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "hours", pd.DatetimeIndex(self.hours))

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.points), len(self.hours)

    @cached_property
    def group_of_point(self) -> np.ndarray:
        return point_groups(self.points)

    @cached_property
    def raw_weather(self) -> WeatherSeries:
        return WeatherSeries.of(self.points, self.hours, self.weather)

    def weather_for(self, known_codes) -> tuple[WeatherSeries, int]:
        """The grid's weather with codes a model never saw read as normal weather (and how many
        series-hours that remapped)."""
        return self.raw_weather.mapped(known_codes)

    def cells_for(self, known_codes) -> tuple[TimeCells, WeatherSeries]:
        """Time cells of the grid for a model knowing `known_codes` (cached per code set)."""
        key = tuple(sorted(known_codes))
        if key not in self._cells:
            series, _ = self.weather_for(key)
            self._cells[key] = (TimeCells.of(self.hours, series, self.department), series)
        return self._cells[key]

    def expected_of(self, model, dtype=np.float64) -> np.ndarray:
        """`model.expected_counts(self)`, computed once per model while the grid is small enough to keep
        it (`cache_cells`; kept in float64, handed out in `dtype`); callers must not modify the array."""
        if self.shape[0] * self.shape[1] > self.cache_cells:
            return model.expected_counts(self, dtype=dtype)
        entry = self._expected.get(id(model))
        if entry is None or entry[0] is not model:
            entry = self._expected[id(model)] = (model, model.expected_counts(self))  # the model is held: its id stays
        return entry[1] if dtype == np.float64 else entry[1].astype(dtype)

    def point_blocks(self, series: WeatherSeries):
        """(road group, series, member indices) of every block of points sharing both."""
        cell = self.group_of_point * series.atm.shape[0] + series.series_of_point
        for value in np.unique(cell):
            members = np.flatnonzero(cell == value)
            yield int(self.group_of_point[members[0]]), int(series.series_of_point[members[0]]), members
