"""Synthetic silver.features with a learnable signal (the reference protocol) and both trainings on one
MLflow store, in temporary lakes, for the gold tests."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from pipeline.core.features import FEATURE_COLUMNS, place_time_terms
from pipeline.core.lake import connect, replace_department_table
from pipeline.core.settings import Settings
from pipeline.gold.model_bundle import RiskModel, fit_category_codes
from pipeline.gold.modeling.data import Rows, carve_validation

ROAD_TYPES = ["primary", "secondary", "tertiary", "residential"]
SPEEDS = {"primary": 90.0, "secondary": 70.0, "tertiary": 50.0, "residential": 50.0}
NEGATIVE_WEIGHTS = {"exclusion": 500.0, "uniform": 650.0}


def _rows(n: int, positive: bool, rng: np.random.Generator, years) -> pd.DataFrame:
    hours_w = np.ones(24)
    if positive:  # accidents cluster at rush hours, in rain, on primary roads, near past accidents
        hours_w[[7, 8, 17, 18]] = 6.0
    hour = rng.choice(24, n, p=hours_w / hours_w.sum())
    atm_p = [0.55, 0.2, 0.15, 0.0, 0.02, 0.03, 0.01, 0.02, 0.02] if positive else \
        [0.82, 0.08, 0.02, 0.0, 0.02, 0.01, 0.01, 0.02, 0.02]
    atm = rng.choice(np.arange(1, 10), n, p=atm_p).astype(float)
    atm[rng.random(n) < 0.01] = np.nan
    road_p = [0.5, 0.25, 0.15, 0.1] if positive else [0.15, 0.2, 0.25, 0.4]
    road_type = rng.choice(ROAD_TYPES, n, p=road_p)
    spread = 0.03 if positive else 0.08
    lat = -22.27 + rng.normal(0, spread, n)
    lon = 166.45 + rng.normal(0, spread, n)
    year = rng.choice(np.asarray(list(years)), n)
    day = rng.integers(0, 365, n)
    event_time = pd.to_datetime(year.astype(str), format="%Y") + pd.to_timedelta(day, "D") + pd.to_timedelta(hour, "h")
    dow = event_time.dayofweek.to_numpy()
    month = event_time.month.to_numpy()
    f = {
        **place_time_terms(lat, lon, hour, dow, month), "atm": atm,
        "road_type": road_type, "speed_limit": np.array([SPEEDS[r] for r in road_type]),
        "intersections_100m": rng.poisson(1.2 if positive else 0.6, n),
        "road_sinuosity": 1.0 + rng.gamma(1.0, 0.15 if positive else 0.08, n),
        "accident_density_5km": rng.gamma(3.0 if positive else 1.5, 2.0, n),
        "nearest_accident_km": rng.exponential(0.5 if positive else 1.5, n),
        "is_weekend": (dow >= 5).astype(int), "is_rush_morning": np.isin(hour, [6, 7, 8]).astype(int),
        "is_rush_evening": np.isin(hour, [16, 17, 18]).astype(int),
        "is_night": ((hour >= 21) | (hour <= 5)).astype(int),
        "is_holiday": (rng.random(n) < 0.03).astype(int), "school_holidays": (rng.random(n) < 0.2).astype(int),
        "dist_to_main_city_km": np.hypot(lat + 22.27, lon - 166.45) * 111.0,
        "rain_level": np.select([atm == 2, atm == 3], [1, 2], 0),
    }
    frame = pd.DataFrame(f)
    frame["event_time"] = event_time
    frame["year"] = year.astype(int)
    frame["target"] = int(positive)
    return frame


def synthetic_features(n_positive: int = 150, negative_ratio: int = 10, *, seed: int = 0,
                       years=range(2019, 2025), samplers=("exclusion", "uniform")) -> pd.DataFrame:
    """silver.features-shaped rows: every sampler shares the positives and draws its own negatives."""
    rng = np.random.default_rng(seed)
    positives = _rows(n_positive, True, rng, years)
    positives["accident_id"] = [f"A{i:06d}" for i in range(n_positive)]
    frames = []
    for sampler in samplers:
        negatives = _rows(n_positive * negative_ratio, False, rng, years)
        negatives["accident_id"] = None
        both = pd.concat([positives, negatives], ignore_index=True)
        both["sampler"] = sampler
        both["sampling_weight"] = np.where(both["target"] == 1, 1.0, NEGATIVE_WEIGHTS[sampler])
        frames.append(both)
    out = pd.concat(frames, ignore_index=True)
    out["row_id"] = np.arange(1, len(out) + 1, dtype=np.int64)
    out["point_id"] = rng.integers(1, 5000, len(out)).astype(np.int64)
    out["history_cutoff"] = pd.to_datetime(out["year"].astype(str), format="%Y")
    out["target"] = out["target"].astype(np.int32)
    head = ["sampler", "row_id", "target", "accident_id", "point_id", "event_time", "year", "sampling_weight"]
    return out[head + FEATURE_COLUMNS + ["history_cutoff"]]


def write_features(con, frame: pd.DataFrame, reference: pd.DataFrame | None = None) -> None:
    """silver.features (point-in-time) and silver.features_reference (default: the same rows)."""
    for table, rows in (("silver.features", frame),
                        ("silver.features_reference", frame if reference is None else reference)):
        con.register("_synthetic_features", rows)
        try:
            replace_department_table(con, table, "SELECT * REPLACE (CAST(atm AS INTEGER) AS atm) FROM _synthetic_features")
        finally:
            con.unregister("_synthetic_features")


@pytest.fixture
def lake(tmp_path):
    con = connect(Settings(data_dir=tmp_path))
    yield con
    con.close()


@pytest.fixture
def features_lake(lake):
    write_features(lake, synthetic_features())
    return lake


@pytest.fixture
def make_features():
    """The synthetic silver.features generator (tests request it instead of importing conftest)."""
    return synthetic_features


@pytest.fixture
def negative_weights():
    return dict(NEGATIVE_WEIGHTS)


@dataclass
class Trained:
    settings: Settings
    con: object
    world: object  # tests.support.intensity.World
    intensity: object  # pipeline.gold.training.TrainingSummary
    reference: object  # pipeline.gold.reference_training.TrainingSummary
    events: list  # ("tune", row ids) per reference study, then ("test", row ids)


INTENSITY_CANDIDATES = ("hotspot", "glm", "lightgbm", "blend")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Both trainings into one temporary MLflow store, as `accidents train --protocol both` does: the
    intensity candidates compete on a synthetic world (the winner becomes version 1 and champion),
    then the predecessor's reference protocol tunes its three classifiers (version 2, never champion).

    The reference's tuning entry point is wrapped to record which rows it is given and when the test
    rows are read, so tests can check that no test row reaches tuning or early stopping.
    """
    from pipeline.gold.datasets import build_datasets
    from pipeline.gold.modeling import data as data_module
    from pipeline.gold import reference_training
    from pipeline.gold.reference_training import train_models
    from pipeline.gold.training import train_candidates
    from tests.support.intensity import synthetic_world, write_world

    settings = Settings(data_dir=tmp_path_factory.mktemp("gold_trained"))
    uri = settings.resolved_mlflow_uri
    con = connect(settings)
    world = synthetic_world()
    write_world(con, world)
    intensity = train_candidates(con, candidates=INTENSITY_CANDIDATES, trials=1, seed=5, threads=1, tracking_uri=uri,
                                 experiment=settings.experiment, registered_model=settings.registered_model,
                                 synthetic=True)
    write_features(con, synthetic_features())
    build_datasets(con)
    events: list[tuple[str, set]] = []
    real_tune, real_test = reference_training.tune_algorithm, data_module.load_test_rows

    def spy_tune(template, train, valid, **kwargs):
        events.append(("tune", set(train.row_ids) | set(valid.row_ids)))
        return real_tune(template, train, valid, **kwargs)

    def spy_test(con_, protocol, sampler):
        rows = real_test(con_, protocol, sampler)
        events.append(("test", set(rows.row_ids)))
        return rows

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(reference_training, "tune_algorithm", spy_tune)  # the name the training calls
        mp.setattr(data_module, "load_test_rows", spy_test)
        # workers=1: the spies above live in this process (and tiny fits gain nothing from spawning)
        reference = train_models(con, protocol="reference", trials=2, seed=5, threads=1, workers=1, progress=False,
                                 tracking_uri=uri)
    yield Trained(settings, con, world, intensity, reference, events)
    con.close()


@pytest.fixture
def rows(make_features):
    """(train, valid) Rows of a small synthetic feature frame, stratified 75/25."""
    frame = make_features(120, 8, seed=0, samplers=("exclusion",))
    train, valid = carve_validation(frame, 0.25, 0)
    return Rows(train), Rows(valid)


def model_template(algorithm: str, train: Rows, *, negative_weight: float) -> RiskModel:
    """An untrained RiskModel of `algorithm` with category codes fitted on `train`."""
    return RiskModel(algorithm=algorithm, booster=None, feature_columns=list(FEATURE_COLUMNS),
                     categorical_codes=fit_category_codes(train.frame, ["atm", "road_type"]),
                     negative_weight=negative_weight, sampler="exclusion")
