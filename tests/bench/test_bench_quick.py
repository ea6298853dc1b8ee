"""The bench command: a --quick smoke run of every benchmark (each in its own process) must write the
JSON and Markdown with figures for each and the yardstick; plus the pieces the report relies on."""

from __future__ import annotations

import importlib
import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench import registry, report, yardstick
from bench.adapters.chain import stage_times
from bench.adapters.cli import lake_query, readme_queries
from bench.runner import run_worker

ROOT = Path(__file__).resolve().parents[2]


# One benchmark per adapter function (the others differ only in their parameters, checked below
# without running them): the smoke run stays short although each benchmark runs in its own process.
SMOKE = ("ingest_scale1", "ingest_padded1g", "silver_scale1", "grid0.02_evaluate_year", "grid0.02_predict_day",
         "grid0.02_backfill365", "train_reference_3x20", "train_candidates", "cli_help", "lake_query_1",
         "cli_predict", "serve_startup", "code_location_load", "chain_demo", "chain_scale200", "replication12")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bench")
    done = subprocess.run([sys.executable, "-m", "bench", "--quick", "--only", ",".join(SMOKE),
                           "--work-dir", str(tmp / "work"), "--out", str(tmp / "BENCHMARKS.md"),
                           "--json", str(tmp / "results.json")],
                          cwd=ROOT, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return json.loads((tmp / "results.json").read_text()), (tmp / "BENCHMARKS.md").read_text(), tmp / "work"


def test_smoke_covers_every_adapter():
    assert {registry.select(name)[0].adapter for name in SMOKE} == {b.adapter for b in registry.BENCHMARKS}


@pytest.mark.parametrize("bench", registry.BENCHMARKS, ids=lambda b: b.name)
def test_every_benchmark_binds_to_its_adapter(bench):
    module_name, function_name = bench.adapter.split(":")
    function = getattr(importlib.import_module(module_name), function_name)
    for params in (bench.full, bench.quick):
        inspect.signature(function).bind(work_dir="w", **params)  # raises on a wrong or missing parameter


def test_every_benchmark_produced_figures(quick_run):
    data, _, _ = quick_run
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
        assert r["yardstick_s"] == data["machine"]["yardstick"]["seconds"]
    # a relative target is judged once the other benchmark is measured
    assert by_name["train_candidates"]["met"] in (True, False)
    candidates = by_name["train_candidates"]["figures"]
    assert {"glm_s", "hotspot_s", "lightgbm_s", "blend_s", "competition_s", "mlflow_s"} <= set(candidates)
    # `accidents run`'s own stage times, and what it did
    run = by_name["chain_demo"]["figures"]
    for stage in ("ingest", "features", "train", "evaluate", "predict", "run"):
        assert run[f"{stage}_s"]["median"] > 0, stage
    assert run["run_s"]["median"] <= run["seconds"]["median"] and run["road_points"]["median"] > 0
    replication = by_name["replication12"]["figures"]
    assert replication["replications"]["median"] == 1 and "loglik_gain_over_shrunk_mean" in replication


def test_machine_and_markdown(quick_run):
    data, text, _ = quick_run
    machine = data["machine"]
    for key in ("cpu", "cores", "ram_gb", "os", "python", "packages", "commit", "date", "load_average"):
        assert machine[key], key
    assert "duckdb" in machine["packages"]
    stick = machine["yardstick"]
    assert stick["repeats"] == 1 and set(stick["parts"]) == set(yardstick.PARTS)
    assert stick["seconds"] == pytest.approx(sum(stick["parts"].values()))
    assert stick["threads"]["OPENBLAS_NUM_THREADS"] == "1"  # one core, whatever the host's count
    assert "## Machine" in text and "## Results" in text and "## Growth" in text
    assert "| yardstick (`bench/yardstick.py`" in text and " Y) |" in text  # headlines in yardsticks
    assert "quick smoke run" in text
    for name in SMOKE:
        assert f"(`{name}`)" in text
    # growth rows: evaluation against road points, ingest against accidents
    assert "| road points | evaluate_year |" in text and "| accidents | ingest |" in text


def test_report_only_rewrites_the_markdown_from_the_json(quick_run, tmp_path):
    data, text, _ = quick_run
    (tmp_path / "r.json").write_text(json.dumps(data))
    subprocess.run([sys.executable, "-m", "bench", "--quick", "--report-only", "--json", str(tmp_path / "r.json"),
                    "--out", str(tmp_path / "B.md")], cwd=ROOT, check=True, capture_output=True)
    rewritten = (tmp_path / "B.md").read_text()
    assert rewritten.split("## Results")[1] == text.split("## Results")[1]


def test_the_yardstick_is_a_fixed_deterministic_workload():
    first, second = yardstick.measure(repeats=1), yardstick.measure(repeats=2)
    assert first["fingerprint"] == second["fingerprint"]  # the same work, run after run
    assert second["repeats"] == 2 and 0 < second["seconds"] <= second["cpu_seconds"] * 1.5
    assert second["versions"]["lightgbm"]


def test_figures_and_targets_in_yardsticks():
    assert yardstick.in_yardsticks(6.0, "s", 2.0) == 3.0
    assert yardstick.in_yardsticks(1e6, "cell-hours/s", 2.0) == 2e6  # a rate: work per yardstick
    assert yardstick.in_yardsticks(100.0, "MB", 2.0) is None and yardstick.in_yardsticks(1.0, "s", None) is None
    target = registry.Target("seconds", "<=", 60, "s")
    result = {"figures": {"seconds": {"median": 76.0}}, "yardstick_s": 9.0}  # a host 1.5x slower
    assert target.judge(result) is False
    assert target.judge_in_yardsticks(result, 6.0) is True  # 8.4 Y against 10 Y on the reference host
    assert registry.Target("peak_mb", "<=", 10, "MB").judge_in_yardsticks(result, 6.0) is None


def test_the_report_states_times_in_yardsticks_and_a_pinned_reference(monkeypatch):
    machine = {"date": "d", "cpu": "c", "cores": 2, "ram_gb": 1, "os": "o", "python": "p", "packages": {},
               "commit": "x", "load_average": [0, 0, 0],
               "yardstick": {"seconds": 9.0, "parts": {"sort": 9.0}, "repeats": 3, "cpu_seconds": 9.0,
                             "fingerprint": "f", "load_before": 0.1, "load_after": 0.1}}
    result = {"name": "train_3x50", "title": "t", "metric": "total_s", "unit": "s", "target": "", "runs": 3,
              "warm_up": True, "figures": {"total_s": {"median": 76.0, "min": 75.0, "max": 77.0}},
              "peak_mb": {"max": 100}, "wall_s": None, "cpu_s": None, "met": False, "error": None,
              "started_at": "2026-12-07T00:00", "load_average": [0.1, 0, 0], "yardstick_s": 9.0, "info": {}}
    data = {"machine": machine, "quick": False, "commands": ["python -m bench"], "results": [result]}
    monkeypatch.setattr(yardstick, "REFERENCE_SECONDS", None)
    text = report.markdown(data, figure_path=None, out_dir=ROOT)
    assert "76 s (8.44 Y)" in text and "total_s <= 60 s (6.67 Y)" in text  # no reference: its own yardstick
    assert "this report's own yardstick" in text
    monkeypatch.setattr(yardstick, "REFERENCE_SECONDS", 6.0)
    text = report.markdown(data, figure_path=None, out_dir=ROOT)
    assert "total_s <= 60 s (10 Y)" in text and "**missed** (met in yardsticks)" in text
    assert "the reference host's yardstick, 6.00 s" in text


def test_a_relative_target_waits_for_the_other_benchmark():
    bench = registry.select("train_candidates")[0]
    mine = {"figures": {"total_s": {"median": 30.0, "min": 30.0, "max": 30.0}}, "peak_mb": {"max": 1}}
    other = {"error": None, "figures": {"total_s": {"median": 40.0, "min": 40.0, "max": 40.0}}}
    assert bench.met(mine) is None and bench.met(mine, {"train_reference_3x20": {"error": "x", "figures": {}}}) is None
    assert bench.met(mine, {"train_reference_3x20": other}) is True
    other["figures"]["total_s"]["median"] = 25.0
    assert bench.met(mine, {"train_reference_3x20": other}) is False


def test_stage_times_of_accidents_run():
    output = ("\n== ingest (demo)\nnote: SYNTHETIC\n-- 10.5 s\n\n== features\n-- 4.0 s\n\n== train: the "
              "intensity candidates compete\nchampion: glm (Poisson GLM)\n-- 20.0 s\n\n== predict 2026-01-01\n"
              "-- 1.5 s\n\n== done in 36.2 s\n")
    assert stage_times(output) == {"ingest_s": 10.5, "features_s": 4.0, "train_s": 20.0, "predict_s": 1.5,
                                   "run_s": 36.2}


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


def test_every_readme_query_runs_on_the_benchmarks_lake(quick_run):
    # the smoke run measures lake_query_1 only: the others (over predictions too) must run as well
    _, _, work = quick_run
    for index, (comment, _) in enumerate(readme_queries()):
        assert lake_query(str(work), index, quick=True)["result_rows"] > 0, comment


def test_lake_queries_are_the_readme_examples():
    queries = readme_queries()
    assert len(queries) >= 3 and all(sql.startswith("SELECT") and sql.endswith(";") for _, sql in queries)
