"""A bigger run of the ingest fuzz (tests/bronze/test_fuzz.py is its CI-sized version).

Each example writes two intact BAAC years, mutates cells (values), headers and whole files of one or
both, ingests them into a fresh-per-run embedded lake and checks the invariants: no traceback, every
line accounted for, no invalid value in bronze.accidents, no year emptied or shrunk by a broken file.
Prints the counts: cells mutated, header and file mutations, lines read, rejected lines by reason,
refused years by reason, and invariant violations (must be 0).

Usage: nice .venv/bin/python bench/bench_ingest_fuzz.py [--examples 200] [--cells 60] [--seed 1]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections import Counter
from pathlib import Path

from pipeline.core.lake import connect
from pipeline.core.settings import Settings
from pipeline.bronze.ingest import ingest_years
from tests.bronze.baac_files import accidents_for, write_year
from tests.bronze.baac_fuzz import Mutations, ingest_and_check, mutate_example

YEARS = (2023, 2024)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=200)
    parser.add_argument("--cells", type=int, default=60, help="mean cells mutated per example")
    parser.add_argument("--accidents", type=int, default=20, help="accidents per intact year")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    tally, rejected, refused, violations = Mutations(), Counter(), Counter(), []
    lines = kept = 0
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        con = connect(Settings(data_dir=root / "data"))

        def base(name):
            return {y: write_year(root / name / str(y), y, accidents_for(y, args.accidents)) for y in YEARS}

        ingest_years(con, base("base"))
        intact = {y: args.accidents for y in YEARS}
        for i in range(args.examples):
            held = dict(con.execute("SELECT year, count(*) FROM bronze.accidents GROUP BY 1").fetchall())
            if held != intact:
                ingest_years(con, base("base"), force=True)
            files = base(f"ex{i}")
            n_cells = rng.randint(1, 2 * args.cells)
            mutate_example(files, rng, n_cells, tally)
            outcome = ingest_and_check(con, files)
            violations += outcome.violations
            rejected.update(outcome.rejected)
            refused.update(outcome.refused)
            lines += outcome.lines
            kept += outcome.kept
        con.close()
    seconds = time.perf_counter() - started
    print(f"examples {args.examples}, seed {args.seed}, {seconds:.0f} s")
    print(f"cells mutated {tally.cells}; header mutations {sum(tally.header_ops.values())} "
          f"{dict(tally.header_ops)}; file mutations {sum(tally.file_ops.values())} {dict(tally.file_ops)}")
    print(f"lines read in written years {lines}, kept {kept}, rejected {sum(rejected.values())}")
    print(f"refused years {sum(refused.values())}:")
    for reason, n in refused.most_common():
        print(f"  {n:6d}  {reason}")
    print("rejected lines by reason (top 40):")
    for reason, n in rejected.most_common(40):
        print(f"  {n:6d}  {reason}")
    print(f"invariant violations {len(violations)} (tracebacks {sum(v.startswith('traceback') for v in violations)})")
    for v in violations[:20]:
        print("  ", v)


if __name__ == "__main__":
    main()
