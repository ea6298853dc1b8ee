"""python -m bench [--only NAME[,NAME]] [--quick] [--repeats N] [--out BENCHMARKS.md] [--json bench/results.json]

Times the yardstick first (bench/yardstick.py: a fixed single-threaded workload, so that hosts can be
compared), then runs each benchmark in its own worker process (a warm-up, then N recorded runs; heavy
ones once) and writes the Markdown report and the JSON results. With --only, the other benchmarks'
earlier results in the JSON file are kept, so a report can be assembled from separate runs (each
entry has its own date, load average and the yardstick of its run).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from bench import machine, registry, report, runner, yardstick

ROOT = Path(__file__).resolve().parents[1]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma list of benchmark names, prefixes or groups "
                                       "(ingest, silver, grid, training, cli, startup, chain, replication)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one run each, no warm-up (smoke test)")
    parser.add_argument("--repeats", type=int, default=3, help="recorded runs per benchmark (default %(default)s)")
    parser.add_argument("--out", help="Markdown report (default BENCHMARKS.md; with --quick data/bench-quick/)")
    parser.add_argument("--json", help="JSON results (default bench/results.json; with --quick data/bench-quick/)")
    parser.add_argument("--work-dir", help="cached inputs (demo files, prepared lakes); default: a temporary folder")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per run before it is killed")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    parser.add_argument("--report-only", action="store_true", help="rewrite the Markdown from the JSON, run nothing")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats {args.repeats}: expected >= 1")
    # a smoke run never overwrites the committed report
    folder = ROOT / "data" / "bench-quick" if args.quick else None
    args.out = args.out or str(folder / "BENCHMARKS.md" if folder else ROOT / "BENCHMARKS.md")
    args.json = args.json or str(folder / "results.json" if folder else ROOT / "bench" / "results.json")
    return args


def load_previous(path: Path, quick: bool) -> dict[str, dict]:
    """Earlier results of the same kind (full or quick) from `path`, by benchmark name."""
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError:
        return {}
    return {r["name"]: r for r in data.get("results", []) if r.get("quick") == quick}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    chosen = registry.select(args.only)
    if args.list:
        for b in chosen:
            print(f"{b.name:<28} {b.title}  [target: {b.target_text() or '-'}]")
        return 0
    json_path, out_path = Path(args.json), Path(args.out)
    if args.report_only:
        data = json.loads(json_path.read_text())
        out_path.write_text(report.markdown(data, figure_path=_figure(args, json_path), out_dir=out_path.parent))
        print(f"written: {out_path}")
        return 0
    results: dict[str, dict] = {}
    started = time.perf_counter()
    stick = measure_yardstick(quick=args.quick, timeout_s=args.timeout)
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        work = Path(args.work_dir) if args.work_dir else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        for bench in chosen:
            print(f"{bench.name}: {bench.title}", flush=True)
            results[bench.name] = runner.measure(bench, quick=args.quick, repeats=args.repeats, work_dir=work,
                                                 timeout_s=args.timeout, progress=lambda m: print(m, flush=True))
            results[bench.name]["command"] = "python -m bench " + " ".join(sys.argv[1:] if argv is None else argv)
            results[bench.name]["commit"] = machine.describe()["commit"]  # runs merged from several commits
            results[bench.name]["yardstick_s"] = stick.get("seconds")  # runs merged from several hosts or loads
            _write(json_path, out_path, results, stick, args)  # after each: a long run keeps what it measured
    print(f"done in {time.perf_counter() - started:.0f} s: {out_path}, {json_path}")
    failed = [name for name in (b.name for b in chosen) if results[name]["error"]]
    if stick.get("error"):
        failed.insert(0, "yardstick")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


def measure_yardstick(*, quick: bool, timeout_s: float) -> dict:
    """The yardstick in its own process, BLAS and OpenMP held to one thread (one repeat with --quick):
    its record, or {"error": ...} (the benchmarks still run; their ratios are then missing)."""
    outcome = runner.run_worker("bench.yardstick:measure", {"repeats": 1 if quick else 3}, timeout_s=timeout_s,
                                env={**runner.worker_env(), **yardstick.SINGLE_THREAD_ENV})
    if outcome.error:
        print(f"yardstick: FAILED ({outcome.error})", flush=True)
        return {"error": outcome.error}
    stick = outcome.figures
    parts = ", ".join(f"{k} {v:.2f}" for k, v in stick["parts"].items())
    print(f"yardstick: {stick['seconds']:.2f} s ({parts}; fingerprint {stick['fingerprint']}, load "
          f"{stick['load_before']:.1f})", flush=True)
    return stick


def judge(results: dict[str, dict]) -> None:
    """Each result's verdict, once every result is known (a relative target needs its other benchmark)."""
    benches = {b.name: b for b in registry.BENCHMARKS}
    for name, result in results.items():
        if name in benches and not result.get("error") and result.get("figures"):
            result["met"] = benches[name].met(result, results)


def _write(json_path: Path, out_path: Path, measured: dict[str, dict], stick: dict, args) -> None:
    # re-read at every write: another `--only` run may have added results meanwhile; the latest
    # measurement of each benchmark wins
    results = load_previous(json_path, args.quick) if args.only else {}
    for name, result in measured.items():
        if name not in results or results[name]["started_at"] <= result["started_at"]:
            results[name] = result
    judge(results)
    order = [b.name for b in registry.BENCHMARKS]
    ordered = [results[n] for n in order if n in results]
    data = {"machine": {**machine.describe(), "yardstick": stick}, "quick": args.quick, "repeats": args.repeats,
            "commands": sorted({r.get("command", "?") for r in ordered}), "results": ordered}
    json_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(data, indent=1) + "\n")
    out_path.write_text(report.markdown(data, figure_path=_figure(args, json_path), out_dir=out_path.parent))


def _figure(args, json_path: Path) -> Path | None:
    return None if args.quick else json_path.with_name("growth.png")


if __name__ == "__main__":
    sys.exit(main())
