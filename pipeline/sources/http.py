"""HTTP helpers: GET with timeouts and retries, and a streaming, hashed, atomic download to a file.

Transient failures (connection refused/reset, DNS failure, timeout, truncated body, HTTP 5xx and
429) are retried with exponential backoff; when every attempt failed, `UnreachableError` says why in
one line. Other HTTP errors (404...) are returned to the caller, which knows what they mean.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import requests
from tqdm import tqdm

from pipeline.core.errors import AccidentsError

T = TypeVar("T")

CHUNK_SIZE = 1 << 20
MAX_RETRY_AFTER = 30.0  # seconds; never let a server's Retry-After stall a run for longer
_TRANSIENT = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)


class UnreachableError(AccidentsError):
    """Every attempt to reach `url` failed for a transient reason."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"cannot reach {url}: {reason}")


class ChecksumMismatch(AccidentsError):
    pass


class _RetryableStatus(Exception):
    def __init__(self, response: requests.Response) -> None:
        super().__init__(f"HTTP {response.status_code} {response.reason or ''}".strip())
        self.retry_after = _retry_after_seconds(response)


def _retry_after_seconds(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        return min(float(value), MAX_RETRY_AFTER)
    except ValueError:
        return None  # absent, or an HTTP date: fall back to our own backoff


def short_reason(exc: BaseException, timeout: float) -> str:
    """A one-line reason from requests' nested exception text ('Connection refused', ...)."""
    if isinstance(exc, requests.Timeout):
        return f"timed out after {timeout:g} s"
    text = str(exc)
    if "NameResolutionError" in text or "Name or service not known" in text or "getaddrinfo" in text:
        return "DNS lookup failed"
    errno_message = re.search(r"\[Errno -?\d+\] ([^'\")]+)", text)
    if errno_message:
        return errno_message.group(1).strip()
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "connection broken during transfer"
    return " ".join(text.split())[:200] or type(exc).__name__


def call_with_retries(
    url: str, attempt: Callable[[], T], *, timeout: float, retries: int, backoff: float
) -> T:
    """Run `attempt` up to 1 + `retries` times, sleeping backoff * 2**n between tries."""
    reason = "no attempt made"
    for n in range(retries + 1):
        wait = backoff * (2**n)
        try:
            return attempt()
        except _RetryableStatus as exc:
            reason = str(exc)
            wait = max(wait, exc.retry_after or 0.0)
        except _TRANSIENT as exc:
            reason = short_reason(exc, timeout)
        if n < retries:
            time.sleep(wait)
    raise UnreachableError(url, reason)


def _checked(response: requests.Response) -> requests.Response:
    if response.status_code >= 500 or response.status_code == 429:
        response.close()
        raise _RetryableStatus(response)
    return response


def get(
    session: requests.Session, url: str, *, timeout: float, retries: int, backoff: float
) -> requests.Response:
    """GET `url` (body read), retrying transient failures; any non-transient status is returned."""
    return call_with_retries(
        url,
        lambda: _checked(session.get(url, timeout=timeout)),
        timeout=timeout,
        retries=retries,
        backoff=backoff,
    )


@dataclass(frozen=True)
class Downloaded:
    path: Path
    size: int
    sha256: str


def _stream_once(
    session: requests.Session,
    url: str,
    dest: Path,
    *,
    timeout: float,
    expected: tuple[str, str] | None,
    total: int | None,
    progress: bool,
) -> tuple[Path, int, str, str | None]:
    with _checked(session.get(url, timeout=timeout, stream=True)) as response:
        if response.status_code >= 400:
            raise AccidentsError(f"download of {url} failed: HTTP {response.status_code} {response.reason}")
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else total
        sha256 = hashlib.sha256()
        other = hashlib.new(expected[0]) if expected and expected[0] != "sha256" else None
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
        tmp = Path(tmp_name)
        size = 0
        try:
            with (
                os.fdopen(fd, "wb") as out,
                tqdm(
                    total=total,
                    desc=dest.name,
                    unit="B",
                    unit_scale=True,
                    unit_divisor=1024,
                    file=sys.stderr,
                    disable=not progress,
                    leave=False,
                ) as bar,
            ):
                for chunk in response.iter_content(chunk_size=CHUNK_SIZE):
                    out.write(chunk)
                    sha256.update(chunk)
                    if other is not None:
                        other.update(chunk)
                    size += len(chunk)
                    bar.update(len(chunk))
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    return tmp, size, sha256.hexdigest(), other.hexdigest() if other is not None else None


def download(
    session: requests.Session,
    url: str,
    dest: Path,
    *,
    timeout: float,
    retries: int,
    backoff: float,
    expected: tuple[str, str] | None = None,
    total: int | None = None,
    progress: bool = True,
) -> Downloaded:
    """Stream `url` into `dest` atomically (temp file + rename), hashing while writing.

    `expected` = (hashlib algorithm, hex digest): on mismatch the file is deleted and
    ChecksumMismatch raised. `total` sizes the progress bar when the server sends no Content-Length.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp, size, sha256, other = call_with_retries(
        url,
        lambda: _stream_once(
            session, url, dest, timeout=timeout, expected=expected, total=total, progress=progress
        ),
        timeout=timeout,
        retries=retries,
        backoff=backoff,
    )
    if expected is not None:
        algorithm, want = expected
        got = sha256 if algorithm == "sha256" else other
        if got != want.lower():
            tmp.unlink(missing_ok=True)
            raise ChecksumMismatch(
                f"{dest.name} downloaded from {url}: {algorithm} checksum {got} does not match the "
                f"published {want.lower()} (file discarded; retry later or report it to the publisher)"
            )
    os.replace(tmp, dest)
    return Downloaded(dest, size, sha256)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK_SIZE), b""):
            digest.update(chunk)
    return digest.hexdigest()
