from __future__ import annotations

import os
import subprocess
import sys

import pytest

from pipeline.cli import main


def run_cli(args, monkeypatch, tmp_path, capsys, **env):
    monkeypatch.setenv("ACCIDENTS_DATA_DIR", str(tmp_path / "data"))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("args, message", [
    (["ingest", "--years", "1999"], "years: 1999 is not a published BAAC year"),
    (["ingest", "--years", "20x9"], "years='20x9': expected YEAR"),
    (["ingest", "--dep", "999"], "département '999': unknown"),
    (["ingest", "--source", "/nonexistent/folder"], "source='/nonexistent/folder': unknown"),
    (["ingest", "--bogus"], "unrecognized arguments: --bogus"),
])
def test_bad_arguments_give_one_line_and_non_zero_exit(args, message, monkeypatch, tmp_path, capsys):
    code, out, err = run_cli(args, monkeypatch, tmp_path, capsys)
    assert code != 0
    assert message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_unreachable_datagouv_is_a_one_line_error(monkeypatch, tmp_path, capsys):
    code, out, err = run_cli(["ingest", "--years", "2023", "--source", "datagouv"], monkeypatch, tmp_path, capsys,
                             ACCIDENTS_DATAGOUV_API="http://127.0.0.1:9/api/1")
    assert code != 0
    assert "cannot reach" in err and len(err.strip().splitlines()) == 1


def test_help_is_fast_and_keeps_heavy_libraries_out():
    code = ("import sys, time; t=time.perf_counter(); from pipeline.cli import build_parser; build_parser(); "
            "heavy=[m for m in ('pandas','duckdb','catboost','mlflow','dagster','sklearn','geopandas','osmnx') "
            "if m in sys.modules]; print(heavy)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr
    exe = os.path.join(os.path.dirname(sys.executable), "accidents")
    done = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "ingest" in done.stdout  # start-up time: bench/bench_cli_startup.py
