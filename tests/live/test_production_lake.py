"""The production lake for real: PostgreSQL catalog + S3 object storage (SeaweedFS), both on loopback."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.live.conftest import process_env
from pipeline.core.lake import attach_statements, connect
from pipeline.core.settings import Settings
from pipeline.sources.demo.generator import generate_demo
from pipeline.sources.mirror import find_year_files
from pipeline.bronze.ingest import ingest_years

pytestmark = pytest.mark.slow
OPENERS = 4
YEARS = (2023, 2024)


@pytest.fixture(scope="module")
def demo_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    generate_demo(folder, years=YEARS, seed=7)
    return {fs.year: dict(fs.files) for fs in find_year_files(folder, YEARS)}


def test_ingest_writes_parquet_to_s3_and_the_duckdb_cli_reads_it(production_env, demo_files):
    settings = Settings.from_env(production_env)
    con = connect(settings)
    summary = ingest_years(con, demo_files, source="demo")
    on_s3 = con.execute(f"SELECT count(*) FROM glob('{settings.resolved_data_path}**/*.parquet')").fetchone()[0]
    con.close()
    assert summary.accidents > 400 and on_s3 >= 7  # one file per bronze table at least

    sql = "\n".join(attach_statements(settings, read_only=True, for_cli=True))
    sql += "\nSELECT count(*) FROM bronze.accidents;"
    cli = Path(sys.executable).with_name("duckdb")
    done = subprocess.run([str(cli), "-csv", "-noheader"], input=sql, capture_output=True, text=True,
                          timeout=120, env=process_env(production_env))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == str(summary.accidents)
    assert production_env["ACCIDENTS_S3_SECRET_ACCESS_KEY"] not in sql


def test_concurrent_writers_both_commit(production_env, demo_files, tmp_path):
    code = ("import sys, json; from pathlib import Path; from pipeline.core.settings import Settings; "
            "from pipeline.core.lake import connect; from pipeline.bronze.ingest import ingest_years\n"
            "year = int(sys.argv[1]); files = {year: {k: Path(v) for k, v in json.loads(sys.argv[2]).items()}}\n"
            "con = connect(Settings.from_env()); print(ingest_years(con, files, source='demo').accidents)")
    env = process_env(production_env)
    procs = [subprocess.Popen([sys.executable, "-c", code, str(year),
                               __import__("json").dumps({k: str(v) for k, v in demo_files[year].items()})],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for year in YEARS]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], "\n".join(err for _, err in outputs)
    con = connect(Settings.from_env(production_env), read_only=True)
    per_year = dict(con.execute("SELECT year, count(*) FROM bronze.accidents GROUP BY 1").fetchall())
    con.close()
    assert per_year == {year: int(out.strip()) for year, (out, _) in zip(YEARS, outputs)}


def all_at_once(actions: list) -> None:
    """Run the actions in threads released together by a barrier; fail with every error raised."""
    start = threading.Barrier(len(actions))
    errors: list[BaseException] = []

    def run(action) -> None:
        start.wait()
        try:
            action()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(action,)) for action in actions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors


def test_writers_opening_a_new_catalog_at_once_all_succeed(production_env):
    """Two département runs started together on a fresh PostgreSQL catalog both initialise it: the loser
    of that race must wait for the winner's catalog, not fail (seen in CI on the fan-out test)."""
    settings = Settings.from_env(production_env)
    all_at_once([lambda: connect(settings).close()] * OPENERS)
    with connect(settings, read_only=True) as con:
        schemas = {s for (s,) in con.execute("SELECT schema_name FROM information_schema.schemata "
                                             "WHERE catalog_name = 'lake'").fetchall()}
    assert {"bronze", "silver", "gold"} <= schemas


def test_two_departements_writing_a_new_table_at_once_both_commit(production_env):
    """Two départements' runs creating the same missing table at once conflict in DuckLake (both create
    it); the loser replays its transaction, which then finds the table and adds its own slice."""
    from pipeline.core.lake import replace_department_table, use_department

    settings = Settings.from_env(production_env)
    connect(settings).close()
    connections = {}
    for dep in ("974", "987"):  # opened beforehand: the writes, not the opening, start together
        connections[dep] = connect(settings)
        use_department(connections[dep], dep)
    try:
        all_at_once([lambda con=con: replace_department_table(con, "silver.race", "SELECT range AS i FROM range(1000)")
                     for con in connections.values()])
    finally:
        for con in connections.values():
            con.close()
    with connect(settings, read_only=True) as con:
        rows = dict(con.execute("SELECT dep, count(*) FROM silver.race GROUP BY dep").fetchall())
    assert rows == {"974": 1000, "987": 1000}


def test_read_only_sql_reads_s3_and_refuses_writes(production_env, demo_files, monkeypatch, capsys):
    from pipeline.cli import main

    con = connect(Settings.from_env(production_env))
    ingest_years(con, {YEARS[0]: demo_files[YEARS[0]]}, source="demo", force=True)
    expected = con.execute("SELECT count(*) FROM bronze.accidents").fetchone()[0]
    con.close()
    for name, value in production_env.items():
        monkeypatch.setenv(name, value)
    capsys.readouterr()
    assert main(["sql", "--format", "csv", "SELECT count(*) AS n FROM bronze.accidents"]) == 0  # Parquet on S3
    assert capsys.readouterr().out.split() == ["n", str(expected)]
    data_path = Settings.from_env(production_env).resolved_data_path
    assert main(["sql", f"COPY (SELECT 1) TO '{data_path}x.csv'"]) == 2
    assert "only one SELECT-like statement is allowed" in capsys.readouterr().err
