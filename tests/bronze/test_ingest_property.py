"""Whatever happens to the lines of a file, the ingest never crashes and accounts for every line."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings, strategies as st

from pipeline.bronze.parse import parse_file
from pipeline.bronze.tables import KINDS
from pipeline.bronze.year_files import read_year
from tests.bronze.baac_files import accidents_for, write_year

MUTATIONS = ("truncate", "duplicate", "latin1", "garble", "drop_quote", "blank", "nbsp")


def mutate(data: bytes, rng: random.Random, ops: list[str]) -> bytes:
    lines = data.split(b"\n")
    body = lines[1:-1]  # keep the header so the file stays a BAAC file
    for op in ops:
        if not body:
            break
        i = rng.randrange(len(body))
        if op == "truncate":
            body[i] = body[i][: rng.randrange(len(body[i]) + 1)]
        elif op == "duplicate":
            body.insert(i, body[i])
        elif op == "latin1":
            body[i] = body[i].decode("utf-8", "replace").encode("latin-1", "replace")
        elif op == "garble":
            raw = bytearray(body[i])
            for _ in range(rng.randrange(1, 6)):
                if raw:
                    raw[rng.randrange(len(raw))] = rng.randrange(256) or 1
            body[i] = bytes(raw).replace(b"\n", b"?")
        elif op == "drop_quote":
            body[i] = body[i].replace(b'"', b"", 1)
        elif op == "blank":
            body[i] = b""
        elif op == "nbsp":
            body[i] = body[i].replace(b"2024", "20\u00a024".encode(), 1)
    return b"\n".join([lines[0], *body, lines[-1]])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000), ops=st.lists(st.sampled_from(MUTATIONS), min_size=1, max_size=12),
       kind=st.sampled_from(KINDS))
def test_mutated_lines_never_crash_and_every_line_is_accounted_for(tmp_path, seed, ops, kind):
    files = write_year(tmp_path / str(seed), 2024, accidents_for(2024, 8))
    path = files[kind]
    path.write_bytes(mutate(path.read_bytes(), random.Random(seed), ops))
    batch = read_year(2024, files, "988")
    for count in batch.counts:
        assert count.balanced, count
        physical = parse_file(files[count.kind]).line_count
        assert count.rows_read == physical
    rejected_lines = {(r[0], r[2]) for r in batch.rejected}
    assert len(rejected_lines) == len(batch.rejected)  # one reason per rejected line
    assert all(r[4] for r in batch.rejected)
