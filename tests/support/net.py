"""Loopback networking for tests."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A loopback TCP port free a moment ago: nothing listens there until a test starts a server on it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
