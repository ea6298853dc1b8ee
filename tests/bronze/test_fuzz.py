"""Fuzz of values, headers and whole files (CI size; bench/bench_ingest_fuzz.py runs a bigger one):
no traceback, every line accounted for, no invalid value in bronze.accidents, no year emptied."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings, strategies as st

from pipeline.bronze.ingest import ingest_years
from tests.bronze.baac_files import accidents_for, write_year
from tests.bronze.baac_fuzz import Mutations, ingest_and_check, mutate_example

YEARS = (2023, 2024)
BASE = 12  # accidents per year


def _base(folder):
    return {y: write_year(folder / str(y), y, accidents_for(y, BASE)) for y in YEARS}


def test_fuzzed_values_headers_and_files_keep_every_invariant(lake, tmp_path):
    ingest_years(lake, _base(tmp_path / "base"))
    tally, totals = Mutations(), {"examples": 0, "rejected": 0, "refused": 0, "lines": 0}

    @settings(max_examples=25, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(seed=st.integers(0, 2**32 - 1), n_cells=st.integers(1, 80))
    def one_example(seed, n_cells):
        rng = random.Random(seed)
        held = dict(lake.execute("SELECT year, count(*) FROM bronze.accidents GROUP BY 1").fetchall())
        if held != {y: BASE for y in YEARS}:  # start each example from the intact years
            ingest_years(lake, _base(tmp_path / "base"), force=True)
        files = _base(tmp_path / f"ex{totals['examples']}")
        mutate_example(files, rng, n_cells, tally)
        outcome = ingest_and_check(lake, files)
        assert outcome.violations == [], (seed, n_cells, outcome.violations)
        totals["examples"] += 1
        totals["rejected"] += sum(outcome.rejected.values())
        totals["refused"] += len(outcome.refused)
        totals["lines"] += outcome.lines

    one_example()
    # the fuzz did damage: cells were mutated, lines rejected and some files refused
    assert tally.cells >= 500 and totals["rejected"] > 100 and totals["refused"] >= 1, (tally, totals)
