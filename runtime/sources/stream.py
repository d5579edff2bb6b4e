"""Frame readers behind `CameraSource`: PyAV for stream URLs, OpenCV for devices and GStreamer.

Stream URLs go through PyAV because only it says what the damage guard needs to know about each
frame: its presentation timestamp, whether it is a key frame, whether the decoder or the demuxer
marked it corrupt (a lost MPEG-TS datagram breaks the continuity counter), and decoder errors with
a reason. OpenCV's `read()` says none of this (a damaged frame comes back as `True`), so devices and
GStreamer pipelines, which do not go through a network, rely on the quality checks alone.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import cv2
import numpy as np

log = logging.getLogger("ego360.runtime.sources.stream")


class DecodeCounts(Protocol):
    """Where `decode_frames` counts what it passed over (the guard turns these into damage counters)."""

    decoder_errors: int
    corrupt_packets: int


def decode_frames(container, stream, counts: DecodeCounts,
                  recoverable: type[Exception]) -> Iterator[tuple[Any, float | None, bool]]:
    """(PyAV frame, pts s or None, corrupt) for each frame of `stream`: the one demux/decode loop of
    clips and stream URLs. A packet the demuxer marks corrupt (a lost datagram) or one the decoder
    rejects with `recoverable` is counted in `counts` and marks the next frame corrupt, so the guard
    waits for a key frame; decoding goes on with the next packet. Other errors reach the caller."""
    pending_corrupt = False
    for packet in container.demux(stream):
        if packet.is_corrupt:
            counts.corrupt_packets += 1
            pending_corrupt = True
        try:
            frames = stream.decode(packet)
        except recoverable as exc:
            counts.decoder_errors += 1
            log.debug("decoder error: %s", exc)
            pending_corrupt = True
            continue
        for frame in frames:
            tb = frame.time_base
            pts = None if frame.pts is None or tb is None else float(frame.pts * tb)
            yield frame, pts, bool(frame.is_corrupt) or pending_corrupt
            pending_corrupt = False


@dataclass(frozen=True)
class Decoded:
    """One decoded frame with what the decoder knows about it (`pts` in seconds, None if unknown)."""

    image: np.ndarray  # channel order: the reader's `order`
    capture_ns: int
    pts: float | None = None
    key: bool = False
    corrupt: bool = False


class CvReader:
    """cv2.VideoCapture behind the reader surface (no key-frame or corruption information)."""

    order = "bgr"
    has_keys = False

    def __init__(self, cap: cv2.VideoCapture) -> None:
        self.cap = cap
        self.fps = float(cap.get(cv2.CAP_PROP_FPS))
        self.backend = cap.getBackendName()
        self.decoder_errors = 0
        self.corrupt_packets = 0

    def read(self) -> Decoded | None:
        ok, frame = self.cap.read()
        capture_ns = time.monotonic_ns()
        if not ok or frame is None or frame.size == 0:
            return None
        return Decoded(frame, capture_ns)

    def release(self) -> None:
        self.cap.release()


def open_cv(target: int | str, api: int, params: list[int]) -> CvReader | None:
    cap = cv2.VideoCapture(target, api, params)
    if not cap.isOpened():
        cap.release()
        return None
    return CvReader(cap)


class AvReader:
    """A stream URL decoded with PyAV; `read()` → Decoded, or None when the stream ended or timed out.

    Decoder errors do not end the stream: they are counted in `decoder_errors` (the source's guard
    then waits for the next key frame) and decoding goes on with the next packet."""

    order = "rgb"
    has_keys = True

    def __init__(self, url: str, open_timeout_s: float, read_timeout_s: float) -> None:
        import av

        self.container = av.open(url, mode="r", timeout=(open_timeout_s, read_timeout_s))
        if not self.container.streams.video:
            self.container.close()
            raise ValueError("the stream has no video")
        self.stream = self.container.streams.video[0]
        rate = self.stream.average_rate or self.stream.guessed_rate or self.stream.base_rate
        self.fps = float(rate) if rate else 0.0
        self.backend = f"PyAV/{self.stream.codec_context.name}"
        self.decoder_errors = 0
        self.corrupt_packets = 0
        self._frames = self._decode()

    def _decode(self) -> Iterator[Decoded]:
        import av

        for frame, pts, corrupt in decode_frames(self.container, self.stream, self, recoverable=av.FFmpegError):
            capture_ns = time.monotonic_ns()
            yield Decoded(frame.to_ndarray(format="rgb24"), capture_ns, pts, bool(frame.key_frame), corrupt)

    def read(self) -> Decoded | None:
        import av

        try:
            return next(self._frames, None)
        except (av.FFmpegError, OSError) as exc:  # a read timeout or a dropped connection
            log.debug("stream read ended: %s", exc)
            return None

    def release(self) -> None:
        self.container.close()


def open_av(url: str, open_timeout_s: float, read_timeout_s: float) -> AvReader | None:
    import av

    try:
        return AvReader(url, open_timeout_s, read_timeout_s)
    except (av.FFmpegError, OSError, ValueError) as exc:
        log.debug("could not open %s: %s", url, exc)
        return None
