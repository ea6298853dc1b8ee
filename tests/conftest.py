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
