"""The benchmarks: each is a small adapter function (module:function) returning a dict of figures,
with its full and --quick parameters and its target. Re-point `adapter` to move a benchmark onto
another implementation; the runner and the report do not change."""

from __future__ import annotations

import operator
from dataclasses import dataclass, field

from bench.adapters.cli import readme_queries

OPS = {"<=": operator.le, ">=": operator.ge}


@dataclass(frozen=True)
class Target:
    figure: str  # a figure of the adapter, or "peak_mb" (the worker's peak memory)
    op: str  # "<=" or ">="
    value: float
    unit: str

    def text(self) -> str:
        return f"{self.figure} {self.op} {self.value:g} {self.unit}"


@dataclass(frozen=True)
class Benchmark:
    name: str
    group: str
    title: str
    adapter: str  # "module:function"
    full: dict
    quick: dict
    metric: str  # the headline figure
    unit: str
    targets: tuple[Target, ...] = ()
    heavy: bool = False  # one recorded run, no warm-up (minutes each; the machine is shared)
    warm_up: bool = True
    extra: dict = field(default_factory=dict)

    def headline(self, figures: dict) -> str:
        value = figures.get(self.metric)
        return f"{self.metric} {value:,.3g} {self.unit}" if isinstance(value, (int, float)) else "no figure"

    def target_text(self) -> str:
        return "; ".join(t.text() for t in self.targets)

    def met(self, result: dict) -> bool | None:
        """Every target on the medians (peak memory: the largest run); None without a target."""
        if not self.targets:
            return None
        for t in self.targets:
            if t.figure == "peak_mb":
                value = result["peak_mb"]["max"]
            elif t.figure in result["figures"]:
                value = result["figures"][t.figure]["median"]
            else:
                return False
            if not OPS[t.op](value, t.value):
                return False
        return True


GB = 1024.0
GRID_STEPS = (0.02, 0.01, 0.005)
CHAIN_SCALE = 200


def _ingest(scale: float, quick_scale: float) -> Benchmark:
    return Benchmark(
        f"ingest_scale{scale:g}", "ingest", f"ingest, demo scale {scale:g} (BAAC files -> bronze)",
        "bench.adapters.ingest:ingest_demo", {"scale": scale}, {"scale": quick_scale},
        "rows_per_s", "rows/s", heavy=scale >= 100)


def _silver(scale: float, quick_scale: float, targets) -> Benchmark:
    return Benchmark(
        f"silver_scale{scale:g}", "silver", f"silver (roads, road points, sampling, features), scale {scale:g}",
        "bench.adapters.silver:silver", {"scale": scale}, {"scale": quick_scale, "neg_ratio": 2, "network": "small"},
        "seconds", "s", targets, heavy=scale >= 100)


def _grid(step: float) -> list[Benchmark]:
    fine = step <= 0.005
    eval_targets = ((Target("cell_hours_per_s", ">=", 1e6, "cell-hours/s"),) if step == 0.02 else
                    (Target("seconds", "<=", 300, "s"), Target("peak_mb", "<=", 8 * GB, "MB")) if fine else ())
    quick_points = {"points": 150}
    return [
        Benchmark(f"grid{step:g}_silver", "grid", f"grid {step:g} deg: road points and silver (scale 1)",
                  "bench.adapters.silver:silver", {"scale": 1, "grid_step": step},
                  {"scale": 0.05, "grid_step": step, "neg_ratio": 2, "network": "small"}, "seconds", "s", heavy=fine),
        Benchmark(f"grid{step:g}_evaluate_year", "grid", f"grid {step:g} deg: full-grid evaluation of one year",
                  "bench.adapters.grid:evaluate_year", {"grid_step": step},
                  {"grid_step": step, **quick_points, "hours": 48, "rounds": 10},
                  "cell_hours_per_s", "cell-hours/s", eval_targets, heavy=step < 0.02),
        Benchmark(f"grid{step:g}_predict_day", "grid", f"grid {step:g} deg: one predicted day (model load + lake write)",
                  "bench.adapters.grid:predict_day", {"grid_step": step}, {"grid_step": step, **quick_points},
                  "seconds", "s", (Target("seconds", "<=", 3, "s"),) if fine else ()),
        Benchmark(f"grid{step:g}_backfill365", "grid", f"grid {step:g} deg: 365-day backfill",
                  "bench.adapters.grid:backfill", {"grid_step": step, "days": 365},
                  {"grid_step": step, **quick_points, "days": 3}, "seconds", "s",
                  (Target("seconds", "<=", 120, "s"),) if step == 0.02 else (), heavy=step < 0.02),
    ]


