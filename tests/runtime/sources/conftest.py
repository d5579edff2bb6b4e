"""Fixtures for the source tests: tiny clips written with the ffmpeg CLI, a UDP test-pattern sender and
a background reader, so the live tests can kill and restart a stream while a source is read."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

FFMPEG = shutil.which("ffmpeg") or "/usr/bin/ffmpeg"


def _make_clip(path: Path, *, codec: str = "libx264", size: str = "256x128", frames: int = 30,
              color: str = "red", rate: int = 30) -> Path:
    """A solid-colour clip; yuv420p so every decoder (and PyAV's rgb24 conversion) handles it."""
    cmd = [FFMPEG, "-v", "error", "-y", "-f", "lavfi", "-i", f"color=c={color}:size={size}:rate={rate}",
           "-frames:v", str(frames), "-c:v", codec, "-pix_fmt", "yuv420p", str(path)]
    subprocess.run(cmd, check=True, timeout=60, stdin=subprocess.DEVNULL)
    return path


class UdpSender:
    """`ffmpeg -re` test pattern as MPEG-TS over UDP; start/stop it to simulate a camera dropping out."""

    def __init__(self, port: int, size: str = "256x128", rate: int = 30):
        self.port, self.size, self.rate = port, size, rate
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        # overrun_nonfatal/fifo_size: a slow reader on a loaded machine drops packets instead of failing.
        return f"udp://127.0.0.1:{self.port}?overrun_nonfatal=1&fifo_size=1000000"

    def start(self) -> UdpSender:
        cmd = [FFMPEG, "-v", "error", "-re", "-f", "lavfi", "-i", f"testsrc=size={self.size}:rate={self.rate}",
               "-c:v", "mpeg4", "-g", "10", "-f", "mpegts", f"udp://127.0.0.1:{self.port}?pkt_size=1316"]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        return self

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)

    def __enter__(self) -> UdpSender:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


class Reader:
    """Iterates a source on a thread and keeps every packet, so a test can poll while it streams."""

    def __init__(self, source):
        self.source = source
        self.packets: list = []
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            for packet in self.source:
                self.packets.append(packet)
        except BaseException as exc:  # noqa: BLE001 - surfaced to the test by `join`
            self.error = exc

    def start(self) -> Reader:
        self.thread.start()
        return self

    def join(self, timeout: float) -> bool:
        """True when the iteration ended within `timeout`; re-raises what the iterator raised."""
        self.thread.join(timeout)
        if self.error is not None:
            raise self.error
        return not self.thread.is_alive()


def _wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    """Poll instead of sleeping a fixed time: fast when the machine is idle, patient when loaded."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


@pytest.fixture(scope="session")
def make_clip() -> Callable[..., Path]:
    """`make_clip(path, codec="libx264", size="256x128", frames=30, color="red", rate=30)` → path."""
    return _make_clip


@pytest.fixture
def udp_sender(udp_port: int) -> Iterator[UdpSender]:
    """A not yet started test-pattern sender on a free port; stopped after the test whatever happens."""
    sender = UdpSender(udp_port)
    yield sender
    sender.stop()


@pytest.fixture
def read_in_background() -> Callable[[object], Reader]:
    """`read_in_background(source)` → a started Reader that keeps every packet the source yields."""
    return lambda source: Reader(source).start()


@pytest.fixture(scope="session")
def wait_until() -> Callable[..., bool]:
    """`wait_until(predicate, timeout, interval=0.05)` → the predicate's last value."""
    return _wait_until
