"""BENCHMARKS.md from the results: the machine and its yardstick, one table row per benchmark (timed
figures and targets also in yardsticks), and the growth of time and peak memory against road points
and against accidents (table, and a PNG when matplotlib is there)."""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

from bench import registry
from bench.yardstick import REFERENCE_NOTE, in_yardsticks, reference_seconds

FINDINGS = Path(__file__).with_name("findings.md")
# (series label, benchmark name pattern with {x}, the figure giving x, x label)
GROWTH = {
    "road points": [(f"{family}", [f"grid{step:g}_{family}" for step in (0.02, 0.01, 0.005)], "points")
                    for family in ("silver", "evaluate_year", "predict_day", "backfill365")],
    "accidents": [("ingest", ["ingest_scale1", "ingest_scale200"], "accidents"),
                  ("silver", ["silver_scale1", "silver_scale200"], "accidents")],
}


def _num(value: float | None, unit: str = "", *, show_unit: bool = True) -> str:
    if value is None:
        return "–"
    if abs(value) >= 1e6:
        text = f"{value / 1e6:.3g} M"
    elif abs(value) >= 1e4:
        text = f"{value / 1e3:,.0f} k"
    else:
        text = f"{value:.3g}" if abs(value) < 100 else f"{value:,.0f}"
    return f"{text} {unit}".strip() if show_unit else text


def _mb(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value / 1024:.2f} GB" if value >= 1024 else f"{value:.0f} MB"


def growth_rows(results: dict[str, dict]) -> list[dict]:
    """One row per measured point of each series, with the log-log slope against the previous point
    (time ~ x^slope: 1 = linear), so that a user can extrapolate."""
    rows = []
    for axis, series in GROWTH.items():
        for label, names, x_key in series:
            previous = None
            for name in names:
                r = results.get(name)
                if not r or r.get("error") or x_key not in r["figures"]:
                    continue
                x = r["figures"][x_key]["median"]
                seconds = r["figures"].get("seconds", {}).get("median")
                peak = r["peak_mb"]["max"]
                slope = mem_slope = None
                if previous and x > previous[0] > 0 and seconds and previous[1]:
                    slope = math.log(seconds / previous[1]) / math.log(x / previous[0])
                    mem_slope = math.log(peak / previous[2]) / math.log(x / previous[0])
                rows.append({"axis": axis, "series": label, "benchmark": name, "x": x, "seconds": seconds,
                             "peak_mb": peak, "time_exponent": slope, "memory_exponent": mem_slope})
                previous = (x, seconds, peak)
    return rows


