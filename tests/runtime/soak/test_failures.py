"""Failures in the middle of a run (issue 14 item 6), injected: a full disk under events.jsonl, the annotated
video and alerts.wav, and a sound device that goes away. Each is reported once (one log line, one
summary entry) and alerts keep being spoken; a signal ends a run with its outputs finalised."""

from __future__ import annotations

import errno
import logging
import os
import signal
import threading
import time
import wave

import numpy as np
import pytest

from ego360.core.config import AudioConfig, load_config
from ego360.core.geometry import Mounting
from ego360.runtime.audio.sinks import FileSink, open_sink
from ego360.runtime.pipeline import OverflowPolicy, Runner, stop_on_signals
from ego360.runtime.services.annotated_video import AnnotatedVideo
from ego360.runtime.services.events_log import EventLog, read_events

SR = 16000


def _enospc() -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


class _FullAfter:
    """A text file that takes `lines` writes, then raises ENOSPC (what a full disk does)."""

    def __init__(self, fh, lines: int) -> None:
        self.fh, self.left = fh, lines

    def write(self, text: str) -> int:
        if self.left <= 0:
            raise _enospc()
        self.left -= 1
        return self.fh.write(text)

    def __getattr__(self, name):
        return getattr(self.fh, name)


class _RecordingDevice:
    """A sound device that records what it was asked to play; raises once `fail_after` sounds played."""

    def __init__(self, fail_after: int | None = None) -> None:
        self.played: list[float] = []
        self.fail_after = fail_after
        self.closed = False

    def play(self, stereo, video_t, priority, after=None, queue=False) -> int:
        if self.fail_after is not None and len(self.played) >= self.fail_after:
            raise OSError("PortAudio: device unavailable")
        self.played.append(video_t)
        return len(self.played)

    def interrupt(self, below_priority, video_t) -> int:
        return 0

    def close(self) -> None:
        self.closed = True


def _errors(caplog, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR and text in r.getMessage()]


def test_event_log_stops_once_on_a_full_disk(tmp_path, caplog):
    log = EventLog(tmp_path / "events.jsonl")
    log._fh = _FullAfter(log._fh, 3)
    for i in range(10):
        log.frame(i, i / 30, 0.0)  # never raises into the stage
    log.close()
    assert len(read_events(tmp_path / "events.jsonl")) == 3  # whole lines only
    assert log.failed is not None and "No space" in log.failed and log.lost == 7
    assert len(_errors(caplog, "event log stops")) == 1


