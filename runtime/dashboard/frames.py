"""The dashboard's picture: the latest processed frame with role-coloured masks, as a JPEG.

The pipeline's last stage hands each finished frame over through a one-slot drop-oldest queue (`offer` only
enqueues a reference: no copy, no drawing, no encoding on the pipeline's thread), and this module's own
thread draws the overlay (`annotated_video.draw_overlay`, the same drawing as annotated.mp4) and encodes
it at most `fps` times a second. Only the latest JPEG is kept, in memory; nothing is written to disk.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from dataclasses import dataclass

import cv2
import numpy as np

from ego360.core.packets import Caption, Track, Work
from ego360.runtime.pipeline import BoundedQueue, OverflowPolicy
from ego360.runtime.services.annotated_video import draw_overlay

log = logging.getLogger(__name__)
MAX_CAPTIONS = 16  # the overlay shows the newest three; a day-long run must not grow this


@dataclass(frozen=True)
class _Pending:
    image: np.ndarray
    tracks: tuple[Track, ...]
    captions: dict[int, Caption]
    score: float
    video_t: float
    capture_ns: int
    frame_index: int


@dataclass(frozen=True)
class Jpeg:
    seq: int  # 1, 2, … per encoded frame
    data: bytes
    video_t: float
    frame_index: int
    lag_ms: float  # capture → JPEG ready


class FrameFeed:
    """Drop-oldest hand-off in, latest JPEG out; `latest()`/`wait_newer()` from any thread."""

    def __init__(self, width: int = 960, fps: float = 8.0, quality: int = 80) -> None:
        self.width = max(64, int(width) - int(width) % 4)
        self.interval_s = 1.0 / max(0.5, float(fps))
        self.quality = int(quality)
        self._handoff = BoundedQueue(1, OverflowPolicy.DROP_OLDEST)
        self._captions: collections.OrderedDict[int, Caption] = collections.OrderedDict()
        self._cond = threading.Condition()
        self._latest: Jpeg | None = None
        self._stop = threading.Event()
        self.encode_ms: collections.deque[float] = collections.deque(maxlen=200)
        self.lag_ms: collections.deque[float] = collections.deque(maxlen=200)
        self.errors = 0
        self._thread = threading.Thread(target=self._loop, name="ego360-dashboard-jpeg", daemon=True)

    def start(self) -> FrameFeed:
        self._thread.start()
        return self

    @property
    def offered(self) -> int:
        return self._handoff.put_count

    @property
    def dropped(self) -> int:
        """Frames the encoder never saw because a newer one replaced them (by design, counted)."""
        return self._handoff.dropped

    def offer(self, work: Work) -> None:
        """Called on the pipeline's last stage thread for every finished frame: O(1), never blocks."""
        for c in work.captions:
            self._captions[c.entity_id] = c
            self._captions.move_to_end(c.entity_id)
            while len(self._captions) > MAX_CAPTIONS:
                self._captions.popitem(last=False)
        p = work.packet
        tracks = tuple(work.entities.tracks) if work.entities is not None else ()
        self._handoff.put(_Pending(p.image, tracks, dict(self._captions), float(work.trigger.score), p.video_t,
                                   p.capture_ns, p.frame_index))

    def latest(self) -> Jpeg | None:
        with self._cond:
            return self._latest

    def wait_newer(self, seq: int, timeout: float) -> Jpeg | None:
        """The latest JPEG once its seq is above `seq` (None on timeout)."""
        with self._cond:
            self._cond.wait_for(lambda: self._latest is not None and self._latest.seq > seq, timeout)
            latest = self._latest
        return latest if latest is not None and latest.seq > seq else None

    def encode(self, item: _Pending) -> bytes:
        width = min(self.width, item.image.shape[1] - item.image.shape[1] % 4)
        rgb = draw_overlay(item.image, list(item.tracks), item.captions, item.score, width)
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        if not ok:
            raise ValueError("JPEG encoding failed")
        return buf.tobytes()

    def _loop(self) -> None:
        next_t = 0.0
        while not self._stop.is_set():
            wait = next_t - time.monotonic()
            if wait > 0 and self._stop.wait(wait):
                break
            try:
                item = self._handoff.get(timeout=0.25)
            except TimeoutError:
                continue
            if not isinstance(item, _Pending):  # closed
                break
            t0 = time.monotonic()
            try:
                data = self.encode(item)
            except Exception:  # noqa: BLE001 - a bad frame must not end the dashboard's picture
                self.errors += 1
                if self.errors == 1:
                    log.exception("dashboard: drawing/encoding a frame failed (further failures are counted)")
                continue
            done = time.monotonic()
            self.encode_ms.append((done - t0) * 1000.0)
            lag = (time.monotonic_ns() - item.capture_ns) / 1e6
            self.lag_ms.append(lag)
            with self._cond:
                seq = 1 if self._latest is None else self._latest.seq + 1
                self._latest = Jpeg(seq, data, item.video_t, item.frame_index, lag)
                self._cond.notify_all()
            next_t = t0 + self.interval_s

    def close(self) -> None:
        self._stop.set()
        self._handoff.close()
        if self._thread.is_alive():
            self._thread.join(2.0)
