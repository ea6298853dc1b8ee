"""The bench command: a --quick smoke run of every benchmark (each in its own process) must write the
JSON and Markdown with figures for each; plus the pieces the report relies on."""

from __future__ import annotations

import importlib
import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench import registry, report
from bench.adapters.cli import readme_queries
from bench.runner import run_worker

ROOT = Path(__file__).resolve().parents[2]


# One benchmark per adapter function (the others differ only in their parameters, checked below
# without running them): the smoke run stays short although each benchmark runs in its own process.
SMOKE = ("ingest_scale1", "silver_scale1", "grid0.02_evaluate_year", "grid0.02_predict_day", "grid0.02_backfill365",
         "train_3x50", "cli_help", "lake_query_1", "cli_predict", "chain_scale200")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bench")
    done = subprocess.run([sys.executable, "-m", "bench", "--quick", "--only", ",".join(SMOKE),
                           "--work-dir", str(tmp / "work"), "--out", str(tmp / "BENCHMARKS.md"),
                           "--json", str(tmp / "results.json")],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return json.loads((tmp / "results.json").read_text()), (tmp / "BENCHMARKS.md").read_text()


def test_smoke_covers_every_adapter():
    assert {registry.select(name)[0].adapter for name in SMOKE} == {b.adapter for b in registry.BENCHMARKS}


@pytest.mark.parametrize("bench", registry.BENCHMARKS, ids=lambda b: b.name)
def test_every_benchmark_binds_to_its_adapter(bench):
    module_name, function_name = bench.adapter.split(":")
    function = getattr(importlib.import_module(module_name), function_name)
    for params in (bench.full, bench.quick):
        inspect.signature(function).bind(work_dir="w", **params)  # raises on a wrong or missing parameter


def test_every_benchmark_produced_figures(quick_run):
    data, _ = quick_run
    by_name = {r["name"]: r for r in data["results"]}
    assert set(by_name) == set(SMOKE)
    for bench in (registry.select(name)[0] for name in SMOKE):
        r = by_name[bench.name]
        assert r["error"] is None, (bench.name, r["error"])
        assert r["runs"] == 1 and r["quick"] is True
        head = r["figures"][bench.metric]
        assert head["min"] <= head["median"] <= head["max"] and head["median"] > 0, bench.name
        assert r["peak_mb"]["max"] > 10, bench.name  # a Python process at least
        assert r["cpu_s"]["median"] > 0 and r["wall_s"]["median"] >= head["median"] * (bench.unit == "s"), bench.name
        assert r["met"] in (True, False, None)
        assert len(r["load_average"]) == 3


def test_machine_and_markdown(quick_run):
    data, text = quick_run
    machine = data["machine"]
    for key in ("cpu", "cores", "ram_gb", "os", "python", "packages", "commit", "date", "load_average"):
        assert machine[key], key
    assert "duckdb" in machine["packages"]
    assert "## Machine" in text and "## Results" in text and "## Growth" in text
    assert "quick smoke run" in text
    for name in SMOKE:
        assert f"(`{name}`)" in text
    # growth rows: evaluation against road points, ingest against accidents
    assert "| road points | evaluate_year |" in text and "| accidents | ingest |" in text


def test_report_only_rewrites_the_markdown_from_the_json(quick_run, tmp_path):
    data, text = quick_run
    (tmp_path / "r.json").write_text(json.dumps(data))
    subprocess.run([sys.executable, "-m", "bench", "--quick", "--report-only", "--json", str(tmp_path / "r.json"),
                    "--out", str(tmp_path / "B.md")], cwd=ROOT, check=True, capture_output=True)
    rewritten = (tmp_path / "B.md").read_text()
    assert rewritten.split("## Results")[1] == text.split("## Results")[1]


def test_targets_are_judged_on_medians_and_peak():
    bench = registry.Benchmark("x", "g", "x", "m:f", {}, {}, "seconds", "s",
                               (registry.Target("seconds", "<=", 1.0, "s"),
                                registry.Target("peak_mb", "<=", 100, "MB")))
    result = {"figures": {"seconds": {"median": 0.9, "min": 0.5, "max": 2.0}}, "peak_mb": {"max": 90}}
    assert bench.met(result) is True
    assert bench.met({**result, "peak_mb": {"max": 120}}) is False
    assert bench.met({**result, "figures": {"seconds": {"median": 1.1, "min": 1, "max": 1.2}}}) is False
    assert bench.met({**result, "figures": {}}) is False  # a missing figure is not a pass
    assert registry.Benchmark("y", "g", "y", "m:f", {}, {}, "seconds", "s").met(result) is None


def test_growth_exponents():
    def res(x, seconds, peak):
        return {"error": None, "figures": {"points": {"median": x}, "seconds": {"median": seconds}},
                "peak_mb": {"max": peak}}

    rows = report.growth_rows({"grid0.02_predict_day": res(1000, 1.0, 100),
                               "grid0.01_predict_day": res(4000, 4.0, 200),
                               "grid0.005_predict_day": res(16000, 32.0, 400)})
    assert [r["x"] for r in rows] == [1000, 4000, 16000]
    assert rows[0]["time_exponent"] is None
    assert rows[1]["time_exponent"] == pytest.approx(1.0)
    assert rows[2]["time_exponent"] == pytest.approx(1.5)
    assert rows[1]["memory_exponent"] == pytest.approx(0.5)


def test_select_by_name_prefix_or_group_and_unknown_name():
    assert [b.name for b in registry.select("cli_help")] == ["cli_help"]
    assert {b.name for b in registry.select("grid0.02")} == {f"grid0.02_{s}" for s in
                                                              ("silver", "evaluate_year", "predict_day", "backfill365")}
    assert all(b.group == "training" for b in registry.select("training"))
    with pytest.raises(SystemExit, match="unknown benchmark"):
        registry.select("nope")


def test_a_failing_adapter_is_recorded_not_raised():
    outcome = run_worker("bench.registry:select", {"names": "nope"}, timeout_s=60)
    assert outcome.figures is None and "unknown benchmark" in outcome.error
    assert outcome.peak_mb > 0


def test_lake_queries_are_the_readme_examples():
    queries = readme_queries()
    assert len(queries) == 3 and all(sql.startswith("SELECT") and sql.endswith(";") for _, sql in queries)
