from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture
def settings(tmp_path):
    from pipeline.core.settings import Settings

    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
def lake(settings):
    from pipeline.core.lake import connect

    con = connect(settings)
    yield con
    con.close()


@pytest.fixture
def settings_env(tmp_path, monkeypatch):
    """Settings.from_env() of the CLI pointing at a temporary data dir."""
    from pipeline.core.settings import Settings

    data_dir = tmp_path / "data"
    monkeypatch.setenv("ACCIDENTS_DATA_DIR", str(data_dir))
    monkeypatch.setenv("ACCIDENTS_CATALOG", "sqlite")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return Settings(data_dir=data_dir)


def pytest_xdist_auto_num_workers(config):
    """`-n auto`: one worker per core this process may use (a cgroup CPU limit counts; xdist's own
    count does not see it), at most 4: the heavy tests start processes and servers of their own."""
    from pipeline.core.cores import usable_cores

    return min(usable_cores(), 4)