def growth_plot(rows: list[dict], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import NullFormatter
    except ImportError:
        return False
    axes_names = [a for a in GROWTH if any(r["axis"] == a for r in rows)]
    if not axes_names:
        return False
    fig, axes = plt.subplots(2, len(axes_names), figsize=(5.5 * len(axes_names), 7), squeeze=False)
    for col, axis in enumerate(axes_names):
        for series in dict.fromkeys(r["series"] for r in rows if r["axis"] == axis):
            pts = [r for r in rows if r["axis"] == axis and r["series"] == series and r["seconds"]]
            xs = [r["x"] for r in pts]
            axes[0][col].plot(xs, [r["seconds"] for r in pts], "o-", label=series)
            axes[1][col].plot(xs, [r["peak_mb"] / 1024 for r in pts], "o-", label=series)
        for row, ylabel in enumerate(("seconds (median)", "peak memory (GB)")):
            ax = axes[row][col]
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.xaxis.set_minor_formatter(NullFormatter())  # narrow ranges label every minor tick
            ax.yaxis.set_minor_formatter(NullFormatter())
            ax.set_xlabel(axis)
            ax.set_ylabel(ylabel)
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True


def _wall_cpu(r: dict) -> str:
    """The whole worker process (imports and inputs included): wall and CPU seconds, medians."""
    if not r.get("wall_s") or not r.get("cpu_s"):
        return "–"
    return f"{_num(r['wall_s']['median'])} / {_num(r['cpu_s']['median'])} s"


VERDICT = {True: "met", False: "**missed**", None: "–"}


def _met(r: dict, reference_s: float | None, pinned: bool, results: dict[str, dict]) -> str:
    if r.get("error"):
        return "**missed** (timed out)" if r["error"].startswith("timed out") else "**failed**"
    text = VERDICT[r.get("met")]
    bench = _bench(r["name"])
    if pinned and bench and r.get("met") is not None:
        in_y = bench.met_in_yardsticks(r, reference_s, results)
        if in_y is not None and in_y != r["met"]:
            text += f" ({VERDICT[in_y].strip('*')} in yardsticks)"
    return text


def _bench(name: str):
    return next((b for b in registry.BENCHMARKS if b.name == name), None)


def _in_y(value: float | None, unit: str, yardstick_s: float | None) -> str:
    """' (x Y)' for a time, ' (x per Y)' for a rate; '' when it has no yardstick form."""
    y = in_yardsticks(value, unit, yardstick_s)
    if y is None:
        return ""
    return f" ({_num(y)} Y)" if unit == "s" else f" ({_num(y, unit[:-2])} per Y)"


def _target_cell(r: dict, reference_s: float | None) -> str:
    """Each target in its unit and, for a time or a rate, in yardsticks."""
    bench = _bench(r["name"])
    if bench is None:  # a benchmark since removed: its stored text
        return r.get("target") or "–"
    texts = [t.text() + ("" if t.versus else _in_y(t.value, t.unit, reference_s)) for t in bench.targets]
    return "; ".join(texts) or "–"


def _yardstick_rows(stick: dict | None) -> list[str]:
    if not stick:
        return ["| yardstick | not measured (a report from before bench/yardstick.py) |"]
    if stick.get("error"):
        return [f"| yardstick | **failed**: {stick['error']} |"]
    parts = ", ".join(f"{k} {v:.2f}" for k, v in stick["parts"].items())
    reference, pinned = reference_seconds(stick["seconds"])
    stated = (f"the reference host's yardstick, {reference:.2f} s" if pinned else
              f"this report's own yardstick ({REFERENCE_NOTE})")
    return [f"| yardstick (`bench/yardstick.py`: fixed single-threaded workload, sum of each part's fastest of "
            f"{stick['repeats']}) | **{stick['seconds']:.2f} s** = 1 Y ({parts} s; {stick['cpu_seconds']:.1f} CPU s "
            f"in all; fingerprint {stick['fingerprint']}; load {stick['load_before']:.1f} -> {stick['load_after']:.1f}) |",
            f"| targets in yardsticks are stated against | {stated} |"]


def _details(r: dict) -> str:
    skip = {r["metric"]}
    parts = [f"{k} {_num(v['median'])}" for k, v in r["figures"].items() if k not in skip]
    info = [f"{k}: {v}" for k, v in (r.get("info") or {}).items()]
    return "; ".join(parts + info)


def markdown(data: dict, *, figure_path: Path | None, out_dir: Path) -> str:
    m = data["machine"]
    results = {r["name"]: r for r in data["results"]}
    loads = [r["load_average"][0] for r in data["results"]]
    lines = [
        "# Benchmarks",
        "",
        "Written by " + ", ".join(f"`{c.strip()}`" for c in data["commands"]) + " (`python -m bench --help`; "
        "the scripts `bench/bench_*.py` run single benchmarks). Each benchmark runs in its own process: a warm-up run (unrecorded; it also "
        "builds the cached inputs), then the recorded runs; heavy benchmarks (minutes each) run once without "
        "warm-up. Times are medians [min–max] of the timed part only (inputs prepared before the clock "
        "starts); peak memory is the largest resident set size of the benchmark's process tree (wait4), "
        "the largest over its runs. \"process wall / CPU\" is the whole benchmark process (imports and input "
        "preparation included): its CPU seconds are much less inflated by a busy machine than wall times. "
        "Every timed figure and target is also given in yardsticks (Y): the time of a fixed single-threaded "
        "workload run at the start of each `python -m bench` (`bench/yardstick.py`; the same benchmark differs "
        "by 1.5x between two quiet hosts of one kind), i.e. a figure's time over its own run's yardstick, a "
        "target's over the reference host's. Raw figures: `bench/results.json`.",
        "",
    ]
    if data.get("quick"):
        lines += ["> **--quick smoke run: tiny sizes, not representative.**", ""]
    if loads and max(loads) > 0.5 * (m["cores"] or 1):
        # the 1-minute average decays over about a minute: it also shows work that has just ended
        lines += [f"> **Load**: the 1-minute load average at the start of the benchmarks ranged "
                  f"{min(loads):.1f}–{max(loads):.1f} on {m['cores']} cores (column \"load\"). It decays over "
                  "about a minute, so it also counts work that ended just before a benchmark started; a row "
                  "whose load exceeds the cores may be inflated by other work (compare its wall and CPU "
                  "seconds).", ""]
    lines += [
        "## Machine", "",
        "| | |", "|---|---|",
        f"| date of this report | {m['date']} |",
        f"| CPU | {m['cpu']}, {m['cores']} cores |",
        f"| RAM | {m['ram_gb']} GB |",
        f"| OS | {m['os']} |",
        f"| Python | {m['python']} |",
        f"| packages | {', '.join(f'{k} {v}' for k, v in m['packages'].items())} |",
        f"| git commit | {m['commit']} |",
        f"| load average when written (1, 5, 15 min) | {', '.join(map(str, m['load_average']))} |",
        f"| Python bytecode cache | {m.get('bytecode_cache', 'unknown')} |",
        *_yardstick_rows(m.get("yardstick")),
        "",
        "## Results", "",
        "| benchmark | headline (median) | min–max | peak memory | process wall / CPU | runs | target | "
        "| measured (UTC), load |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    own = (m.get("yardstick") or {}).get("seconds")
    reference_s, pinned = reference_seconds(own)
    for r in data["results"]:
        head = r["figures"].get(r["metric"])
        rng = f"{_num(head['min'], r['unit'], show_unit=False)}–{_num(head['max'], r['unit'])}" if head else "–"
        headline = _num(head["median"], r["unit"]) + _in_y(head["median"], r["unit"], r.get("yardstick_s")) \
            if head else "–"
        if (r.get("error") or "").startswith("timed out"):  # the partial figures are not the headline
            after = re.search(r"after (\d+) s", r["error"])
            headline, rng = f"> {after.group(1)} s (stopped)" if after else "stopped", "–"
        lines.append(f"| {r['title']} (`{r['name']}`) | {headline} | {rng} "
                     f"| {_mb(r['peak_mb']['max']) if r['peak_mb'] else '–'} | {_wall_cpu(r)} | {r['runs']}"
                     f"{' + warm-up' if r['warm_up'] and r['runs'] else ''} | {_target_cell(r, reference_s)} "
                     f"| {_met(r, reference_s, pinned, results)} "
                     f"| {r['started_at'][:16].replace('T', ' ')}, {r['load_average'][0]:.1f} |")
    missing = [b.name for b in registry.BENCHMARKS if b.name not in results]
    if missing and not data.get("quick"):
        lines += ["", "Not measured in this report (`python -m bench --only NAME`): "
                      + ", ".join(f"`{name}`" for name in missing) + "."]
    lines += ["", "### Details (medians)", ""]
    for r in data["results"]:
        text = (f"{r['error']}. " if r.get("error") else "") + _details(r)
        lines.append(f"- `{r['name']}`: {text}")
    rows = growth_rows(results)
    lines += ["", "## Growth", "",
              "Time and peak memory against road points (grid steps) and against accidents (demo scales). "
              "The exponents are log-log slopes from the previous point (time ∝ x^exponent; 1 = linear): "
              "multiply by (x_new / x)^exponent to extrapolate.", ""]
    if rows:
        lines += ["| against | stage | x | seconds | peak memory | time exponent | memory exponent |",
                  "|---|---|---|---|---|---|---|"]
        for g in rows:
            exp = lambda v: "–" if v is None else f"{v:.2f}"  # noqa: E731
            lines.append(f"| {g['axis']} | {g['series']} | {g['x']:,.0f} | {_num(g['seconds'], 's')} "
                         f"| {_mb(g['peak_mb'])} | {exp(g['time_exponent'])} | {exp(g['memory_exponent'])} |")
        if figure_path is not None and growth_plot(rows, figure_path):
            lines += ["", f"![time and peak memory against size]"
                          f"({os.path.relpath(figure_path, out_dir)})"]
    else:
        lines.append("(no growth series measured)")
    if FINDINGS.is_file():  # hand-written: profiles of missed targets, fixes with before/after
        lines += ["", FINDINGS.read_text().strip()]
    return "\n".join(lines) + "\n"
