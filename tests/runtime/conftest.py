"""Fixtures for the runtime tests."""

from __future__ import annotations

import socket

import pytest


@pytest.fixture
def udp_port() -> int:
    """A UDP port on 127.0.0.1 that nothing listens on (for live-stream URLs)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
