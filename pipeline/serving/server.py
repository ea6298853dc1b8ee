"""The HTTP server of the risk API: uvicorn with one more guard, a deadline for a request's headers.

uvicorn closes idle keep-alive connections, but a connection that opens and never finishes its
request line and headers (sent slowly, a byte at a time, or not at all) is held forever: enough of
them exhaust the process's file descriptors (a "slow headers" attack). `HeaderTimeoutProtocol`
closes a connection whose headers are not complete `header_timeout_seconds` after it opened, or
after the first byte of its next request.
"""

from __future__ import annotations

import logging

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from pipeline.serving.config import options_from_env

log = logging.getLogger("accidents.serving")
PROTOCOL = "pipeline.serving.server:HeaderTimeoutProtocol"  # for uvicorn workers, which import it


class HeaderTimeoutProtocol(HttpToolsProtocol):
    header_timeout: float | None = None  # None: ServeOptions from the environment (a worker process)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.header_timeout is None:
            type(self).header_timeout = options_from_env().header_timeout_seconds
        self._header_timer = None

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout, self._expire)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _expire(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            log.info("closed a connection from %s: no complete request headers within %gs",
                     self.client[0] if self.client else "?", self.header_timeout)
            self.transport.close()


def with_header_timeout(seconds: float) -> type[HeaderTimeoutProtocol]:
    """The protocol class with its deadline fixed (a server run inside this process, e.g. in tests)."""
    return type("HeaderTimeoutProtocol", (HeaderTimeoutProtocol,), {"header_timeout": seconds})
