"""The predicted day's expected count against the same month and weekday of the training years."""

import datetime as dt

import pandas as pd
import pytest

from pipeline.cli import main
from pipeline.core.lake import connect
from pipeline.gold.prediction_check import check_day
from tests.support.intensity import fitted_world, write_world
from tests.support.registry import fake_registry


def seed_march(con, per_monday: int, per_sunday: int, years=(2023, 2024, 2025), point_id: int = 1000) -> None:
    """Accidents on every Monday and Sunday of March of `years` (one a day on other days), located on
    road point `point_id`."""
    rows = []
    for year in years:
        for day in pd.date_range(f"{year}-03-01", f"{year}-03-31"):
            n = {0: per_monday, 6: per_sunday}.get(day.dayofweek, 1)
            rows += [(f"{day:%Y%m%d}-{i}", day + pd.Timedelta(hours=8 + i), -22.27, 166.44) for i in range(n)]
    frame = pd.DataFrame(rows, columns=["accident_id", "event_time", "lat", "lon"]).assign(dep="988")
    con.register("_acc", frame)
    con.execute("CREATE OR REPLACE TABLE bronze.accidents AS SELECT * FROM _acc")
    con.execute(f"CREATE OR REPLACE TABLE silver.accident_points AS SELECT accident_id, {point_id}::BIGINT AS point_id, "
                "0.0 AS dist_m, dep FROM _acc")
    con.unregister("_acc")


def test_check_day_band(lake):
    seed_march(lake, per_monday=2, per_sunday=1)
    monday = check_day(lake, dt.date(2026, 3, 2), 2.3)
    assert (monday.reference, monday.reference_days, monday.reference_accidents) == (2.0, 13, 26)
    assert monday.years == (2023, 2024, 2025)
    assert monday.passed and monday.tolerance == pytest.approx(0.25 + 1 / 26 ** 0.5)
    assert not check_day(lake, dt.date(2026, 3, 2), 3.2).passed  # +60 %
    assert not check_day(lake, dt.date(2026, 3, 2), 1.0).passed  # -50 %
    few = check_day(lake, dt.date(2026, 4, 5), 9.0)  # no April accident: nothing to judge
    assert few.passed and "not judged" in few.message()


def test_predict_fails_beyond_the_band(settings_env, monkeypatch, capsys):
    """The world's GLM expects about 2.5 accidents on a March Monday and 3.1 on a Sunday: against 3 a
    Monday observed it passes, against 1 a Sunday it fails."""
    world, model, _ = fitted_world()
    con = connect(settings_env)
    write_world(con, world)
    seed_march(con, per_monday=3, per_sunday=1)
    con.close()
    fake_registry(monkeypatch, champion=model)
    assert main(["predict", "--date", "2026-03-02"]) == 0
    con = connect(settings_env, read_only=True)
    monday = con.execute("SELECT sum(expected_accidents) FROM gold.predictions WHERE date = '2026-03-02'").fetchone()[0]
    con.close()
    assert f"check: 2026-03-02: {monday:.2f} expected accidents vs 3.00 a day observed on Mondays of March " \
           "2023-2025 (13 days, 39 accidents)" in capsys.readouterr().out
    assert main(["predict", "--date", "2026-03-01"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "prediction check failed for 1 day(s), first 2026-03-01" in err
    assert "vs 1.00 a day observed on Sundays of March" in err
    assert main(["predict", "--date", "2026-03-01", "--atm", "3"]) == 0  # scenarios are not checked


def test_a_public_holiday_is_not_judged_by_the_ordinary_days_of_its_month():
    """The CLI's day check and the Dagster asset check share this rule (14 July, New Caledonia)."""
    import datetime as dt

    from pipeline.gold.prediction_check import check_normal_day

    assert check_normal_day(None, dt.date(2026, 7, 14), 5.0, "988") is None
