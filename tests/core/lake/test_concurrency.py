"""Several processes on the embedded lake at once: writers never fail, readers never see half a
transaction, and a writer that cannot get the lake gives up with one line after a bounded wait."""

from __future__ import annotations

import multiprocessing as mp
import threading
from pathlib import Path

import pytest

from pipeline.core.errors import AccidentsError

ROUNDS = 50
ROWS = 20
DDL = "CREATE TABLE IF NOT EXISTS gold.shared (round INTEGER, who INTEGER, v DOUBLE)"


def _writer(data_dir: str, who: int, barrier, out) -> None:
    import pyarrow as pa

    from pipeline.core.lake import committed, connect, ensure_tables, replace_table
    from pipeline.core.settings import Settings

    failures = []
    con = connect(Settings(data_dir=Path(data_dir)))
    for r in range(ROUNDS):
        barrier.wait()  # both writers start each round together: 50 concurrent pairs
        try:
            ensure_tables(con, DDL)
            rows = pa.table({"round": [r] * ROWS, "who": [who] * ROWS, "v": [float(i) for i in range(ROWS)]})
            def write():  # the same table for both writers: the worst case
                con.execute("DELETE FROM gold.shared WHERE who = ? AND round < ?", [who, r])
                con.execute("INSERT INTO gold.shared SELECT * FROM _rows")

            committed(con, write, _rows=rows)
            if r % 10 == 0:
                replace_table(con, f"gold.own_{who}", "SELECT ? AS round", [r])
        except Exception as exc:  # noqa: BLE001 (counted and reported, the test asserts none)
            failures.append(f"{type(exc).__name__}: {str(exc).splitlines()[0]}")
    con.close()
    out.put((f"writer {who}", failures, ROUNDS))


def _reader(data_dir: str, stop, out) -> None:
    from pipeline.core.lake import connect
    from pipeline.core.settings import Settings

    failures, reads = [], 0
    con = connect(Settings(data_dir=Path(data_dir)), read_only=True)
    while not stop.is_set():
        try:
            per_writer = con.execute("SELECT who, count(*) FROM gold.shared GROUP BY who").fetchall()
            reads += 1
            failures += [f"half a transaction seen: {n} rows" for _, n in per_writer if n % ROWS]
        except Exception as exc:  # noqa: BLE001
            failures.append(f"{type(exc).__name__}: {str(exc).splitlines()[0]}")
        stop.wait(0.01)
    out.put(("reader", failures, reads))


def test_fifty_pairs_of_concurrent_writers_and_a_reader(settings):
    from pipeline.core.lake import connect, ensure_tables

    con = connect(settings)
    ensure_tables(con, DDL)
    con.close()
    ctx = mp.get_context("spawn")
    barrier, out, stop = ctx.Barrier(2), ctx.Queue(), ctx.Event()
    writers = [ctx.Process(target=_writer, args=(str(settings.data_dir), w, barrier, out)) for w in (0, 1)]
    reader = ctx.Process(target=_reader, args=(str(settings.data_dir), stop, out))
    for p in [*writers, reader]:
        p.start()
    results = [out.get(timeout=600) for _ in writers]
    stop.set()
    results.append(out.get(timeout=60))
    for p in [*writers, reader]:
        p.join(timeout=60)
    assert {name: failures for name, failures, _ in results} == {"writer 0": [], "writer 1": [], "reader": []}
    assert dict((name, n) for name, _, n in results)["reader"] > 0
    con = connect(settings, read_only=True)
    assert con.execute("SELECT who, count(*) FROM gold.shared GROUP BY 1 ORDER BY 1").fetchall() == [
        (0, ROWS), (1, ROWS)]
    con.close()


def test_a_writer_that_cannot_get_the_lake_gives_up_with_one_line(settings):
    from pipeline.core.lake import connect, with_retries, write_lock

    holder, waiter = connect(settings), connect(settings)
    got: list[BaseException] = []

    def other_thread():
        try:
            with write_lock(waiter, timeout=0.3):
                pass
        except AccidentsError as exc:
            got.append(exc)

    with write_lock(holder):
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join(timeout=30)
    assert len(got) == 1 and "\n" not in str(got[0])
    assert str(got[0]).startswith("the lake is busy: another process has been writing to it for more than 0 s")
    with write_lock(waiter, timeout=0.3):  # released with the holder's block
        pass
    calls = []

    def gives_up():
        calls.append(1)
        raise got[0]

    with pytest.raises(AccidentsError, match="the lake is busy"):
        with_retries(gives_up)
    assert calls == [1]  # the bounded wait is not multiplied by the ingest's retries
    holder.close()
    waiter.close()


def test_the_write_lock_is_reentrant_and_skipped_for_a_server_catalog(settings, monkeypatch):
    import pipeline.core.lake as lake
    import pipeline.core.lake.lock as lake_lock

    con = lake.connect(settings)
    with lake.write_lock(con), lake.write_lock(con):  # nesting does not deadlock
        lake.committed(con, lambda: con.execute("CREATE TABLE gold.nested AS SELECT 1 AS x"))
    assert lake.table_exists(con, "gold.nested")
    import fcntl

    with open(lake_lock.lock_path(con), "a") as other:  # another holder: the embedded lock would refuse
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(lake.LakeBusy):
            with lake.write_lock(con, timeout=0):
                pass
        monkeypatch.setattr(lake_lock, "lock_path", lambda con: None)  # as for a PostgreSQL catalog
        with lake.write_lock(con, timeout=0):
            pass
    con.close()
