"""Overlapping stereo voices on one sample clock, shared by the live stream and the WAV writer.

A `Timeline` holds voices at absolute sample positions; `interrupt` fades every lower-priority
voice out over a few milliseconds from a given position (and drops the ones not yet started), so
an urgent alert is never masked by a chatty one. `Mixer` adds a playhead and a lock for the
real-time callback: the callback only slices and sums arrays, never allocates per voice or waits.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

FADE_MS = 15.0


@dataclass
class Voice:
    start: int  # absolute sample position
    data: np.ndarray  # float32 (N, 2)
    priority: int

    @property
    def end(self) -> int:
        return self.start + len(self.data)


class Timeline:
    """Voices on an absolute sample axis; not thread-safe on its own."""

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self.voices: dict[int, Voice] = {}
        self._next_id = 1
        self._queue_end = 0  # end of the last voice added with queue=True

    def add(self, stereo: np.ndarray, start: int, priority: int, after: int | None = None, queue: bool = False) -> int:
        """Place `stereo` at `start`, or later: after voice `after` ends and/or after the last queued voice."""
        data = np.asarray(stereo, dtype=np.float32).reshape(-1, 2)
        if after is not None and after in self.voices:
            start = max(start, self.voices[after].end)
        if queue:
            start = max(start, self._queue_end)
        vid = self._next_id
        self._next_id += 1
        self.voices[vid] = Voice(int(start), data, int(priority))
        if queue:
            self._queue_end = start + len(data)
        return vid

    def end_of(self, vid: int) -> int | None:
        v = self.voices.get(vid)
        return None if v is None else v.end

    def interrupt(self, below_priority: int, at: int, fade_ms: float = FADE_MS) -> int:
        """Fade out voices with priority < `below_priority` from sample `at`; returns how many were cut."""
        fade = max(1, int(self.sample_rate * fade_ms / 1000.0))
        cut = 0
        for vid, v in list(self.voices.items()):
            if v.priority >= below_priority or v.end <= at:
                continue
            cut += 1
            if v.start >= at:
                del self.voices[vid]
                continue
            keep = min(len(v.data), at - v.start + fade)
            data = v.data[:keep].copy()
            n = keep - (at - v.start)
            data[keep - n :] *= np.linspace(1.0, 0.0, n, dtype=np.float32)[:, None]
            v.data = data
        self._queue_end = min(self._queue_end, max([at] + [v.end for v in self.voices.values()]))
        return cut

    def render(self, start: int, frames: int) -> np.ndarray:
        out = np.zeros((frames, 2), dtype=np.float32)
        stop = start + frames
        for v in self.voices.values():
            lo, hi = max(start, v.start), min(stop, v.end)
            if lo < hi:
                out[lo - start : hi - start] += v.data[lo - v.start : hi - v.start]
        np.clip(out, -1.0, 1.0, out=out)
        return out

    def drop_before(self, pos: int) -> None:
        for vid in [vid for vid, v in self.voices.items() if v.end <= pos]:
            del self.voices[vid]

    @property
    def last_end(self) -> int:
        return max((v.end for v in self.voices.values()), default=0)


class Mixer:
    """A Timeline with a playhead, safe to feed from any thread and to render from an audio callback."""

    def __init__(self, sample_rate: int) -> None:
        self._tl = Timeline(sample_rate)
        self._lock = threading.Lock()
        self._pos = 0
        self.sample_rate = sample_rate

    @property
    def position(self) -> int:
        return self._pos

    def add(self, stereo: np.ndarray, priority: int, after: int | None = None, queue: bool = False) -> int:
        with self._lock:
            return self._tl.add(stereo, self._pos, priority, after=after, queue=queue)

    def interrupt(self, below_priority: int, fade_ms: float = FADE_MS) -> int:
        with self._lock:
            return self._tl.interrupt(below_priority, self._pos, fade_ms)

    def render(self, frames: int) -> np.ndarray:
        with self._lock:
            out = self._tl.render(self._pos, frames)
            self._pos += frames
            self._tl.drop_before(self._pos)
            return out

    def busy(self) -> bool:
        with self._lock:
            return bool(self._tl.voices)

    def pending_frames(self) -> int:
        with self._lock:
            return max(0, self._tl.last_end - self._pos)
