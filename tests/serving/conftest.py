"""A small demo lake for the risk API: a synthetic world's road points, accidents and weather, a real
Poisson GLM champion registered in MLflow, one predicted day in gold.predictions; and a live uvicorn on
127.0.0.1."""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from pipeline.core.settings import Settings
from tests.support.net import free_port

REGISTERED = "accidents-risk-988"
PREDICTED_DAY = dt.date(2026, 3, 2)  # in gold.predictions (atm 1)
UNPREDICTED_DAY = dt.date(2026, 3, 7)  # scored on the fly
N_POINTS = 150


def register_champion(settings: Settings, model, record: dict, *, champion: bool = True) -> str:
    """Store `model` with its validation `record` as `accidents train` does and register it (as champion)."""
    from tests.support.intensity import register_model

    return register_model(settings.resolved_mlflow_uri, model, record, registered=REGISTERED, champion=champion,
                          experiment="serving-tests")


@dataclass
class DemoLake:
    settings: Settings
    points: object
    model: object
    record: dict


def build_demo_lake(data_dir: Path, *, n_points: int = N_POINTS, synthetic: bool = False) -> DemoLake:
    """A synthetic world of `n_points` road points (tests/support/intensity.py) in the lake, a real Poisson
    GLM fitted on it registered as champion, and PREDICTED_DAY in gold.predictions. `synthetic`: the
    ingest log records the demo source, as `accidents ingest --source demo` does."""
    from pipeline.core.lake import connect
    from pipeline.gold.predictions import predict_days
    from tests.support.intensity import fit_glm, synthetic_world, validation_record, write_world

    settings = Settings(data_dir=data_dir)
    world = synthetic_world(n_points)
    model = fit_glm(world)
    record = validation_record(world, model)
    version = register_champion(settings, model, record)
    con = connect(settings)
    write_world(con, world)
    predict_days(con, model=model, model_name=REGISTERED, model_version=version, dates=[PREDICTED_DAY], atm=1)
    if synthetic:
        con.execute("CREATE TABLE bronze.ingest_log AS SELECT 'caracteristiques' AS kind, 2023 AS year, "
                    "'demo' AS source, '988' AS dep")
    con.close()
    return DemoLake(settings, world.points, model, record)


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
