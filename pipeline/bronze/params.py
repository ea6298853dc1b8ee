"""Parameters of the bronze stage (ingest): the single source of its defaults, ranges and help."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.core.params import Params, param

DEFAULT_MAX_FILE_MB = 2048


@dataclass(frozen=True)
class IngestParams(Params):
    years: tuple[int, ...] = param((2019, 2020, 2021, 2022, 2023, 2024), "BAAC years: YEAR, FIRST-LAST or a comma list",
                                   kind="years")
    source: str = param("demo", "datagouv (download), demo (offline SYNTHETIC data) or a folder of BAAC files")
    seed: int | None = param(None, "demo generator seed (default: ACCIDENTS_SEED or 42)", kind="int", low=0)
    scale: float = param(1.0, "demo volume multiplier", low=0.01, high=1000)
    max_file_mb: int = param(DEFAULT_MAX_FILE_MB, "refuse a BAAC file larger than this many MB (raise it for a genuine larger file)",
                             kind="int", low=1, high=1 << 20)
    force: bool = param(False, "replace a year even if it would keep far fewer accidents than the lake holds")
