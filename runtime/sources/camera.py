"""Live cameras and streams with bounded reconnects and a damage guard.

A wearer's stream drops (Wi-Fi, USB unplug, a phone app restarting); the process must stay up and
resume, but a stream that never returns must end cleanly instead of hanging the runtime. Open/read
timeouts bound every blocking call (without them a dead stream blocks read() ~30 s). Stream URLs are
decoded with PyAV and devices with OpenCV (`stream.py`); every decoded frame passes `DamageGuard`
(`damage.py`), so a stream joined mid-way or losing packets never hands damage to the motion model.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from ego360.core.config import SourceConfig
from ego360.core.errors import InputError
from ego360.core.packets import FramePacket, SourceInfo
from ego360.runtime.sources.base import SourceBase
from ego360.runtime.sources.checks import check_frame
from ego360.runtime.sources.damage import DamageGuard, SourceHealth
from ego360.runtime.sources.stream import AvReader, CvReader, Decoded, open_av, open_cv

log = logging.getLogger("ego360.runtime.sources.camera")

URL_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "rtp://", "srt://", "udp://", "tcp://", "http://", "https://")
_FALLBACK_FPS = 30.0


@dataclass
class CameraStats:
    """Live counters (mutable on purpose: the iterator updates them while the runner reads them)."""

    frames: int = 0
    reconnects: int = 0  # successful reconnects
    failed_reads: int = 0  # reads that returned no frame (each one starts a reconnect episode)
    reconnect_attempts: int = 0  # all attempts, successful or not


def is_camera_spec(spec: str) -> bool:
    s = spec.strip()
    return s.isdigit() or s.startswith("/dev/video") or "!" in s or s.lower().startswith(URL_SCHEMES)


def _backend(spec: str, cfg: SourceConfig) -> tuple[str, int | str, int, list[int]]:
    """(kind, target, apiPreference, open params) for a spec; timeouts only where the backend honours them."""
    s = spec.strip()
    timeouts = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(cfg.open_timeout_ms),
                cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(cfg.read_timeout_ms)]
    if s.lower().startswith(URL_SCHEMES):
        return "stream", s, cv2.CAP_FFMPEG, timeouts
    if "!" in s:
        if not cv2.videoio_registry.hasBackend(cv2.CAP_GSTREAMER):
            raise InputError(f"camera {s!r}: this OpenCV build has no GStreamer support; "
                             "pass a device index, /dev/videoN or an rtsp:// / udp:// URL instead")
        return "gstreamer", s, cv2.CAP_GSTREAMER, timeouts
    if s.isdigit():
        return "device", int(s), cv2.CAP_ANY, []
    if s.startswith("/dev/video"):
        return "device", s, cv2.CAP_V4L2, []
    raise InputError(f"{spec!r} is not a file, folder, camera index, /dev/videoN, GStreamer pipeline "
                     f"(with '!') or stream URL ({', '.join(URL_SCHEMES)}); fix the source argument")


def _clean_fps(value: float, name: str) -> float:
    if not math.isfinite(value) or value <= 0 or value > 1000:
        log.warning("camera %s reports no usable fps (%r); assuming %.0f", name, value, _FALLBACK_FPS)
        return _FALLBACK_FPS
    return float(value)


class CameraSource(SourceBase):
    """A device index ("0"), /dev/videoN, GStreamer pipeline or stream URL, read until closed.

    The first connection is tried once at construction (a typo should fail in seconds, as an
    InputError); after the stream has started, a failed read triggers up to
    `cfg.reconnect_attempts` consecutive attempts, waiting reconnect_backoff_s, doubling up to
    reconnect_backoff_max_s. frame_index keeps counting across reconnects and video_t is seconds
    since the first frame (monotonic), so downstream clocks never jump back.
    """

    def __init__(self, spec: str, cfg: SourceConfig | None = None, *, live: bool | None = None):
        super().__init__()
        self.spec = str(spec)
        self.cfg = cfg or SourceConfig()
        self.stats = CameraStats()
        self._lock = threading.Lock()  # guards _cap: close() may come from another thread
        self._cap: AvReader | CvReader | None = None
        self.kind, self._target, self._api, self._params = _backend(self.spec, self.cfg)
        cap, first, reason = self._connect()
        if cap is None:
            within = f" within {self.cfg.open_timeout_ms} ms" if self._params else ""
            raise InputError(f"camera {self.spec!r}: {reason}{within}; "
                             "check the device or URL and that the stream is running")
        self._cap = cap
        image = check_frame(first.image, self.spec, order=cap.order, max_width=self.cfg.max_width)
        self._pending: Decoded | None = dataclasses.replace(first, image=image)
        self._start_ns = first.capture_ns
        fps = _clean_fps(cap.fps, self.spec)
        height, width = image.shape[:2]
        self.info = SourceInfo(name=self.spec, width=width, height=height, fps=fps, num_frames=None,
                               live=live is not False, paced=True)
        self.guard = DamageGuard(fps, has_keys=cap.has_keys, check_quality=self.cfg.damage_checks,
                                 policy=self.cfg.loss_policy)
        log.info("camera %s (%s, %s): delivers %dx%d at %.2f fps (stream %dx%d)", self.spec, self.kind,
                 cap.backend, width, height, fps, first.image.shape[1], first.image.shape[0])

    @property
    def health(self) -> SourceHealth:
        """Damage counters (decoded, skipped by reason, decoder errors, discontinuities) for the summary."""
        return self.guard.health

    def _connect(self) -> tuple[AvReader | CvReader | None, Decoded | None, str]:
        """Open and read one frame: a stream that opens but sends nothing is not connected."""
        if self.kind == "stream":
            cap = open_av(self.spec, self.cfg.open_timeout_ms / 1000, self.cfg.read_timeout_ms / 1000)
        else:
            cap = open_cv(self._target, self._api, self._params)
        if cap is None:
            return None, None, "could not open it"
        first = cap.read()
        if first is None:
            cap.release()
            return None, None, "opened but delivered no frame"
        return cap, first, ""

    def _normalise(self, frame: np.ndarray, order: str) -> np.ndarray:
        """check_frame, then hold the size from the first connection (a reconnect may renegotiate)."""
        image = check_frame(frame, self.spec, order=order, max_width=self.cfg.max_width)
        if image.shape[:2] != (self.info.height, self.info.width):
            log.warning("camera %s now sends %dx%d; resizing to %dx%d", self.spec, image.shape[1],
                        image.shape[0], self.info.width, self.info.height)
            image = cv2.resize(image, (self.info.width, self.info.height), interpolation=cv2.INTER_AREA)
        return image

    def _read(self) -> Decoded | None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            return pending
        with self._lock:
            if self._cap is None:
                return None
            cap = self._cap
            got = cap.read()
            errors, cap.decoder_errors = cap.decoder_errors, 0
            corrupt, cap.corrupt_packets = cap.corrupt_packets, 0
        for _ in range(errors):
            self.guard.decoder_error()
        self.guard.health.corrupt_packets += corrupt
        if got is None:
            return None
        return dataclasses.replace(got, image=self._normalise(got.image, cap.order))

    def __iter__(self) -> Iterator[FramePacket]:
        index = 0
        try:
            while not self.closed:
                got = self._read()
                if got is None:
                    if self.closed:
                        break
                    self.stats.failed_reads += 1
                    if not self._reconnect():
                        break
                    continue
                d = self.guard.decide(got.image, pts=got.pts, capture_t=(got.capture_ns - self._start_ns) / 1e9,
                                      key=got.key, corrupt=got.corrupt)
                if not d.deliver:
                    continue
                self.stats.frames += 1
                yield FramePacket(index, d.video_t, got.capture_ns, got.image, discontinuity=d.discontinuity,
                                  damaged=d.damaged, gap_s=d.gap_s)
                index += 1
        finally:
            if self.closed:
                self._release()

    def _reconnect(self) -> bool:
        """Bounded exponential backoff; True once a new connection delivered its first frame."""
        self._release()
        attempts, delay = self.cfg.reconnect_attempts, self.cfg.reconnect_backoff_s
        for attempt in range(1, attempts + 1):
            log.warning("camera %s: stream lost; reconnect attempt %d/%d in %.2f s",
                        self.spec, attempt, attempts, delay)
            if self._closed.wait(delay):
                return False
            self.stats.reconnect_attempts += 1
            cap, first, reason = self._connect()
            if cap is not None:
                with self._lock:
                    self._cap = cap
                self._pending = dataclasses.replace(first, image=self._normalise(first.image, cap.order))
                self.guard.restart()
                self.stats.reconnects += 1
                log.warning("camera %s: reconnected on attempt %d", self.spec, attempt)
                return True
            log.warning("camera %s: reconnect attempt %d/%d failed: %s", self.spec, attempt, attempts, reason)
            delay = min(delay * 2, self.cfg.reconnect_backoff_max_s)
        log.error("camera %s: no frames after %d reconnect attempts; ending the stream", self.spec, attempts)
        return False

    def _release(self, timeout_s: float | None = None) -> None:
        if not self._lock.acquire(timeout=-1 if timeout_s is None else timeout_s):
            return  # a read is in flight; the iterator releases the capture when it sees `closed`
        try:
            cap, self._cap = self._cap, None
            if cap is not None:
                cap.release()
        finally:
            self._lock.release()

    def close(self) -> None:
        super().close()
        self._release(timeout_s=self.cfg.read_timeout_ms / 1000 + 1.0)
