"""`annotated.mp4`: what the wearer would have heard, on top of what the camera saw.

Role-coloured masks, bearings and caption text are drawn on a downscaled equirect; the session's
alert audio is muxed in at the end (it is only complete once the run is over), so the video is
first written to a temporary file and remuxed with an AAC track — the final name appears only
when both are complete.
"""

from __future__ import annotations

import logging
import os
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from ego360.core.packets import Caption, Track

log = logging.getLogger(__name__)

ROLE_COLOURS: dict[str, tuple[int, int, int]] = {
    "perpetrator": (230, 40, 40), "victim": (255, 150, 0), "target": (255, 220, 0),
    "related": (0, 200, 230), "none": (180, 180, 180),
}


def draw_overlay(image: np.ndarray, tracks: list[Track], captions: dict[int, Caption], score: float,
                 width: int) -> np.ndarray:
    """Downscale then draw; masks are resized with nearest-neighbour so edges stay honest."""
    h, w = image.shape[:2]
    out_w, out_h = width, width // 2
    frame = cv2.resize(image, (out_w, out_h), interpolation=cv2.INTER_AREA) if w != out_w else image.copy()
    for t in tracks:
        colour = np.array(ROLE_COLOURS.get(t.role, ROLE_COLOURS["none"]), np.float32)
        m = cv2.resize(t.mask.astype(np.uint8), (out_w, out_h), interpolation=cv2.INTER_NEAREST).astype(bool)
        if m.any():
            frame[m] = (0.45 * frame[m] + 0.55 * colour).astype(np.uint8)
            ys, xs = np.nonzero(m)
            label = f"#{t.entity_id} {t.role} {t.bearing_deg:+.0f}deg"
            cv2.putText(frame, label, (int(xs.min()), max(12, int(ys.min()) - 4)), cv2.FONT_HERSHEY_SIMPLEX,
                        0.4, tuple(int(c) for c in colour), 1, cv2.LINE_AA)
    y = out_h - 8
    for cap in list(captions.values())[-3:]:
        cv2.putText(frame, f"#{cap.entity_id} [{cap.source}] {cap.speech}"[:110], (6, y), cv2.FONT_HERSHEY_SIMPLEX,
                    0.4, (255, 255, 255), 1, cv2.LINE_AA)
        y -= 14
    bar = int(score * (out_w - 12))
    cv2.rectangle(frame, (6, 6), (6 + bar, 12), (255, 60, 60) if score >= 0.5 else (80, 200, 80), -1)
    return frame


class AnnotatedVideo:
    """Streams overlay frames to a temporary H.264 file; `finish(wav)` adds the audio and renames."""

    def __init__(self, path: Path, fps: float, width: int = 960) -> None:
        self.path = path
        self.width = width - width % 4
        self.tmp = path.with_name(path.stem + ".video-only.mp4")
        self._container = av.open(str(self.tmp), mode="w")
        rate = Fraction(fps).limit_denominator(1001)
        self._stream = self._container.add_stream("libx264", rate=rate)
        self._stream.width, self._stream.height = self.width, self.width // 2
        self._stream.pix_fmt = "yuv420p"
        self._stream.options = {"preset": "ultrafast", "crf": "26"}
        self._stream.time_base = self._tb = 1 / rate  # the muxer later rewrites stream.time_base
        self.frames = 0
        self.failed: str | None = None  # why the video stopped (a full disk), reported once

    def write(self, image: np.ndarray, tracks: list[Track], captions: dict[int, Caption], score: float,
              video_t: float) -> None:
        """One overlay frame; a write that fails (ENOSPC) stops the video, logged once, the run goes on."""
        if self.failed is not None:
            return
        try:
            self._write(image, tracks, captions, score, video_t)
        except (OSError, av.error.FFmpegError) as exc:
            self._fail(exc)

    def _fail(self, exc: BaseException) -> None:
        self.failed = f"{type(exc).__name__}: {exc}"
        log.error("writing %s failed (%s); the annotated video stops here, alerts go on", self.path, exc)
        try:
            self._container.close()
        except (OSError, av.error.FFmpegError):
            pass

    def _write(self, image: np.ndarray, tracks: list[Track], captions: dict[int, Caption], score: float,
               video_t: float) -> None:
        frame = av.VideoFrame.from_ndarray(draw_overlay(image, tracks, captions, score, self.width), format="rgb24")
        frame.pts = int(round(video_t / self._tb))
        frame.time_base = self._tb
        if self.frames and frame.pts <= self._last_pts:
            frame.pts = self._last_pts + 1
        self._last_pts = frame.pts
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.frames += 1

    def finish(self, wav: Path | None) -> Path | None:
        """Flush, add the audio, rename; None (and nothing half-written left) when writing had failed."""
        if self.failed is None:
            try:
                for packet in self._stream.encode():
                    self._container.mux(packet)
                self._container.close()
            except (OSError, av.error.FFmpegError) as exc:
                self._fail(exc)
        if self.failed is not None:
            self.tmp.unlink(missing_ok=True)
            return None
        if wav is None or not wav.exists():
            os.replace(self.tmp, self.path)
            return self.path
        try:
            _mux_audio(self.tmp, wav, self.path)
        except (av.error.FFmpegError, ValueError, OSError) as exc:  # keep the picture even if audio muxing fails
            log.warning("could not mux audio into %s (%s); writing video only", self.path, exc)
            self.path.with_name(self.path.stem + ".partial.mp4").unlink(missing_ok=True)
            os.replace(self.tmp, self.path)
        else:
            self.tmp.unlink(missing_ok=True)
        return self.path


def _mux_audio(video: Path, wav: Path, out: Path) -> None:
    partial = out.with_name(out.stem + ".partial.mp4")
    with av.open(str(video)) as vin, av.open(str(wav)) as ain, av.open(str(partial), "w") as dst:
        vs = vin.streams.video[0]
        ov = dst.add_stream_from_template(vs)
        a_in = ain.streams.audio[0]
        oa = dst.add_stream("aac", rate=a_in.rate)
        oa.layout = "stereo"
        for packet in vin.demux(vs):
            if packet.dts is None:
                continue
            packet.stream = ov
            dst.mux(packet)
        resampler = av.AudioResampler(format="fltp", layout="stereo", rate=a_in.rate)
        for frame in ain.decode(a_in):
            for rf in resampler.resample(frame):
                for packet in oa.encode(rf):
                    dst.mux(packet)
        for packet in oa.encode(None):
            dst.mux(packet)
    os.replace(partial, out)
