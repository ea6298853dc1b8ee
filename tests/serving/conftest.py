"""A small demo lake for the risk API: real road points, accidents, a real LightGBM champion
registered in MLflow, one predicted day in gold.predictions; and a live uvicorn on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from pipeline.core.settings import Settings

REGISTERED = "accidents-risk-988"
PREDICTED_DAY = dt.date(2026, 3, 2)  # in gold.predictions (atm 1)
UNPREDICTED_DAY = dt.date(2026, 3, 7)  # scored on the fly
N_POINTS = 150


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def register_champion(settings: Settings, model, *, champion: bool = True) -> str:
    """Log `model` as the registry's bundle + native flavour and register it (as champion)."""
    import mlflow
    import pandas as pd

    from pipeline.core import features
    from pipeline.gold import registry

    uri = settings.resolved_mlflow_uri
    registry.ensure_experiment(uri, "serving-tests")
    example = pd.DataFrame({c: [0.0] for c in features.FEATURE_COLUMNS})
    for column, codes in model.categorical_codes.items():
        example[column] = [next(iter(codes))]
    with mlflow.start_run() as run:
        model_uri = registry.log_risk_model(model, example)
    return registry.register_version(uri, REGISTERED, model_uri, run.info.run_id, {"algorithm": model.algorithm},
                                     champion=champion)


@dataclass
class DemoLake:
    settings: Settings
    points: object
    model: object


def build_demo_lake(data_dir: Path, *, n_points: int = N_POINTS, synthetic: bool = False) -> DemoLake:
    """`synthetic`: the ingest log records the demo source, as `accidents ingest --source demo` does."""
    from pipeline.core.lake import connect
    from pipeline.gold.predictions import predict_days
    from tests.support.synthetic_model import synthetic_accidents, synthetic_points, train_synthetic_model

    settings = Settings(data_dir=data_dir)
    points = synthetic_points(n_points)
    accidents = synthetic_accidents(points, n=200)
    model = train_synthetic_model(points, accidents, n_rows=4000, daily_accidents=0.8)
    version = register_champion(settings, model)
    con = connect(settings)
    con.register("_pts", points)
    con.execute("CREATE TABLE silver.road_points AS SELECT * FROM _pts")
    con.register("_acc", accidents)
    con.execute("CREATE TABLE bronze.accidents AS SELECT * FROM _acc")
    predict_days(con, model=model, model_name=REGISTERED, model_version=version, dates=[PREDICTED_DAY], atm=1)
    if synthetic:
        con.execute("CREATE TABLE bronze.ingest_log AS SELECT 'caracteristiques' AS kind, 2023 AS year, "
                    "'demo' AS source, '988' AS dep")
    con.close()
    return DemoLake(settings, points, model)


@pytest.fixture(scope="session")
def demo_lake(tmp_path_factory) -> DemoLake:
    """Shared by the read-only tests; tests that change the lake or the registry build their own."""
    return build_demo_lake(tmp_path_factory.mktemp("serving") / "data")


class LiveServer:
    """uvicorn serving `app` on 127.0.0.1 in a thread of this process."""

    def __init__(self, app, header_timeout: float = 10.0):
        import uvicorn

        from pipeline.serving.server import with_header_timeout

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    http=with_header_timeout(header_timeout)))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=10)


def serve(settings: Settings, **options):
    from pipeline.serving.app import create_app
    from pipeline.serving.service import RiskService, ServeOptions

    opts = ServeOptions(**options)
    return LiveServer(create_app(lambda: RiskService(settings, opts), opts), opts.header_timeout_seconds)


@pytest.fixture(scope="session")
def api(demo_lake):
    """A real HTTP client against a live server over the demo lake."""
    # No periodic refresh: MLflow's tracking URI is process-global, and tests that build other lakes
    # in this process must not see it switched under them by this server's registry checks.
    with serve(demo_lake.settings, refresh_seconds=3600) as server, \
            httpx.Client(base_url=server.url, timeout=60) as client:
        yield client


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parents[2]
