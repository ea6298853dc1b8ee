"""A cheap "has this SQLite file changed?" test: the size and modification time of the file and of its
write-ahead log (in WAL mode a commit changes the log, not the file). Used to skip asking an MLflow
store or a lake catalog when nothing was written since the last look."""

from __future__ import annotations

from pathlib import Path


def sqlite_stamp(path: Path) -> list[int] | None:
    """[size, mtime_ns] of `path` and of `path`-wal ([0, 0] without a log); None when `path` is absent.
    A list, so that a stamp read back from JSON compares equal."""
    path = Path(path)
    stamp: list[int] = []
    for candidate in (path, path.with_name(path.name + "-wal")):
        try:
            stat = candidate.stat()
        except OSError:
            if candidate == path:
                return None
            stamp += [0, 0]
            continue
        stamp += [stat.st_size, stat.st_mtime_ns]
    return stamp


def sqlite_uri_stamp(uri: str) -> list[int] | None:
    """The stamp of a `sqlite:///` store; None for any other URI (a server gives no stamp)."""
    if not uri.startswith("sqlite:///"):
        return None
    return sqlite_stamp(Path(uri.removeprefix("sqlite:///")))
