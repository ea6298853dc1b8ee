"""What every asset shares: owners, kinds and asset-key helpers."""

from __future__ import annotations

OWNERS = ["team:accidents-data"]
LAKE_KINDS = {"duckdb", "python"}


def table_key(qualified: str) -> list[str]:
    """'bronze.accidents' -> ['bronze', 'accidents']: asset keys mirror lake tables."""
    return qualified.split(".")
