"""Fixtures for the audio tests: a private PulseAudio daemon with a null sink (session-scoped), for playing
through a real audio server.

The daemon gets its own HOME and XDG_RUNTIME_DIR (temp dirs) so it never touches a user's session,
loads only the native protocol and a null sink, and is stopped through its pid file. sounddevice
(PortAudio) reads the server location when it initialises, so it is re-initialised after the
environment is set and again after it is restored.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

SINK = "ego360_null"


@dataclass(frozen=True)
class PulseServer:
    env: dict[str, str]  # HOME, XDG_RUNTIME_DIR, PULSE_SERVER of the private daemon (for its tools)
    sink: str
    log: Path

    def record(self, path: Path, rate: int) -> subprocess.Popen:
        """Start capturing the null sink's monitor as raw s16le stereo into `path`."""
        cmd = ["parec", "-d", f"{self.sink}.monitor", "--format=s16le", f"--rate={rate}", "--channels=2", "--raw"]
        with open(path, "wb") as fh:
            return subprocess.Popen(cmd, stdout=fh, stderr=subprocess.DEVNULL, env={**os.environ, **self.env})

    @staticmethod
    def read_recording(path: Path) -> np.ndarray:
        """What `record` captured, as float32 stereo samples in [-1, 1)."""
        return np.fromfile(path, dtype="<i2").reshape(-1, 2).astype(np.float32) / 32768.0


def _require_or_skip(reason: str) -> None:
    if os.environ.get("EGO360_REQUIRE_AUDIO") == "1":
        pytest.fail(f"{reason} but EGO360_REQUIRE_AUDIO=1")
    pytest.skip(reason)


def _reinit_sounddevice() -> None:
    try:
        import sounddevice as sd
    except (ImportError, OSError):
        return
    sd._terminate()
    sd._initialize()


def _stop(pid_file: Path) -> None:
    try:
        pid = int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    for _ in range(50):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)


def _wait_ready(env: dict[str, str], log: Path) -> None:
    for _ in range(100):
        ok = subprocess.run(["pactl", "info"], env={**os.environ, **env}, capture_output=True, timeout=10)
        if ok.returncode == 0:
            return
        time.sleep(0.05)
    pytest.fail(f"PulseAudio did not come up; log: {log.read_text()[-2000:] if log.exists() else '(none)'}")


@pytest.fixture(scope="session")
def pulse_server() -> Iterator[PulseServer]:
    """The daemon for the whole session. Skips when PulseAudio is missing or fails to start, except under
    EGO360_REQUIRE_AUDIO=1 (set by .ci/run), where that fails the test: CI must really play audio."""
    for tool in ("pulseaudio", "pactl", "parec"):
        if shutil.which(tool) is None:
            _require_or_skip(f"{tool} not installed (apt install pulseaudio pulseaudio-utils)")
    root = Path(tempfile.mkdtemp(prefix="ego360-pulse-"))
    home, run = root / "home", root / "run"
    home.mkdir()
    run.mkdir(mode=0o700)
    script, log = root / "default.pa", root / "pulse.log"
    script.write_text(
        "load-module module-native-protocol-unix auth-anonymous=1\n"
        f"load-module module-null-sink sink_name={SINK} channels=2\n"
        f"set-default-sink {SINK}\n"
        f"set-default-source {SINK}.monitor\n"
    )
    env = {"HOME": str(home), "XDG_RUNTIME_DIR": str(run), "PULSE_SERVER": f"unix:{run}/pulse/native"}
    cmd = [
        "pulseaudio",
        "-n",
        "-F",
        str(script),
        "--daemonize=yes",
        "--exit-idle-time=-1",
        "--system=false",
        "--disallow-exit",
        "--disable-shm=yes",
        f"--log-target=file:{log}",
        "-vvv",
    ]
    started = subprocess.run(cmd, env={**os.environ, **env}, capture_output=True, text=True, timeout=30)
    if started.returncode != 0:
        _require_or_skip(f"pulseaudio failed to start: {started.stderr.strip()[-500:]}")
    # Only PULSE_SERVER goes into this process's environment: a changed HOME would leak into every
    # later test of the session; libpulse needs no cookie with auth-anonymous=1.
    saved = {"PULSE_SERVER": os.environ.get("PULSE_SERVER")}
    try:
        _wait_ready(env, log)
        os.environ["PULSE_SERVER"] = env["PULSE_SERVER"]
        _reinit_sounddevice()
        yield PulseServer(env=env, sink=SINK, log=log)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        _stop(run / "pulse" / "pid")
        _reinit_sounddevice()
        shutil.rmtree(root, ignore_errors=True)
