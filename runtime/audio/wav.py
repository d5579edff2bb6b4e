"""16-bit PCM WAV: the one float → int16 conversion and the one writer header for every WAV the project
writes (the run's alerts.wav, the dashboard's per-alert sound, Piper's speech, the audio bench's demos),
so they all hold the same samples for the same sound."""

from __future__ import annotations

import wave
from pathlib import Path
from typing import BinaryIO

import numpy as np


def pcm16(stereo: np.ndarray) -> np.ndarray:
    """Float stereo in [-1, 1] (clipped outside) → little-endian int16 (N, 2)."""
    x = np.asarray(stereo, dtype=np.float32).reshape(-1, 2)
    return np.round(np.clip(x, -1.0, 1.0) * 32767.0).astype("<i2")


def open_wav(target: str | Path | BinaryIO, sample_rate: int, channels: int = 2) -> wave.Wave_write:
    """A 16-bit WAV writer with its header set; the caller writes frames and closes it."""
    w = wave.open(str(target) if isinstance(target, (str, Path)) else target, "wb")
    w.setnchannels(channels)
    w.setsampwidth(2)
    w.setframerate(int(sample_rate))
    return w


def write_wav(target: str | Path | BinaryIO, pcm: np.ndarray, sample_rate: int) -> None:
    """Whole int16 stereo samples (see `pcm16`) as one WAV file or in-memory buffer."""
    with open_wav(target, sample_rate) as w:
        w.writeframes(np.ascontiguousarray(pcm, dtype="<i2").tobytes())
