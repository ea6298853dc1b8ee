"""Bounded scoring of days that are not stored, so that a burst of such requests cannot starve the API.

Scoring a day takes about a second of CPU. It runs in a thread pool of its own with `slots` threads
(never on the event loop, never in the pool the other routes use), so `/healthz`, `/readyz` and
requests for stored days keep being answered. Requests for a day already being scored share that one
computation. A request that finds every slot taken waits up to `wait_seconds` for one, then gets
`Busy` (HTTP 503 with `Retry-After`): a queue of CPU work the machine cannot keep up with is refused
early rather than left to time out.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pipeline.core.errors import AccidentsError


class Busy(AccidentsError):
    """Every scoring slot is taken: try again after `retry_after` seconds."""

    def __init__(self, retry_after: int, slots: int):
        super().__init__(f"busy: {slots} day(s) already being scored; retry in {retry_after} s")
        self.retry_after = retry_after


class ComputeGate:
    def __init__(self, slots: int, wait_seconds: float):
        self.slots, self.wait_seconds = slots, wait_seconds
        self._executor = ThreadPoolExecutor(max_workers=slots, thread_name_prefix="score-day")
        self._semaphore: asyncio.Semaphore | None = None  # made on the serving loop, at first use
        self._inflight: dict[Hashable, asyncio.Future] = {}
        self._recent_seconds = 1.0  # how long a day took to score lately: the Retry-After hint

    async def run(self, key: Hashable, fn: Callable[..., Any], *args: Any) -> Any:
        """fn(*args) in a scoring thread, once per `key` at a time; Busy when no slot frees in time."""
        if key in self._inflight:
            return await asyncio.shield(self._inflight[key])
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.slots)
        try:
            await asyncio.wait_for(self._semaphore.acquire(), timeout=self.wait_seconds)
        except TimeoutError:
            raise Busy(max(1, math.ceil(self._recent_seconds)), self.slots) from None
        if key in self._inflight:  # another request started it while this one waited
            self._semaphore.release()
            return await asyncio.shield(self._inflight[key])
        started = time.perf_counter()
        future = asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)
        self._inflight[key] = future
        try:
            return await asyncio.shield(future)
        finally:
            if future.done():
                self._finish(key, started)
            else:  # this request was cancelled (client gone): the slot frees when the work ends
                future.add_done_callback(lambda _: self._finish(key, started))

    def _finish(self, key: Hashable, started: float) -> None:
        if self._inflight.pop(key, None) is not None:
            self._recent_seconds = 0.7 * self._recent_seconds + 0.3 * (time.perf_counter() - started)
            self._semaphore.release()

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
