"""The API's options and request-parameter rules: `ServeOptions` (one object, from the CLI or the
environment of a uvicorn worker), and the parsing of `time` and `atm` into what the service reads."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from pipeline.core.errors import AccidentsError
from pipeline.gold.scenarios import validate_atm


class ParameterError(AccidentsError):
    """A request parameter the API cannot answer for; `status` 422 (invalid) or 404 (nothing there)."""

    def __init__(self, parameter: str, message: str, status: int = 422):
        super().__init__(f"{parameter}: {message}")
        self.parameter, self.status = parameter, status


@dataclass(frozen=True)
class ServeOptions:
    radius_km: float = 2.0  # farther than this from every road point: an error, not a guess
    refresh_seconds: float = 30.0  # how often the lake snapshot and the champion alias are checked
    max_cached_days: int = 64  # day grids kept in memory (least recently used dropped first)
    # Days not in gold.predictions are scored off the event loop, this many at once; a request that
    # finds every slot taken waits `compute_wait_seconds` for one, then gets 503 with Retry-After.
    compute_slots: int = 1
    compute_wait_seconds: float = 2.0
    # A connection must send a request's headers within this time (slow or incomplete requests).
    header_timeout_seconds: float = 10.0

    def __post_init__(self) -> None:
        if not self.radius_km > 0:
            raise AccidentsError(f"--radius-km {self.radius_km}: expected a positive distance")
        if not self.refresh_seconds > 0:
            raise AccidentsError(f"--refresh-seconds {self.refresh_seconds}: expected a positive number")
        if self.max_cached_days < 1:
            raise AccidentsError(f"--max-cached-days {self.max_cached_days}: expected at least 1")
        if not 1 <= self.compute_slots <= 64:
            raise AccidentsError(f"--compute-slots {self.compute_slots}: expected 1..64")
        if not 0 <= self.compute_wait_seconds <= 600:
            raise AccidentsError(f"--compute-wait-seconds {self.compute_wait_seconds}: expected 0..600")
        if not 0 < self.header_timeout_seconds <= 600:
            raise AccidentsError(f"--header-timeout {self.header_timeout_seconds}: expected a number of "
                                 "seconds in (0, 600]")


def parse_time(text: str | None, timezone: str, *, now: dt.datetime | None = None) -> tuple[dt.date, int]:
    """(local date, hour) of an ISO date-time in the département's `timezone` (that of gold.predictions):
    naive times are local, others are converted. None means the current local hour."""
    tz = ZoneInfo(timezone)
    if text is None:
        moment = (now or dt.datetime.now(tz)).astimezone(tz)
    else:
        try:
            moment = dt.datetime.fromisoformat(text.strip())
            if moment.tzinfo is not None:
                moment = moment.astimezone(tz)
        except (ValueError, OverflowError):
            raise ParameterError("time", f"{text!r} is not an ISO date-time (e.g. 2026-03-02T17:30)") from None
    return moment.date(), moment.hour


def parse_atm(value: str | int) -> int:
    try:
        return validate_atm(value)
    except AccidentsError as exc:
        raise ParameterError("atm", f"{value!r}: {str(exc).split(': ', 1)[-1]}") from None
