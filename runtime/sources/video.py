"""Equirect clips (mp4/mkv/avi/mov; H.264, HEVC, MPEG-4, ...) decoded with PyAV.

PyAV rather than cv2.VideoCapture because it gives each frame's exact presentation timestamp
(video_t stays right for variable-frame-rate clips and after dropped frames, where index/fps drifts),
converts straight to RGB in libswscale, decodes with frame threads, and raises errors with a reason
instead of cv2's silent `False`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ego360.core.errors import InputError
from ego360.core.packets import FramePacket, SourceInfo
from ego360.runtime.sources.base import Pacer, SourceBase, log
from ego360.runtime.sources.checks import check_frame
from ego360.runtime.sources.damage import DamageGuard, SourceHealth
from ego360.runtime.sources.stream import decode_frames

VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".ts", ".mts", ".m2ts")
_FIX = "re-encode it, e.g. `ffmpeg -i IN -c:v libx264 -pix_fmt yuv420p OUT.mp4`"


def _open_container(path: Path):
    import av

    try:
        container = av.open(str(path), mode="r")
    except (av.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read this video ({exc.__class__.__name__}); {_FIX}") from None
    if not container.streams.video:
        container.close()
        raise InputError(f"{path}: contains no video stream; pass an equirect video file")
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    return container, stream


@dataclass
class _Counts:
    """What the decoder passed over; corrupt packets only mark the next frame (a clip is not a link)."""

    decoder_errors: int = 0
    corrupt_packets: int = 0


def _frame_count(container, stream, fps: float) -> int | None:
    """Container frame count; estimated from the duration where the container has none (mkv)."""
    if stream.frames:
        return int(stream.frames)
    if stream.duration is not None and stream.time_base is not None:
        return max(1, round(float(stream.duration * stream.time_base) * fps))
    if container.duration:
        return max(1, round(container.duration / 1_000_000 * fps))
    return None


class VideoFileSource(SourceBase):
    """Replay a clip as fast as possible, or paced to its fps with `realtime=True`.

    `live=True` makes a clip stand in for a camera (paced, and reported as live so the runner
    applies its live overflow policy). The first frame is decoded at construction so a broken,
    empty or non-2:1 file fails at once with an InputError rather than inside the pipeline.
    """

    def __init__(self, path: str | Path, *, realtime: bool = False, max_width: int = 1920, live: bool = False):
        super().__init__()
        self.path = Path(path)
        self.realtime = realtime or live
        self.max_width = max_width
        self._container = None
        self._lock = threading.Lock()  # close() from another thread must not free a decoding container
        self._counts = _Counts()  # decode_frames counts here; __iter__ hands decoder errors to the guard
        if not self.path.is_file():
            raise InputError(f"{self.path}: no such file; check the path")
        self._container, self._stream = _open_container(self.path)
        rate = self._stream.average_rate or self._stream.guessed_rate or self._stream.base_rate
        fps = float(rate) if rate else 30.0
        self._frames = self._decode()
        try:
            self._first = next(self._frames)
        except StopIteration:
            self.close()
            raise InputError(f"{self.path}: has no decodable video frames; {_FIX}") from None
        except InputError:
            self.close()
            raise
        height, width = self._first[1].shape[:2]
        self.info = SourceInfo(
            name=self.path.name, width=width, height=height, fps=fps,
            num_frames=_frame_count(self._container, self._stream, fps), live=live, paced=self.realtime,
        )
        self._fps = fps
        # A recording of a stream may start mid-way (before a key frame) or hold lost packets: the same
        # guard as a live stream, without the picture checks (a clip's content is not second-guessed);
        # a clip without key frames (intra refresh) is not waited on for more than 2 s.
        self.guard = DamageGuard(fps, check_quality=False, key_wait_s=2.0)
        log.info("opened %s: %s %dx%d → %dx%d, %.3f fps, %s frames", self.path, self._stream.codec_context.name,
                 self._stream.width, self._stream.height, width, height, fps, self.info.num_frames)

    def _decode(self) -> Iterator[tuple[float | None, np.ndarray, bool, bool]]:
        """(pts s, RGB, key frame, corrupt). A packet the decoder rejects (a recorded stream with lost
        datagrams) is counted and marks the next frame corrupt; a container that cannot be read ends it."""
        import av

        try:
            for frame, t, corrupt in decode_frames(self._container, self._stream, self._counts,
                                                   recoverable=av.InvalidDataError):
                image = check_frame(frame.to_ndarray(format="rgb24"), self.path.name, order="rgb",
                                    max_width=self.max_width)
                yield t, image, bool(frame.key_frame), corrupt
        except av.FFmpegError as exc:
            raise InputError(f"{self.path}: decoding failed ({exc}); {_FIX}") from None

    def __iter__(self) -> Iterator[FramePacket]:
        if self._first is None:
            raise RuntimeError("VideoFileSource can be iterated once; open a new one to replay")
        pacer = Pacer(self._closed)
        first, self._first = self._first, None
        index = decoded = 0
        frames = _chain(first, self._frames)
        while not self.closed:
            with self._lock:
                if self._container is None:
                    return
                item = next(frames, None)
            if item is None:
                return
            pts_t, image, key, corrupt = item
            for _ in range(self._counts.decoder_errors):
                self.guard.decoder_error()
            self._counts.decoder_errors = 0
            d = self.guard.decide(image, pts=pts_t, capture_t=decoded / self._fps, key=key, corrupt=corrupt)
            decoded += 1
            if not d.deliver:
                continue
            if self.realtime:
                pacer.wait(d.video_t)
            yield FramePacket(index, d.video_t, time.monotonic_ns(), image, discontinuity=d.discontinuity,
                              damaged=d.damaged, gap_s=d.gap_s)
            index += 1

    @property
    def health(self) -> SourceHealth:
        """Damage counters (frames skipped waiting for a key frame, corrupt, decoder errors) for the summary."""
        return self.guard.health

    def close(self) -> None:
        super().close()
        with self._lock:
            container, self._container = self._container, None
            if container is not None:
                container.close()


def _chain(first, rest):
    yield first
    yield from rest
