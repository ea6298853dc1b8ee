"""The benchmarks: each is a small adapter function (module:function) returning a dict of figures,
with its full and --quick parameters and its targets. Re-point `adapter` to move a benchmark onto
another implementation; the runner and the report do not change. A target is on a figure of the
benchmark, or on its ratio to the same figure of another benchmark measured in the same report
(`versus`); a target in seconds is also stated in yardsticks by the report (bench/yardstick.py)."""

from __future__ import annotations

import operator
from dataclasses import dataclass, field

from bench.adapters.cli import readme_queries
from bench.yardstick import in_yardsticks

OPS = {"<=": operator.le, ">=": operator.ge, "<": operator.lt}


@dataclass(frozen=True)
class Target:
    figure: str  # a figure of the adapter, or "peak_mb" (the worker's peak memory)
    op: str  # "<=", ">=" or "<"
    value: float
    unit: str
    versus: str | None = None  # another benchmark: the target is on figure / its same figure (medians)

    def text(self) -> str:
        if self.versus:
            return f"{self.figure} / {self.versus} {self.figure} {self.op} {self.value:g}"
        return f"{self.figure} {self.op} {self.value:g} {self.unit}"

    def measured(self, result: dict, others: dict[str, dict] | None = None) -> float | None:
        """The value judged (a median; peak memory: the largest run), None when it cannot be had."""
        if self.figure == "peak_mb":
            return (result.get("peak_mb") or {}).get("max")
        own = result["figures"].get(self.figure, {}).get("median")
        if self.versus is None or own is None:
            return own
        other = (others or {}).get(self.versus)
        if not other or other.get("error") or self.figure not in other["figures"]:
            return None
        return own / other["figures"][self.figure]["median"]

    def judge(self, result: dict, others: dict[str, dict] | None = None) -> bool | None:
        """True / False; None when the other benchmark of a relative target was not measured. A missing
        figure of the benchmark itself is a miss."""
        value = self.measured(result, others)
        if value is None:
            return None if self.versus and self.figure in result["figures"] else False
        return OPS[self.op](value, self.value)

    def judge_in_yardsticks(self, result: dict, reference_s: float | None) -> bool | None:
        """The target in yardsticks (its value over the reference host's yardstick) against the figure
        over the yardstick of its own run; None for a target that is not a time or a rate."""
        target = in_yardsticks(self.value, self.unit, reference_s) if not self.versus else None
        if target is None:
            return None
        value = in_yardsticks(self.measured(result), self.unit, result.get("yardstick_s"))
        return False if value is None else OPS[self.op](value, target)


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

    def met(self, result: dict, others: dict[str, dict] | None = None) -> bool | None:
        """Every target (None without a target, or when a relative target's other benchmark is missing
        and no other target is missed)."""
        if not self.targets:
            return None
        return _overall([t.judge(result, others) for t in self.targets])

    def met_in_yardsticks(self, result: dict, reference_s: float | None, others: dict[str, dict] | None = None):
        """As `met`, timed targets judged in yardsticks (the others as they are)."""
        if not self.targets:
            return None
        verdicts = []
        for t in self.targets:
            verdict = t.judge_in_yardsticks(result, reference_s)
            verdicts.append(t.judge(result, others) if verdict is None else verdict)
        return _overall(verdicts)


def _overall(verdicts: list[bool | None]) -> bool | None:
    if False in verdicts:
        return False
    return None if None in verdicts else True


GB = 1024.0
GRID_STEPS = (0.02, 0.01, 0.005)
CHAIN_SCALE = 200
REFERENCE_QUICK = {"trials": 1, "source": "synthetic", "positives": 100, "ratio": 5, "workers": 1}


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
                  {"grid_step": step, **quick_points, "hours": 336},
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
    # quick: the small street grid holds few road points; at scale 0.1 all lie within the exclusion radius
    _silver(200, 0.05, (Target("seconds", "<=", 300, "s"), Target("peak_mb", "<=", 24 * GB, "MB"))),
    *[b for step in GRID_STEPS for b in _grid(step)],
    Benchmark("train_3x50", "training", "training, reference protocol: 3 classifiers x 50 Optuna trials (demo world)",
              "bench.adapters.train:reference", {"trials": 50}, REFERENCE_QUICK,
              # about a minute a run: a warm-up and the default repeats give the target's median
              "total_s", "s", (Target("total_s", "<=", 60, "s"),)),
    Benchmark("train_reference_3x20", "training", "training, reference protocol: 3 classifiers x 20 Optuna trials "
              "(demo world; the three Optuna studies `accidents train` ran before issue 22)",
              "bench.adapters.train:reference", {"trials": 20}, REFERENCE_QUICK, "total_s", "s"),
    Benchmark("train_candidates", "training", "training: the intensity candidates compete as `accidents train` runs "
              "them (demo world, default candidates and trials)", "bench.adapters.train:candidates", {},
              {"source": "world", "points": 150, "candidates": "hotspot,glm,lightgbm,blend", "trials": 1},
              "total_s", "s", (Target("total_s", "<", 1.0, "", versus="train_reference_3x20"),)),
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
    Benchmark("chain_demo", "chain", "`accidents run` on the demo (scale 1) as one process, from an empty data folder",
              "bench.adapters.chain:run_demo", {}, {"scale": 0.05, "candidates": "hotspot,glm", "trials": 1,
                                                    "roads": "small"},
              # each run starts from nothing (demo files included), as from a fresh clone: no warm-up
              "seconds", "s", (Target("seconds", "<=", 90, "s"),), warm_up=False),
    Benchmark(f"chain_scale{CHAIN_SCALE}", "chain", f"whole chain with the CLI at demo scale {CHAIN_SCALE}, stage by stage",
              "bench.adapters.chain:chain", {"scale": CHAIN_SCALE},
              {"scale": 0.05, "stages": "generate,ingest"},
              "seconds", "s", (Target("seconds", "<=", 1200, "s"), Target("peak_mb", "<=", 16 * GB, "MB")),
              heavy=True, warm_up=False),
    # --lag 1: the shipped lag of the demo's last year (2024) until the end of 2026; pinned so that the
    # measurement stays the same configuration (and test year 2022 stays possible) after that
    Benchmark("replication12", "replication", "`bench/replicate.py --seeds 11,12,13,14 --test-years 2022,2023,2024 "
              "--lag 1`: 12 replications of the shipped path, one process", "bench.adapters.replication:replicate",
              {"seeds": "11,12,13,14", "test_years": "2022,2023,2024", "lag": 1},
              {"seeds": "11", "test_years": "2024", "trials": 1, "candidates": "hotspot,glm", "scale": 0.3,
               "bootstrap": 20, "lag": 1},
              "seconds", "s", (Target("seconds", "<=", 1200, "s"),), heavy=True, warm_up=False),
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