def test_file_sink_stops_the_wav_once_and_keeps_taking_sounds(tmp_path, caplog, monkeypatch):
    sink = FileSink(tmp_path / "alerts.wav", SR, horizon_s=1.0)
    tone = np.full((SR // 10, 2), 0.25, np.float32)
    calls = {"n": 0}
    real = wave.Wave_write.writeframesraw

    def flaky(self, data):
        calls["n"] += 1
        if calls["n"] > 1:
            raise _enospc()
        return real(self, data)

    monkeypatch.setattr(wave.Wave_write, "writeframesraw", flaky)
    for t in (0.0, 2.0, 4.0, 6.0, 8.0):
        sink.play(tone, t, 1)
    sink.close()
    assert sink.failed is not None and "No space" in sink.failed
    assert len(_errors(caplog, "the WAV stops here")) == 1
    with wave.open(str(tmp_path / "alerts.wav")) as w:  # what was written before is a valid WAV
        assert w.getnframes() == SR  # the first flush: everything older than 1 s before t=2


def test_file_sink_streams_behind_its_horizon(tmp_path):
    """A long run keeps at most a horizon of audio in memory; the WAV still has every sound in place."""
    sink = FileSink(tmp_path / "alerts.wav", SR, horizon_s=2.0)
    tone = np.full((SR // 10, 2), 0.5, np.float32)
    for t in range(0, 60, 3):
        sink.play(tone, float(t), 1)
        assert len(sink._tl.voices) <= 2  # sounds older than the horizon are on disk, not in memory
    sink.close()
    with wave.open(str(tmp_path / "alerts.wav")) as w:
        x = np.frombuffer(w.readframes(w.getnframes()), "<i2").reshape(-1, 2)
    onsets = np.flatnonzero(np.diff((np.abs(x[:, 0]) > 1000).astype(int)) == 1) + 1
    assert list(onsets) == [round(t * SR) for t in range(3, 60, 3)]  # t=0's onset is sample 0
    assert abs(x[0, 0]) > 1000


def test_device_gone_mid_run_falls_back_to_the_file_once(tmp_path, caplog):
    device = _RecordingDevice(fail_after=2)
    out = open_sink(AudioConfig(sink="auto", sample_rate=SR), tmp_path / "alerts.wav",
                    device_factory=lambda sr, dev: device)
    tone = np.full((SR // 20, 2), 0.3, np.float32)
    handles = [out.play(tone, float(t), 2) for t in range(6)]
    out.interrupt(3, 6.5)
    out.close()
    assert device.played == [0.0, 1.0] and device.closed
    assert all(len(h) == 2 for h in handles)  # one voice id per sink, still
    assert out.device_lost is not None and "unavailable" in out.device_lost
    assert len(_errors(caplog, "audio device gone")) == 1
    with wave.open(str(tmp_path / "alerts.wav")) as w:  # every sound reached the file, before and after
        x = np.frombuffer(w.readframes(w.getnframes()), "<i2").reshape(-1, 2)
    onsets = np.flatnonzero(np.diff((np.abs(x[:, 0]) > 1000).astype(int)) == 1) + 1
    assert list(onsets) == [t * SR for t in range(1, 6)]


def test_a_full_disk_mid_run_is_reported_once_and_alerts_go_on(tmp_path, caplog, monkeypatch):
    """events.jsonl and annotated.mp4 fail after a few frames, before the first alert: the alert is still
    decided and played on the device, each failure is one log line and one summary entry, no half-written
    video is left behind."""
    from ego360.runtime.audio.speaker import Speaker
    from ego360.runtime.session import run_session
    from ego360.tools.scenario.source import ScenarioSource

    real_init, real_write = EventLog.__init__, AnnotatedVideo._write

    def full_log(self, path, **kw):
        real_init(self, path, **kw)
        self._fh = _FullAfter(self._fh, 10)

    def full_video(self, *args, **kw):
        if self.frames >= 5:
            raise _enospc()
        return real_write(self, *args, **kw)

    monkeypatch.setattr(EventLog, "__init__", full_log)
    monkeypatch.setattr(AnnotatedVideo, "_write", full_video)
    cfg = load_config(None, ["runner.process_every=2", "output.annotated_video=true", "audio.sink=auto"])
    device = _RecordingDevice()
    speaker = Speaker(cfg.audio, cfg.tts, open_sink(cfg.audio, tmp_path / "alerts.wav",
                                                    device_factory=lambda sr, dev: device))
    result = run_session(cfg, ScenarioSource("stealing", width=960, height=480, seed=0), tmp_path, Mounting(),
                         speaker=speaker)
    assert result.alerts and device.played  # decided and played although nothing could be logged
    failures = result.summary["output_failures"]
    assert set(failures) == {"events", "annotated_video"} and all("No space" in v for v in failures.values())
    assert len(_errors(caplog, "event log stops")) == 1
    assert len(_errors(caplog, "annotated video stops")) == 1
    assert len(read_events(tmp_path / "events.jsonl")) == 10
    assert not (tmp_path / "annotated.mp4").exists() and not list(tmp_path.glob("*.video-only.*"))
    with wave.open(str(tmp_path / "alerts.wav")) as w:
        assert w.getnframes() > 0  # the WAV, on another disk say, is complete


def _endless():
    i = 0
    while True:
        time.sleep(0.01)
        yield i
        i += 1


class _Count:
    name = "count"

    def __init__(self) -> None:
        self.n = 0

    def process(self, item):
        self.n += 1
        return item


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_the_runner_and_restores_the_handlers(sig):
    stage = _Count()
    runner = Runner(_endless(), [(stage, OverflowPolicy.DROP_OLDEST)])
    closed = threading.Event()
    before = signal.getsignal(sig)
    threading.Timer(0.5, os.kill, (os.getpid(), sig)).start()
    with stop_on_signals(runner, closed.set) as stopped:
        stats = runner.run()  # returns instead of the process dying (SIGTERM) or KeyboardInterrupt (SIGINT)
    assert stopped["signal"] == signal.Signals(sig).name
    assert closed.wait(2.0)
    assert stats.frames_read >= 10 and stage.n == stats.frames_processed
    assert signal.getsignal(sig) is before
