"""What the risk API answers, without HTTP: nearest road point, risk of a point-hour, hotspots.

Everything a request needs is in memory: the road points (unit vectors for the nearest one), the
champion, and day grids (24 x N expected accidents, probabilities, risk indexes, ranks, and the day's
top points with their intervals and reasons) per (date, atm). A day grid comes from gold.predictions
and gold.prediction_totals when that day was predicted for every current road point (`stored_grid`);
otherwise it is scored on the fly with the champion through the prediction stage's own functions
(expected counts, risk index, ranks, totals; `computed_grid`), kept in memory and never written (the
API opens the lake read-only). `refresh()` drops grids when the lake gets a new snapshot or the
champion alias moves.

Start-up loads the lake only; the champion (and the libraries of its kind) loads in a thread beside
it, so stored days are answered at once and a day to score waits for the model if it is still
loading. Whether the lake holds synthetic demo data is read with each lake load (`synthetic`).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pipeline.core.errors import AccidentsError
from pipeline.core.file_stamp import sqlite_stamp
from pipeline.core.lake import DEP, catalog_path, connect, current_snapshot, table_exists
from pipeline.gold.scenarios import ATM_LABELS, HOURS, ensure_known_scenario
from pipeline.serving.champion import ChampionHolder
from pipeline.serving.params import ParameterError, ServeOptions, parse_atm, parse_time  # noqa: F401 (the API's names)
from pipeline.serving.roads import RoadIndex
from pipeline.silver.tables import load_road_points
from pipeline.sources.provenance import lake_is_synthetic

if TYPE_CHECKING:
    from pipeline.core.settings import Settings

log = logging.getLogger("accidents.serving")

SOURCE_LAKE = "gold.predictions"
SOURCE_ON_THE_FLY = "on_the_fly"
MAX_TOP = 100
# Hours go through pandas timestamps (nanoseconds: years 1677-2262): keep a margin at both ends.
SCORABLE_DAYS = (dt.date(1700, 1, 1), dt.date(2261, 12, 31))
MAX_FEATURES = 250_000  # point-hours in one GeoJSON answer (~60 MB); more must be asked hour by hour


@dataclass(frozen=True)
class DayGrid:
    date: dt.date
    atm: int
    expected: np.ndarray  # (24, N) expected accidents, columns in road-point order
    risk_index: np.ndarray
    rank: np.ndarray
    model_name: str
    model_version: str
    source: str
    hotspots: tuple = ()  # the day's top points (pipeline.gold.prediction_totals.TopPoint-like dicts)
    model_kind: str | None = None  # what the champion is: "Poisson GLM", "hotspot map", ...

    @property
    def model_info(self) -> dict[str, Any]:
        return {"name": self.model_name, "version": self.model_version, "kind": self.model_kind}

    @property
    def probability(self) -> np.ndarray:
        """Probability of at least one accident in the point-hour."""
        return -np.expm1(-self.expected)


def import_scoring() -> None:
    """Import what scoring a day needs, in the champion's loading thread: an import holds the interpreter
    lock for long stretches, so it is done beside start-up rather than before /readyz or inside the
    first request that scores (pipeline/core/heavy.py: LAZY_BOUNDARIES)."""
    import pipeline.gold.intensity.grid  # noqa: F401
    import pipeline.gold.prediction_totals  # noqa: F401
    import pipeline.gold.predictions  # noqa: F401


# ---- the service -------------------------------------------------------------------------------

class RiskService:
    """One per API process. Lake access is serialised (one DuckDB connection); day grids are shared."""

    def __init__(self, settings: Settings, options: ServeOptions = ServeOptions(), *, champion=None):
        self.settings, self.options = settings, options
        self._con = connect(settings, read_only=True)
        self._con_lock = threading.Lock()
        self._grids: OrderedDict[tuple[dt.date, int], DayGrid] = OrderedDict()
        self._key_locks: dict[tuple[dt.date, int], threading.Lock] = {}
        self._grids_lock = threading.Lock()
        self.champion = champion or ChampionHolder(settings.resolved_mlflow_uri, settings.registered_model,
                                                   cache_dir=settings.data_dir / "serving" / "champion")
        # the warm copy, else the registry (the refresh loop verifies it); then the scoring path's imports
        self.champion.load_in_background(then=import_scoring)
        self.snapshot: int | None = None
        self.synthetic = False
        self.roads: RoadIndex | None = None
        self.latest_prediction: tuple[dt.date | None, dt.datetime | None] = (None, None)
        self.lake_error: str | None = None
        self._map_roads: tuple[int | None, dict | None] | None = None
        self._stamp = self._catalog_stamp()
        self._reload_lake()

    def close(self) -> None:
        with self._con_lock:
            self._con.close()

    # -- lake state --

    def _query(self, sql: str, params=None):
        with self._con_lock:
            return self._con.execute(sql, params or []).fetchall()

    def _reload_lake(self) -> None:
        """Road points, latest prediction and snapshot id; grids dropped (called when the lake moved)."""
        with self._con_lock:
            try:
                snapshot = current_snapshot(self._con)
                roads = RoadIndex(load_road_points(self._con))
                latest = (None, None)
                if table_exists(self._con, "gold.predictions"):
                    latest = self._con.execute(
                        f"SELECT max(date), max(created_at) FROM gold.predictions WHERE dep = {DEP}").fetchone()
                synthetic = lake_is_synthetic(self._con)
            except AccidentsError as exc:
                self.lake_error = str(exc)
                return
            self.snapshot, self.roads, self.latest_prediction = snapshot, roads, tuple(latest)
            self.synthetic, self.lake_error = synthetic, None
        with self._grids_lock:
            self._grids.clear()

    def _catalog_stamp(self) -> list[int] | None:
        """The file catalog's stamp (file and SQLite write-ahead log). None for PostgreSQL (or no file)."""
        if self.settings.catalog == "postgres":
            return None
        return sqlite_stamp(catalog_path(self.settings))

    def refresh(self) -> dict[str, bool]:
        """Check the lake snapshot and the champion alias; reload what moved. Cheap when nothing did.
        A file catalog is only queried when its file changed: each read takes SQLite's shared lock,
        and polling reads would make the daily job's commit meet "database is locked"."""
        stamp = self._catalog_stamp()
        if stamp is not None and stamp == self._stamp and self.roads is not None:
            return {"lake": False, "model": self._refresh_model(lake_moved=False)}
        self._stamp = stamp
        with self._con_lock:
            try:
                snapshot = current_snapshot(self._con)
            except Exception as exc:  # a catalog being rewritten: try again next time
                log.warning("lake snapshot unavailable: %s", exc)
                snapshot = self.snapshot
        lake_moved = snapshot != self.snapshot or self.roads is None
        if lake_moved:
            self._reload_lake()
        return {"lake": lake_moved, "model": self._refresh_model(lake_moved)}

    def _refresh_model(self, lake_moved: bool) -> bool:
        model_moved = self.champion.refresh()
        if model_moved and not lake_moved:
            with self._grids_lock:
                for key in [k for k, g in self._grids.items() if g.source == SOURCE_ON_THE_FLY]:
                    del self._grids[key]
        return model_moved

    def map_roads(self) -> dict | None:
        """The simplified road network for maps, built on first use after each lake change."""
        from pipeline.serving.risk_map import road_network

        snapshot = self.snapshot
        cached = self._map_roads
        if cached is not None and cached[0] == snapshot:
            return cached[1]
        with self._con_lock:
            roads = road_network(self._con)
        self._map_roads = (snapshot, roads)
        return roads

    def ready(self) -> dict[str, Any]:
        """The lake is loaded and the champion loaded or loading (stored days need no model)."""
        return {"lake": self.roads is not None, "lake_error": self.lake_error,
                "model": self.champion.loaded or self.champion.loading, "model_loaded": self.champion.loaded,
                "model_error": self.champion.last_error}

    def require_roads(self) -> RoadIndex:
        if self.roads is None:
            raise AccidentsError(self.lake_error or "road points not loaded")
        return self.roads

    # -- day grids --

    @property
    def cached_days(self) -> int:
        return len(self._grids)

    def cached_grid(self, day: dt.date, atm: int) -> DayGrid | None:
        """The grid if it is in memory (no lake access, no scoring): the fast path."""
        grid = self._grids.get((day, atm))
        if grid is not None:
            with self._grids_lock:
                if (day, atm) in self._grids:
                    self._grids.move_to_end((day, atm))
        return grid

    def day_grid(self, day: dt.date, atm: int, parameter: str = "date") -> DayGrid:
        """From memory, else gold.predictions, else scored with the champion (once per key).
        `parameter` names the request parameter blamed when the day cannot be predicted."""
        return self.stored_grid(day, atm) or self.computed_grid(day, atm, parameter)

    def stored_grid(self, day: dt.date, atm: int) -> DayGrid | None:
        """From memory, else from gold.predictions (kept in memory); None when the day must be scored."""
        return self.cached_grid(day, atm) or self._keep(self._grid_from_lake(day, atm))

    def computed_grid(self, day: dt.date, atm: int, parameter: str = "date") -> DayGrid:
        """Scored with the champion, once per key however many requests ask at the same time."""
        with self._grids_lock:
            key_lock = self._key_locks.setdefault((day, atm), threading.Lock())
        with key_lock:
            return self.cached_grid(day, atm) or self._keep(self._grid_on_the_fly(day, atm, parameter))

    def _keep(self, grid: DayGrid | None) -> DayGrid | None:
        if grid is not None:
            with self._grids_lock:
                self._grids[(grid.date, grid.atm)] = grid
                while len(self._grids) > self.options.max_cached_days:
                    self._grids.popitem(last=False)
        return grid

    def _grid_from_lake(self, day: dt.date, atm: int) -> DayGrid | None:
        """gold.predictions of (day, atm) as a grid, or None when absent or not for today's road points."""
        roads = self.require_roads()
        with self._con_lock:
            if not table_exists(self._con, "gold.predictions"):
                return None
            rows = self._con.execute(
                "SELECT hour, point_id, expected_accidents, risk_index, rank_in_hour, model_name, model_version, model_kind "
                f"FROM gold.predictions WHERE date = ? AND atm = ? AND dep = {DEP}", [day, atm]).fetchnumpy()
            hotspots = self._stored_hotspots(day, atm)
        n = len(roads)
        if len(rows["hour"]) != HOURS * n:
            return None
        col = np.searchsorted(roads.point_ids, rows["point_id"])
        col = np.clip(col, 0, n - 1)
        if not np.array_equal(roads.point_ids[col], rows["point_id"]):
            return None  # predicted over another road network: score today's instead
        hour = rows["hour"].astype(np.int64)
        grids = []
        for name in ("expected_accidents", "risk_index", "rank_in_hour"):
            out = np.empty((HOURS, n), dtype=np.int32 if name == "rank_in_hour" else np.float64)
            out[hour, col] = rows[name]
            grids.append(out)
        return DayGrid(day, atm, *grids, model_name=str(rows["model_name"][0]),
                       model_version=str(rows["model_version"][0]), source=SOURCE_LAKE, hotspots=hotspots,
                       model_kind=rows["model_kind"][0])

    def _stored_hotspots(self, day: dt.date, atm: int) -> tuple:
        """The day's top points with intervals and reasons (gold.prediction_totals), inside the lake lock."""
        if not table_exists(self._con, "gold.prediction_totals"):
            return ()
        rows = self._con.execute(
            "SELECT key, expected, low, high, count_low, count_high, peak_hour, reasons FROM gold.prediction_totals "
            f"WHERE date = ? AND atm = ? AND scope = 'hotspot' AND dep = {DEP} ORDER BY rank", [day, atm]).fetchall()
        return tuple({"point_id": int(key), "expected_accidents": expected,
                      "interval": {"low": low, "high": high, "count_low": count_low, "count_high": count_high},
                      "peak_hour": peak, "reasons": json.loads(reasons or "[]")}
                     for key, expected, low, high, count_low, count_high, peak, reasons in rows)

    def _grid_on_the_fly(self, day: dt.date, atm: int, parameter: str) -> DayGrid:
        from pipeline.gold.prediction_totals import day_totals
        from pipeline.gold.predictions import risk_indexes_and_ranks, score_days

        roads = self.require_roads()
        first, last = SCORABLE_DAYS
        if not first <= day <= last:
            raise ParameterError(parameter, f"{day} is outside the days the model can score ({first} to {last})")
        if not self.champion.wait_loaded():
            raise ParameterError(parameter, f"{day} atm={atm} is not in gold.predictions and no champion is "
                                 f"loaded to score it ({self.champion.last_error})", status=404)
        loaded = self.champion.current()
        try:
            ensure_known_scenario(loaded.model, atm)
        except AccidentsError as exc:
            raise ParameterError("atm", str(exc).split(": ", 1)[-1]) from None
        started = time.perf_counter()
        grid, expected, cube = score_days(loaded.model, roads.points, [day], atm, self.settings.department.code)
        risk_index, ranks = risk_indexes_and_ranks(cube)
        top = day_totals(loaded.model, grid, expected, [day])[0].top_points
        log.info("scored %s atm=%d on the fly with %s v%s in %.2fs", day, atm, loaded.name, loaded.version,
                 time.perf_counter() - started)
        hotspots = tuple({"point_id": p.point_id, "expected_accidents": p.expected_accidents,
                          "interval": {k: v for k, v in p.interval.as_dict().items() if k != "expected"},
                          "peak_hour": p.peak_hour, "reasons": list(p.reasons)} for p in top)
        return DayGrid(day, atm, cube[0], risk_index[0], ranks[0], model_name=loaded.name,
                       model_version=loaded.version, source=SOURCE_ON_THE_FLY, hotspots=hotspots,
                       model_kind=loaded.model.kind)

    # -- answers --

    def risk(self, grid: DayGrid, point: int, distance_km: float, hour: int) -> dict[str, Any]:
        roads = self.require_roads()
        return {
            "point": {**roads.describe(point), "distance_km": round(distance_km, 4)},
            "date": grid.date.isoformat(), "hour": hour, "atm": grid.atm, "atm_label": ATM_LABELS[grid.atm],
            "expected_accidents": float(grid.expected[hour, point]),
            "probability": float(grid.probability[hour, point]),
            "risk_index": float(grid.risk_index[hour, point]),
            "rank_in_hour": int(grid.rank[hour, point]), "n_points": len(roads),
            "model": grid.model_info, "source": grid.source,
            "synthetic": self.synthetic,
        }

    def hotspots(self, grid: DayGrid, hour: int | None, top: int) -> list[dict[str, Any]]:
        """The `top` riskiest points of one hour (by expected accidents), or of the day when `hour` is
        None: the prediction's own top points, with their 90 % intervals and the reasons that raise
        them, then (past those) the next points by the day's expected accidents."""
        roads = self.require_roads()
        if hour is None:
            known = {h["point_id"]: h for h in grid.hotspots}
            per_point = grid.expected.sum(axis=0)
            out = []
            for i in np.argsort(-per_point, kind="stable")[:top]:
                point_id = int(roads.point_ids[i])
                peak = int(grid.expected[:, i].argmax())
                extra = known.get(point_id, {})
                out.append({**roads.describe(int(i)), "expected_accidents": float(per_point[i]), "peak_hour": peak,
                            "probability": float(grid.probability[peak, i]),
                            "risk_index": float(grid.risk_index[peak, i]),
                            **{k: extra[k] for k in ("interval", "reasons") if k in extra}})
            return out
        order = np.argsort(grid.rank[hour], kind="stable")[:top]
        return [{**roads.describe(int(i)), "hour": hour, "expected_accidents": float(grid.expected[hour, i]),
                 "probability": float(grid.probability[hour, i]), "risk_index": float(grid.risk_index[hour, i]),
                 "rank_in_hour": int(grid.rank[hour, i])} for i in order]

    def check_response_size(self, hour: int | None) -> None:
        """Refuse a whole day beyond MAX_FEATURES point-hours (a response size guard), before any scoring."""
        roads = self.require_roads()
        if hour is None and 24 * len(roads) > MAX_FEATURES:
            raise ParameterError("hour", f"a whole day is {24 * len(roads)} point-hours (more than "
                                 f"{MAX_FEATURES}): ask one hour at a time")

    def predictions_frame(self, grid: DayGrid, hour: int | None = None) -> pd.DataFrame:
        """The day grid's point-hours (one hour, or all) with road attributes (gold.predictions' columns)."""
        roads = self.require_roads()
        day, atm = grid.date, grid.atm
        hours = np.arange(24) if hour is None else np.array([hour])
        n = len(roads)
        idx = np.tile(np.arange(n), len(hours))
        frame = pd.DataFrame({
            "date": day, "hour": np.repeat(hours, n), "point_id": roads.point_ids[idx],
            "lat": roads.points["lat"].to_numpy()[idx], "lon": roads.points["lon"].to_numpy()[idx],
            "atm": atm, "expected_accidents": grid.expected[hours].reshape(-1),
            "probability": grid.probability[hours].reshape(-1),
            "risk_index": grid.risk_index[hours].reshape(-1), "rank_in_hour": grid.rank[hours].reshape(-1),
            "model_name": grid.model_name, "model_version": grid.model_version,
        })
        for column in ("road_type", "speed_limit", "com"):
            frame[column] = roads.points[column].to_numpy()[idx] if column in roads.points else None
        return frame

    def model_info(self) -> dict[str, Any]:
        from pipeline.gold import registry

        self.champion.wait_loaded()
        loaded = self.champion.current()
        info: dict[str, Any] = {"name": loaded.name, "version": loaded.version,
                                "kind": getattr(loaded.model, "kind", None),
                                "train_years": list(getattr(loaded.model, "train_years", ())),
                                "loaded_at": dt.datetime.fromtimestamp(loaded.loaded_at, dt.UTC).isoformat(),
                                "verified": loaded.verified}
        for version in registry.list_model_versions(self.champion.tracking_uri, loaded.name):
            if version["version"] == loaded.version:
                created = version["created"]
                info.update(
                    run_id=version["run_id"], protocol=version["protocol"], aliases=version["aliases"],
                    trained_at=dt.datetime.fromtimestamp(created / 1000, dt.UTC).isoformat() if created else None,
                    metrics=version["metrics"])
        return info
