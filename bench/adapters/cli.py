"""Whole processes a user starts: `accidents --help`, the README's queries in the `duckdb` CLI on a
demo lake, and `accidents predict --date D` (start to exit, model load and lake write included)."""

from __future__ import annotations

import re
from pathlib import Path

from bench.adapters.fixtures import CHAMPION_LAKE, champion_lake
from bench.adapters.process import BIN, cli, run_measured

ROOT = Path(__file__).resolve().parents[2]
PREDICT_DATE = "2025-06-15"


def readme_queries(readme: Path = ROOT / "README.md") -> list[tuple[str, str]]:
    """(comment, SQL) of each example in the README's "Querying the lake from the DuckDB CLI" section."""
    text = readme.read_text()
    section = text.split("## Querying the lake from the DuckDB CLI", 1)[1]
    block = re.search(r"```sql\n(.*?)```", section, re.S).group(1)
    return re.findall(r"^-- (.*)\n(SELECT .*?;)\s*$", block, re.M)


def help_startup(work_dir: str) -> dict:
    done = run_measured(cli("--help"), what="accidents --help")
    return {"seconds": done.seconds, "process_peak_mb": done.peak_mb}


def lake_query(work_dir: str, index: int, quick: bool = False) -> dict:
    data = champion_lake(work_dir, **CHAMPION_LAKE["quick" if quick else "full"])
    env = {"ACCIDENTS_DATA_DIR": str(data), "ACCIDENTS_CATALOG": "sqlite"}
    attach = Path(work_dir) / f"attach-{data.name}.sql"
    if not attach.is_file():
        attach.write_text(run_measured(cli("lake", "attach-sql"), env_extra=env, what="lake attach-sql").stdout)
    comment, sql = readme_queries()[index]
    done = run_measured([str(BIN / "duckdb"), "-csv", "-noheader"], stdin=attach.read_text() + "\n" + sql + "\n",
                        what=f"duckdb: {comment}")
    return {"seconds": done.seconds, "query": comment, "result_rows": len(done.stdout.strip().splitlines()),
            "process_peak_mb": done.peak_mb}


def predict_process(work_dir: str, quick: bool = False) -> dict:
    data = champion_lake(work_dir, **CHAMPION_LAKE["quick" if quick else "full"])
    env = {"ACCIDENTS_DATA_DIR": str(data), "ACCIDENTS_CATALOG": "sqlite"}
    done = run_measured(cli("predict", "--date", PREDICT_DATE), env_extra=env, what="accidents predict")
    rows = re.search(r"(\d+) rows written", done.stdout)
    return {"seconds": done.seconds, "rows": int(rows.group(1)) if rows else 0, "process_peak_mb": done.peak_mb}
