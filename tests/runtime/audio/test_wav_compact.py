"""A live run's alerts.wav keeps every sound but not the hours of silence between them."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from ego360.core.config import AudioConfig
from ego360.runtime.audio.sinks import FileSink, open_sink

SR = 8000


def _sound(n: int, level: float) -> np.ndarray:
    return np.full((n, 2), level, np.float32)


def _read(path: Path) -> np.ndarray:
    with wave.open(str(path)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").reshape(-1, 2)


@pytest.mark.parametrize("horizon_s", [2.0, 100.0])  # silences cut across flushes, and in one flush at close
def test_compact_wav_keeps_every_sound_in_order_and_at_most_the_given_silence(tmp_path, horizon_s):
    sink = FileSink(tmp_path / "alerts.wav", SR, horizon_s=horizon_s, max_silence_s=0.5)
    starts = [0.2, 1.0, 9.0, 40.0, 40.7]  # gaps after each sound: 0.7, 7.9, 30.9, 0.6 s (sounds last 0.1 s)
    for k, t in enumerate(starts):
        sink.play(_sound(int(0.1 * SR), 0.1 * (k + 1)), t, 1)
    sink.close()
    x = _read(tmp_path / "alerts.wav")
    sounding = np.flatnonzero(x[:, 0])
    levels = np.round(x[sounding, 0] / 32767.0, 2)
    assert list(dict.fromkeys(levels)) == [0.1, 0.2, 0.3, 0.4, 0.5]  # all five, in order
    assert len(sounding) == 5 * int(0.1 * SR)  # and whole
    breaks = np.flatnonzero(np.diff(sounding) > 1)
    silences = (sounding[breaks + 1] - sounding[breaks] - 1) / SR
    assert silences == pytest.approx([0.5, 0.5, 0.5, 0.5])  # 0.7/7.9/30.9/0.6 s each kept 0.5 s
    assert sounding[0] / SR == pytest.approx(0.2)  # the lead-in (0.2 s) is shorter than the limit: kept
    assert sink.cut == int(round((0.2 + 7.4 + 30.4 + 0.1) * SR))  # everything else was silence, left out
    assert sink.in_file == len(x)


def test_the_timeline_wav_is_unchanged_and_live_runs_default_to_compact(tmp_path):
    cfg = AudioConfig(sink="file", sample_rate=SR)
    replay, live = open_sink(cfg, tmp_path / "r.wav"), open_sink(cfg, tmp_path / "l.wav", live=True)
    assert not replay.file_sink.compact and live.file_sink.compact
    for out in (replay, live):
        out.play(_sound(800, 0.3), 5.0, 1)
        out.close()
    r, li = _read(tmp_path / "r.wav"), _read(tmp_path / "l.wav")
    assert np.flatnonzero(r[:, 0])[0] == 5 * SR and len(r) == 5 * SR + 800  # on the video clock
    assert np.flatnonzero(li[:, 0])[0] == SR and len(li) == SR + 800  # 5 s of lead-in kept 1 s (the default)
    forced = open_sink(AudioConfig(sink="file", sample_rate=SR, wav="timeline"), tmp_path / "t.wav", live=True)
    assert not forced.file_sink.compact
    forced.close()
