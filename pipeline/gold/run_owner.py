"""Which MLflow runs left RUNNING are dead: every run this project opens is tagged with the process that
owns it, so a later training or `accidents lake maintain` can mark FAILED the runs of killed processes
without touching those of a training still running elsewhere.

A RUNNING run is dead when
- its owner ran on this machine (same host name, boot and PID namespace) and that process is gone, or
  its PID now belongs to a process started at another time (PID reuse): known at once, whatever the age;
- otherwise (another machine or pod, or a run without owner tags) only when it started before a cutoff.
  Training opens its MLflow run only to log fitted models (seconds to minutes), so a run RUNNING for
  hours has no live owner.
A run whose owner is alive on this machine is never marked, however old.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from pipeline.core.errors import AccidentsError
from pipeline.gold.registry import configure_mlflow, display_uri, is_unreachable, unreachable_error

HOST_TAG, MACHINE_TAG, PID_TAG, STARTED_TAG = ("accidents.owner.host", "accidents.owner.machine",
                                               "accidents.owner.pid", "accidents.owner.started")


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


def _machine() -> str:
    """Boot id and PID namespace: PIDs are comparable only within both (not across reboots or
    containers that share a host name)."""
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        namespace = ""
    return f"{_read('/proc/sys/kernel/random/boot_id')}|{namespace}"


def _start_ticks(pid: int) -> str:
    """The process's start time in clock ticks since boot ('' where /proc is absent or pid is gone)."""
    stat = _read(f"/proc/{pid}/stat")
    # the command name (field 2) may hold spaces and parentheses: split after its closing one
    fields = stat.rpartition(")")[2].split()
    return fields[19] if len(fields) > 19 else ""


def owner_tags() -> dict[str, str]:
    """Tags naming this process, set on every MLflow run it opens."""
    pid = os.getpid()
    return {HOST_TAG: socket.gethostname(), MACHINE_TAG: _machine(), PID_TAG: str(pid),
            STARTED_TAG: _start_ticks(pid)}


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by another user
    return True


@dataclass(frozen=True)
class Owner:
    host: str
    machine: str
    pid: int
    started: str

    @classmethod
    def from_tags(cls, tags: dict[str, str]) -> Owner | None:
        try:
            return cls(tags[HOST_TAG], tags[MACHINE_TAG], int(tags[PID_TAG]), tags[STARTED_TAG])
        except (KeyError, ValueError):
            return None

    def checkable_here(self) -> bool:
        return self.host == socket.gethostname() and self.machine == _machine()

    def alive(self) -> bool:
        """Only meaningful when `checkable_here()`."""
        if not self.started:  # no /proc where it ran: the PID alone
            return _pid_exists(self.pid)
        return _start_ticks(self.pid) == self.started


def is_dead(tags: dict[str, str], start_time_ms: int, cutoff_ms: int) -> bool:
    owner = Owner.from_tags(tags)
    if owner is not None and owner.checkable_here():
        return not owner.alive()
    return start_time_ms < cutoff_ms


def fail_dead_runs(tracking_uri: str, *, older_than: dt.datetime) -> int:
    """Mark FAILED every RUNNING run of the store whose owner is dead (see the module's rule), with
    `older_than` the cutoff for runs whose owner cannot be checked. Returns how many were marked."""
    if tracking_uri.startswith("sqlite:///") and not Path(tracking_uri.removeprefix("sqlite:///")).exists():
        return 0  # no model trained yet: do not create an empty store
    import mlflow

    configure_mlflow(tracking_uri)
    client = mlflow.MlflowClient(tracking_uri)
    try:
        experiment_ids = [e.experiment_id for e in client.search_experiments()]
    except Exception as exc:
        if is_unreachable(exc):
            raise unreachable_error(tracking_uri, exc) from None
        raise AccidentsError(f"MLflow at {display_uri(tracking_uri)} could not list its experiments: "
                             f"{type(exc).__name__}") from None
    if not experiment_ids:
        return 0
    cutoff_ms = int(older_than.timestamp() * 1000)
    running = client.search_runs(experiment_ids, filter_string="attributes.status = 'RUNNING'", max_results=50_000)
    dead = [run for run in running if is_dead(run.data.tags, run.info.start_time, cutoff_ms)]
    for run in dead:
        client.set_terminated(run.info.run_id, status="FAILED")
    return len(dead)
