"""Gold datasets of the reference protocol (the predecessor's, reproduced for comparison).

- `gold.train` / `gold.test`: stratified random 80/20 split of one sampler's rows of
  silver.features_reference (leave-one-out history over every year, so it leaks time).
- `gold.feature_metadata`, `gold.weather_encoding`: how the classifiers' inputs are described and encoded.
All four tables are replaced in one transaction, and the random split depends only on `seed`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pipeline.core.errors import AccidentsError
from pipeline.core.features import FEATURE_COLUMNS, feature_kind
from pipeline.core.lake import DEP, committed, table_exists, write_department_rows

if TYPE_CHECKING:
    import duckdb

SAMPLERS = ("exclusion", "uniform")

# BAAC `atm` (conditions atmosphériques) codes.
ATM_LABELS = {
    1: "Normale", 2: "Pluie légère", 3: "Pluie forte", 4: "Neige - grêle", 5: "Brouillard - fumée",
    6: "Vent fort - tempête", 7: "Temps éblouissant", 8: "Temps couvert", 9: "Autre",
}


@dataclass(frozen=True)
class DatasetsSummary:
    sampler: str
    rows: dict[str, int] = field(default_factory=dict)  # table -> row count
    positives: dict[str, int] = field(default_factory=dict)  # table -> positives
    samplers: tuple[str, ...] = ()
    seconds: float = 0.0


def stratified_test_ids(row_ids, targets, test_size: float, seed: int):
    """Row ids of a stratified random test share: `test_size` of each class, chosen by `seed`."""
    rng = np.random.default_rng(seed)
    row_ids = np.asarray(row_ids)
    targets = np.asarray(targets)
    chosen = []
    for cls in np.unique(targets):
        ids = np.sort(row_ids[targets == cls])  # sort first: independent of the query's row order
        n_test = int(round(len(ids) * test_size))
        chosen.append(rng.permutation(ids)[:n_test])
    return np.concatenate(chosen) if chosen else np.array([], dtype=np.int64)


def weather_encoding_json(atm_values) -> str:
    """The BAAC atm labels and the codes seen in the data, as JSON text."""
    seen = sorted({int(v) for v in atm_values if v is not None and v == v})
    return json.dumps(
        {
            "column": "atm",
            "labels": {str(k): v for k, v in ATM_LABELS.items()},
            "observed_codes": seen,
            "model_encoding": "category -> integer code fitted on training rows and stored with each "
            "model (bundle.json categorical_codes); unknown or missing -> -1",
        },
        ensure_ascii=False,
        sort_keys=True,
    )


def build_datasets(
    con: duckdb.DuckDBPyConnection,
    *,
    sampler: str = "exclusion",
    test_size: float = 0.2,
    seed: int = 42,
) -> DatasetsSummary:
    """Write gold.train/test, gold.feature_metadata and gold.weather_encoding of the connection's
    département (its rows only; other départements' stay)."""
    started = time.perf_counter()
    if sampler not in SAMPLERS:
        raise AccidentsError(f"sampler={sampler!r}: expected one of {', '.join(SAMPLERS)}")
    if not 0.0 < test_size < 1.0:
        raise AccidentsError(f"test_size={test_size!r}: expected a fraction between 0 and 1")
    for table in ("silver.features_reference",):
        if not table_exists(con, table):
            raise AccidentsError(f"{table} does not exist; run `accidents features` first")
        columns = {r[0] for r in con.execute(f"SELECT column_name FROM (DESCRIBE {table})").fetchall()}
        missing = [c for c in ["sampler", "row_id", "target", "year", "sampling_weight", *FEATURE_COLUMNS]
                   if c not in columns]
        if missing:
            raise AccidentsError(f"{table} lacks columns: {', '.join(missing)}")

    present = tuple(r[0] for r in con.execute(
        f"SELECT DISTINCT sampler FROM silver.features_reference WHERE dep = {DEP} ORDER BY 1").fetchall())
    if sampler not in present:
        raise AccidentsError(f"sampler={sampler!r}: silver.features_reference has no such rows "
                             f"(present: {', '.join(present) or 'none'})")

    labels = con.execute(
        f"SELECT row_id, target FROM silver.features_reference WHERE sampler = ? AND dep = {DEP} ORDER BY row_id",
        [sampler]).df()
    test_ids = pd.DataFrame({"row_id": stratified_test_ids(labels.row_id, labels.target, test_size, seed)})
    atm_values = [r[0] for r in con.execute(
        f"SELECT DISTINCT atm FROM silver.features_reference WHERE dep = {DEP}").fetchall()]
    metadata = pd.DataFrame({
        "name": FEATURE_COLUMNS,
        "position": list(range(len(FEATURE_COLUMNS))),
        "kind": [feature_kind(c) for c in FEATURE_COLUMNS],
    })
    weather = pd.DataFrame({"encoding_json": [weather_encoding_json(atm_values)]})

    def write() -> None:
        base = f"SELECT f.* FROM silver.features_reference f WHERE f.sampler = ? AND f.dep = {DEP}"
        write_department_rows(con, "gold.train", f"{base} AND f.row_id NOT IN (SELECT row_id FROM _test_ids) "
                              "ORDER BY f.row_id", [sampler])
        write_department_rows(con, "gold.test", f"{base} AND f.row_id IN (SELECT row_id FROM _test_ids) "
                              "ORDER BY f.row_id", [sampler])
        write_department_rows(con, "gold.feature_metadata",
                              "SELECT name, CAST(position AS INTEGER) AS position, kind FROM _feature_metadata")
        write_department_rows(con, "gold.weather_encoding", "SELECT encoding_json FROM _weather_encoding")

    committed(con, write, _test_ids=test_ids, _feature_metadata=metadata, _weather_encoding=weather)

    rows, positives = {}, {}
    for table in ("gold.train", "gold.test"):
        n, pos = con.execute(f"SELECT count(*), coalesce(sum(target), 0) FROM {table} WHERE dep = {DEP}").fetchone()
        rows[table], positives[table] = int(n), int(pos)
    return DatasetsSummary(sampler=sampler, rows=rows, positives=positives, samplers=present,
                           seconds=time.perf_counter() - started)