BENCHMARKS: tuple[Benchmark, ...] = (
    _ingest(1, 0.05),
    _ingest(200, 0.1),
    # Memory must not follow a file's size: a demo caracteristiques file followed by 1 GB of NUL bytes.
    Benchmark("ingest_padded1g", "ingest", "ingest of one demo year whose caracteristiques file is padded "
              "to 1 GB with NUL bytes", "bench.adapters.ingest:ingest_padded", {"pad_mb": 1024}, {"pad_mb": 16},
              "seconds", "s", (Target("peak_mb", "<=", 600, "MB"),), heavy=True, warm_up=False),
    _silver(1, 0.05, (Target("seconds", "<=", 10, "s"),)),
    _silver(200, 0.1, (Target("seconds", "<=", 300, "s"), Target("peak_mb", "<=", 24 * GB, "MB"))),
    *[b for step in GRID_STEPS for b in _grid(step)],
    Benchmark("train_3x50", "training", "training: 3 algorithms x 50 Optuna trials (demo world, reference split)",
              "bench.adapters.train:train", {"trials": 50}, {"trials": 1, "source": "synthetic", "positives": 100, "ratio": 5, "workers": 1},
              # about a minute a run: a warm-up and the default repeats give the target's median
              "total_s", "s", (Target("total_s", "<=", 60, "s"),)),
    Benchmark("cli_help", "cli", "`accidents --help` start-up", "bench.adapters.cli:help_startup", {}, {},
              "seconds", "s", (Target("seconds", "<=", 0.3, "s"),)),
    *[Benchmark(f"lake_query_{i + 1}", "cli", f"`duckdb` CLI on the demo lake: {comment} (README)",
                "bench.adapters.cli:lake_query", {"index": i}, {"index": i, "quick": True}, "seconds", "s",
                (Target("seconds", "<=", 0.5, "s"),)) for i, (comment, _) in enumerate(readme_queries())],
    Benchmark("serve_startup", "startup", "`accidents serve` launch -> /readyz 200, warm (champion from the API's cache)",
              "bench.adapters.startup:serve_startup", {}, {"quick": True}, "seconds", "s",
              (Target("seconds", "<=", 2, "s"),)),
    Benchmark("code_location_load", "startup", "`dg dev` launch -> the `accidents` code location LOADED in the UI",
              "bench.adapters.startup:code_location_load", {}, {}, "seconds", "s",
              (Target("seconds", "<=", 10, "s"),)),
    Benchmark("cli_predict", "cli", "`accidents predict --date D` as a whole process, grid 0.02 deg",
              "bench.adapters.cli:predict_process", {}, {"quick": True}, "seconds", "s", (Target("seconds", "<=", 3, "s"),)),
    Benchmark(f"chain_scale{CHAIN_SCALE}", "chain", f"whole chain with the CLI at demo scale {CHAIN_SCALE}",
              "bench.adapters.chain:chain", {"scale": CHAIN_SCALE},
              {"scale": 0.05, "stages": "generate,ingest"},
              "seconds", "s", (Target("seconds", "<=", 1200, "s"), Target("peak_mb", "<=", 16 * GB, "MB")),
              heavy=True, warm_up=False),
)


def select(names: str | None) -> list[Benchmark]:
    """All benchmarks, or those named (comma list; a prefix such as `grid0.02` or a group selects several)."""
    if not names:
        return list(BENCHMARKS)
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    chosen = [b for b in BENCHMARKS if any(b.name == w or b.group == w or b.name.startswith(w) for w in wanted)]
    unknown = [w for w in wanted if not any(b.name == w or b.group == w or b.name.startswith(w) for b in BENCHMARKS)]
    if unknown:
        raise SystemExit(f"error: --only {unknown[0]!r}: unknown benchmark; known: "
                         + ", ".join(b.name for b in BENCHMARKS))
    return chosen
