import json

import pytest

from pipeline.core.errors import AccidentsError
from pipeline.core.lake import table_exists
from pipeline.core.features import FEATURE_COLUMNS, feature_kind
from pipeline.gold.datasets import build_datasets


def _ids(con, table, sampler=None):
    where = f" WHERE sampler = '{sampler}'" if sampler else ""
    return {r[0] for r in con.execute(f"SELECT row_id FROM {table}{where}").fetchall()}


def test_reference_split_is_stratified_disjoint_and_complete(features_lake):
    con = features_lake
    summary = build_datasets(con, sampler="exclusion", test_size=0.2, seed=7)
    train, test = _ids(con, "gold.train"), _ids(con, "gold.test")
    assert not train & test
    assert train | test == _ids(con, "silver.features_reference", "exclusion")
    assert summary.rows["gold.test"] == len(test)
    pos_test, pos_all = summary.positives["gold.test"], summary.positives["gold.train"] + summary.positives["gold.test"]
    assert pos_test == round(0.2 * pos_all)  # stratified: exactly 20 % of each class
    assert set(con.execute("SELECT DISTINCT sampler FROM gold.train").fetchall()) == {("exclusion",)}


def test_reference_split_reads_the_reference_table_not_the_point_in_time_one(lake, make_features):
    pit = make_features(n_positive=60, negative_ratio=3)
    reference = pit.assign(accident_density_5km=pit["accident_density_5km"] + 1000.0)  # tell them apart
    pit = pit[pit["year"] > 2019]  # the point-in-time table has no first data year
    from tests.gold.conftest import write_features

    write_features(lake, pit, reference)
    summary = build_datasets(lake, sampler="uniform")
    assert summary.rows["gold.train"] + summary.rows["gold.test"] == int((reference["sampler"] == "uniform").sum())
    for table in ("gold.train", "gold.test"):
        assert lake.execute(f"SELECT min(accident_density_5km) FROM {table}").fetchone()[0] >= 1000.0
    # the temporal protocol's tables are gone: nothing else is written
    assert not any(table_exists(lake, f"gold.temporal_{part}") for part in ("train", "valid", "test"))


def test_metadata_and_weather_encoding(features_lake):
    con = features_lake
    build_datasets(con)
    meta = con.execute("SELECT name, position, kind FROM gold.feature_metadata ORDER BY position").fetchall()
    assert [m[0] for m in meta] == FEATURE_COLUMNS
    assert all(kind == feature_kind(name) for name, _, kind in meta)
    encoding = json.loads(con.execute("SELECT encoding_json FROM gold.weather_encoding").fetchone()[0])
    assert encoding["labels"]["2"] == "Pluie légère"
    assert set(encoding["observed_codes"]) <= set(range(1, 10))


def test_rebuild_is_idempotent(features_lake):
    con = features_lake
    build_datasets(con, seed=3)
    first = _ids(con, "gold.test")
    build_datasets(con, seed=3)
    assert _ids(con, "gold.test") == first
    assert con.execute("SELECT count(*) FROM gold.feature_metadata").fetchone()[0] == len(FEATURE_COLUMNS)
    build_datasets(con, seed=4)
    assert _ids(con, "gold.test") != first


@pytest.mark.parametrize("kwargs, message", [
    ({"sampler": "random"}, "sampler='random'"),
    ({"test_size": 1.5}, "test_size=1.5"),
])
def test_bad_parameters_raise_one_line_errors(lake, kwargs, message):
    with pytest.raises(AccidentsError, match=message.replace("[", r"\[").replace("]", r"\]")):
        build_datasets(lake, **kwargs)


def test_missing_features_table(lake):
    with pytest.raises(AccidentsError, match="silver.features_reference does not exist"):
        build_datasets(lake)
