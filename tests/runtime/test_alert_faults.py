"""Fault tests of the whole loop: a dying source, a failing TTS engine, no audio device, a killed stream.

In each case the run goes on (or ends cleanly), alerts still reach events.jsonl, and the file sink
still writes alerts.wav with the earcon in it.
"""

from __future__ import annotations

import subprocess
import wave

import numpy as np
import pytest

from ego360.core.config import load_config
from ego360.core.geometry import Mounting
from ego360.runtime.services.events_log import read_events
from ego360.runtime.session import run_session

SCENE = {"width": 960, "height": 480, "seed": 0}


class _RaisingEngine:
    def synth_to_file(self, text: str, path: str, rate_wpm: int, voice: str) -> None:
        raise RuntimeError("espeak driver exploded")


def _no_device(sample_rate: int, device: str):
    raise OSError("no PortAudio output device")


def _source(name: str = "stealing"):
    from ego360.tools.scenario.source import ScenarioSource

    return ScenarioSource(name, **SCENE)


def _cfg(*extra: str):
    return load_config(None, ["runner.process_every=2", "output.annotated_video=false", *extra])


def _speaker(cfg, wav, engine_factory=None):
    from ego360.runtime.audio.sinks import open_sink
    from ego360.runtime.audio.speaker import Speaker

    return Speaker(cfg.audio, cfg.tts, open_sink(cfg.audio, wav, device_factory=_no_device),
                   engine_factory=engine_factory)


def _wav_peak(path) -> float:
    with wave.open(str(path)) as w:
        x = np.frombuffer(w.readframes(w.getnframes()), np.int16)
    return float(np.abs(x).max()) if x.size else 0.0


def _alerts(out):
    return [e for e in read_events(out / "events.jsonl") if e["type"] == "alert"]


def test_tts_engine_failing_keeps_alerts_and_earcons(tmp_path):
    cfg = _cfg()
    result = run_session(cfg, _source(), tmp_path, Mounting(0.0), speaker=_speaker(cfg, tmp_path / "alerts.wav",
                                                                                   lambda: _RaisingEngine()))
    assert _alerts(tmp_path), "no alert reached events.jsonl"
    assert _wav_peak(tmp_path / "alerts.wav") > 1000, "earcon missing from alerts.wav"
    assert result.summary["alerts"]["speaker"]["tts_failures"] >= 1


def test_no_audio_device_falls_back_to_file_sink(tmp_path, caplog):
    cfg = _cfg("audio.sink=auto")
    run_session(cfg, _source(), tmp_path, Mounting(0.0), speaker=_speaker(cfg, tmp_path / "alerts.wav"))
    assert _alerts(tmp_path)
    assert _wav_peak(tmp_path / "alerts.wav") > 1000
    assert sum("no audio output device" in r.getMessage() for r in caplog.records) == 1


class _DyingSource:
    """A camera that delivers `n` frames, then fails like an unplugged device."""

    def __init__(self, inner, n: int) -> None:
        self.inner, self.n, self.info = inner, n, inner.info

    def __iter__(self):
        for i, p in enumerate(self.inner):
            if i >= self.n:
                raise OSError("camera unplugged")
            yield p

    def close(self) -> None:
        self.inner.close()


def test_source_dying_mid_run_ends_cleanly_with_alerts(tmp_path):
    cfg = _cfg()
    result = run_session(cfg, _DyingSource(_source(), 150), tmp_path, Mounting(0.0),
                         speaker=_speaker(cfg, tmp_path / "alerts.wav"))
    assert "camera unplugged" in result.summary["source_error"]
    assert result.summary["frames_read"] == 150
    assert _alerts(tmp_path)
    assert read_events(tmp_path / "events.jsonl")[-1]["type"] == "summary"
    assert _wav_peak(tmp_path / "alerts.wav") > 1000


@pytest.mark.timeout(180)
def test_live_stream_killed_mid_run(tmp_path, udp_port):
    """ffmpeg streams a rendered scenario over UDP; killing it mid-run ends the live run cleanly."""
    from ego360.runtime.sources import open_source
    from ego360.tools.cli import main

    clip = tmp_path / "clip"
    assert main(["scenario", "stealing", "--out", str(clip), "--width", "960", "--height", "480"]) == 0
    url = f"udp://127.0.0.1:{udp_port}"
    sender = subprocess.Popen(["ffmpeg", "-loglevel", "error", "-re", "-i", str(clip / "clip.mp4"), "-c:v", "mpeg4",
                               "-q:v", "3", "-f", "mpegts", url], stdin=subprocess.DEVNULL)
    try:
        cfg = _cfg("source.read_timeout_ms=1500", "source.open_timeout_ms=5000", "source.reconnect_attempts=2",
                   "source.reconnect_backoff_s=0.2")
        source = open_source(url + "?overrun_nonfatal=1&fifo_size=500000", cfg.source, live=True)

        class _Killer:
            def __init__(self, inner):
                self.inner, self.info = inner, inner.info

            def __iter__(self):
                for p in self.inner:
                    if p.video_t > 4.5 and sender.poll() is None:
                        sender.kill()
                    yield p

            def close(self):
                self.inner.close()

        result = run_session(cfg, _Killer(source), tmp_path / "out", Mounting(0.0), live=True,
                             speaker=_speaker(cfg, tmp_path / "out" / "alerts.wav"))
    finally:
        sender.kill()
        sender.wait()
    s = result.summary
    assert s["frames_read"] > 60 and s["live"] is True
    assert read_events(tmp_path / "out" / "events.jsonl")[-1]["type"] == "summary"
    assert _alerts(tmp_path / "out"), "the stealing event was streamed before the kill but not alerted"
