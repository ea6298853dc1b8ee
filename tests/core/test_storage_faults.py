"""Storage that fails under a stage: a full disk while the data files are written and while the
catalog commits, a read-only file system. Each is met by `accidents` with one line, the previous
snapshot intact and no file left behind. The file systems are real: small tmpfs mounts (root, as in
CI; skipped where mounting is not allowed)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.core.lake import connect
from pipeline.core.lake.integrity import live_files
from pipeline.core.settings import Settings
from tests.bronze.baac_files import accidents_for, write_year


@pytest.fixture
def tmpfs(tmp_path):
    """Mount a small tmpfs: mount(path, size) -> path; unmounted at the end."""
    mounted = []

    def mount(path: Path, size: str) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounted.append(path)
        return path

    yield mount
    for path in reversed(mounted):
        subprocess.run(["umount", "-l", str(path)], check=False)


def _fill(folder: Path, leave: int) -> None:
    """Take all the free space of `folder`'s file system but `leave` bytes."""
    stat = os.statvfs(folder)
    free = stat.f_bavail * stat.f_frsize - leave
    with open(folder / "filler", "wb") as out:
        while free > 0:
            chunk = min(free, 1 << 20)
            try:
                out.write(b"\0" * chunk)
            except OSError:
                break
            free -= chunk


def _state(settings: Settings):
    """(bronze row counts per year, every Parquet file under the data path the catalog does not hold)."""
    con = connect(settings, read_only=True, check_files=False)
    try:
        counts = con.execute("SELECT year, count(*) FROM bronze.accidents GROUP BY 1 ORDER BY 1").fetchall()
        known = {f.path for f in live_files(con, every_snapshot=True)}
    finally:
        con.close()
    on_disk = {str(p) for p in Path(settings.resolved_data_path).rglob("*.parquet")}
    return counts, sorted(on_disk - known)


def _one_line(capsys, argv) -> str:
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: ") and "Traceback" not in err, err
    return err


@pytest.fixture
def sources(tmp_path):
    write_year(tmp_path / "small", 2021, accidents_for(2021, 20))
    write_year(tmp_path / "big", 2022, accidents_for(2022, 20_000))
    return tmp_path


def _lake_holding_2021(monkeypatch, home: Path, data_path: Path, sources: Path) -> Settings:
    """A lake whose catalog is under `home` and files under `data_path`, holding the small 2021."""
    monkeypatch.setenv("ACCIDENTS_DATA_DIR", str(home))
    monkeypatch.setenv("ACCIDENTS_DATA_PATH", str(data_path) + "/")
    assert main(["ingest", "--source", str(sources / "small"), "--years", "2021"]) == 0
    return Settings.from_env()


def test_disk_full_while_writing_data_files(tmpfs, sources, tmp_path, monkeypatch, capsys):
    data = tmpfs(tmp_path / "data-fs", "4m")
    settings = _lake_holding_2021(monkeypatch, tmp_path / "home", data, sources)
    before = _state(settings)
    _fill(data, leave=200_000)
    err = _one_line(capsys, ["ingest", "--source", str(sources / "big"), "--years", "2022"])
    assert err.startswith(f"error: the lake's storage failed ({data}/): ") and "No space left on device" in err
    assert _state(settings) == before == ([(2021, 20)], [])  # previous snapshot, no partial file
    (data / "filler").unlink()
    assert main(["ingest", "--source", str(sources / "big"), "--years", "2022"]) == 0  # space again: it goes in
    counts, partial = _state(settings)
    assert counts[0] == (2021, 20) and counts[1][0] == 2022 and counts[1][1] > 1000 and not partial


def test_disk_full_while_the_catalog_commits(tmpfs, sources, tmp_path, monkeypatch, capsys):
    home = tmpfs(tmp_path / "catalog-fs", "2m")
    settings = _lake_holding_2021(monkeypatch, home, tmp_path / "files", sources)
    before = _state(settings)
    _fill(home, leave=0)
    err = _one_line(capsys, ["ingest", "--source", str(sources / "big"), "--years", "2022"])
    assert "database or disk is full" in err and str(home / "lake" / "catalog.sqlite") in err, err
    (home / "filler").unlink()
    assert _state(settings) == before == ([(2021, 20)], [])


def test_read_only_file_system(tmpfs, sources, tmp_path, monkeypatch, capsys):
    data = tmpfs(tmp_path / "data-fs", "8m")
    settings = _lake_holding_2021(monkeypatch, tmp_path / "home", data, sources)
    subprocess.run(["mount", "-o", "remount,ro", str(data)], check=True)
    err = _one_line(capsys, ["ingest", "--source", str(sources / "big"), "--years", "2022"])
    assert err.startswith(f"error: the lake's storage failed ({data}/): ") and "Read-only file system" in err, err
    subprocess.run(["mount", "-o", "remount,rw", str(data)], check=True)
    assert _state(settings) == ([(2021, 20)], [])
