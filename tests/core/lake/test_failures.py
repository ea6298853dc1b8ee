"""Unreachable catalog and object storage: one-line errors that name the server, bounded waits, and
no secret (a DSN password, an S3 key) in anything printed. Loopback sockets stand in for the servers."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from pipeline.cli import main
from pipeline.core.lake import attach_statements, connect, redact_dsn, server_error, without_password
from pipeline.core.settings import Settings
from tests.support.net import free_port

MARKER = "pw-MARKER-4f1c"


@pytest.fixture
def silent_server():
    """Accepts connections and never answers (a hung S3 server)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def _s3_env(tmp_path, endpoint: str, **extra) -> dict[str, str]:
    return {"ACCIDENTS_DATA_DIR": str(tmp_path / "data"), "ACCIDENTS_DATA_PATH": "s3://lake/prefix/",
            "ACCIDENTS_S3_ENDPOINT": endpoint, "ACCIDENTS_S3_ACCESS_KEY_ID": "key-id",
            "ACCIDENTS_S3_SECRET_ACCESS_KEY": MARKER, "ACCIDENTS_S3_USE_SSL": "false", **extra}


@pytest.mark.parametrize("dsn, shown, stripped", [
    (f"host=db port=5432 dbname=lake user=u password={MARKER}",
     "host=db port=5432 dbname=lake user=u password=***", "host=db port=5432 dbname=lake user=u"),
    (f"host=db password='{MARKER} x' dbname=lake", "host=db password=*** dbname=lake", "host=db dbname=lake"),
    (f"postgresql://u:{MARKER}@db:5432/lake", "postgresql://u:***@db:5432/lake", "postgresql://u@db:5432/lake"),
    (f"postgresql://u@db/lake?password={MARKER}&sslmode=require", "postgresql://u@db/lake?password=***&sslmode=require",
     "postgresql://u@db/lake?sslmode=require"),
])
def test_dsn_passwords_are_masked_or_removed(dsn, shown, stripped):
    assert redact_dsn(dsn) == shown and without_password(dsn) == stripped


def test_attach_sql_and_connection_errors_never_print_the_dsn_password(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ACCIDENTS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ACCIDENTS_CATALOG", "postgres")
    monkeypatch.setenv("ACCIDENTS_PG_DSN",
                       f"host=127.0.0.1 port={free_port()} dbname=lake user=u password={MARKER}")
    assert main(["lake", "attach-sql"]) == 0
    printed = capsys.readouterr()
    assert "PGPASSWORD" in printed.out and "dbname=lake user=u'" in printed.out
    assert main(["tables"]) == 2
    failed = capsys.readouterr()
    assert "(ACCIDENTS_PG_DSN)" in failed.err and "password=***" in failed.err
    assert len(failed.err.strip().splitlines()) == 1
    assert MARKER not in printed.out + printed.err + failed.out + failed.err
    assert MARKER not in repr(Settings.from_env())


def test_a_stopped_s3_server_is_a_one_line_error_naming_the_endpoint(tmp_path, monkeypatch, capsys):
    endpoint = f"127.0.0.1:{free_port()}"
    for key, value in _s3_env(tmp_path, endpoint).items():
        monkeypatch.setenv(key, value)
    connect(Settings.from_env()).close()  # creating the lake touches the catalog only
    # `accidents sql` no longer reaches a file by name (allow-list): the object store is met by the lake's
    # own writes below
    assert main(["sql", "SELECT count(*) FROM read_parquet('s3://lake/prefix/x.parquet')"]) == 2
    err = capsys.readouterr().err
    assert "read_parquet() is not allowed" in err and len(err.splitlines()) == 1

    settings = Settings.from_env(_s3_env(tmp_path, endpoint))
    con = connect(settings)
    with pytest.raises(Exception) as failure:
        con.execute("CREATE TABLE bronze.t AS SELECT 1 AS x")
    con.close()
    friendly = server_error(settings, failure.value)
    assert friendly is not None and f"http://{endpoint}" in str(friendly) and "\n" not in str(friendly)


def test_a_silent_s3_server_fails_within_the_configured_timeout(tmp_path, silent_server):
    settings = Settings.from_env(_s3_env(tmp_path, silent_server, ACCIDENTS_S3_TIMEOUT="1"))
    assert "SET http_timeout = 1;" in attach_statements(settings)
    con = connect(settings)
    started = time.monotonic()
    with pytest.raises(Exception) as failure:
        con.execute("CREATE TABLE bronze.t AS SELECT 1 AS x")
    elapsed = time.monotonic() - started
    con.close()
    assert elapsed < 15, f"blocked {elapsed:.0f} s"  # DuckDB's own defaults block for about 2 minutes
    assert silent_server in str(server_error(settings, failure.value))


def test_default_s3_waits_are_bounded():
    settings = Settings.from_env({"ACCIDENTS_DATA_PATH": "s3://b/p/", "ACCIDENTS_S3_ACCESS_KEY_ID": "k",
                                  "ACCIDENTS_S3_SECRET_ACCESS_KEY": "s"})
    statements = attach_statements(settings)
    assert "SET http_timeout = 5;" in statements and "SET http_retries = 1;" in statements
