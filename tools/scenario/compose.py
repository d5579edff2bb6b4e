"""Real footage in a 360° frame: a perspective video placed at a bearing over a panorama.

No public 360° clip has people and cars doing ordinary things with a licence we can ship, but
ordinary perspective videos do. Placing one into an equirect frame with the project's OWN projection
(`PerspectiveView`, the same inverse map the follow views use) sends real people and real cars
through the whole pipeline, and `compose.json` says exactly which wearer bearings the video covers,
so a test can check that every alert and track bearing lies inside it.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ego360.core.errors import InputError
from ego360.core.geometry import equirect_px_to_yawpitch, wrap_deg
from ego360.core.projection import PerspectiveView
from ego360.tools.scenario.background import PANORAMA, check_size, load_background

COMPOSE_FORMAT = "ego360-compose/1"
# The real clips in ../shared/data/real (see its README.md); other videos carry no known attribution.
KNOWN_ATTRIBUTION = {
    "intel_one-by-one-person-detection.mp4": "intel-iot-devkit/sample-videos one-by-one-person-detection.mp4, "
                                             "CC BY 4.0, attribution: Intel IoT DevKit sample videos",
    "intel_car-detection.mp4": "intel-iot-devkit/sample-videos car-detection.mp4, CC BY 4.0, "
                               "attribution: Intel IoT DevKit sample videos",
}


@dataclass(frozen=True)
class Extent:
    """Wearer bearings the placed video covers. `yaw_min`..`yaw_max` run clockwise and may cross the
    ±180° seam (then yaw_min > yaw_max); `yaw_span_deg` is the width either way."""

    yaw_min: float
    yaw_max: float
    yaw_span_deg: float
    pitch_min: float
    pitch_max: float
    crosses_seam: bool

    def contains(self, yaw: float, pitch: float | None = None, margin: float = 0.0) -> bool:
        rel = wrap_deg(yaw - self.yaw_min)
        rel = rel + 360.0 if rel < -margin else rel
        inside = -margin <= rel <= self.yaw_span_deg + margin
        if pitch is not None:
            inside = inside and self.pitch_min - margin <= pitch <= self.pitch_max + margin
        return bool(inside)


@dataclass(frozen=True)
class Composition:
    """What `compose.json` says: where the real video sits in the 360° clip."""

    video: str
    attribution: str
    fps: float
    num_frames: int
    width: int
    height: int
    yaw_deg: float
    pitch_deg: float
    fov_deg: float
    vfov_deg: float
    extent: Extent


def load_compose(path: str | Path) -> Composition:
    """Read `compose.json` (or the folder holding it); one-line InputError when missing or malformed."""
    p = Path(path)
    if p.is_dir():
        p = p / "compose.json"
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
        if data.get("format") != COMPOSE_FORMAT:
            raise InputError(f"{p}: format is {data.get('format')!r}, expected {COMPOSE_FORMAT!r}")
        return Composition(str(data["video"]), str(data["attribution"]), float(data["fps"]), int(data["num_frames"]),
                           int(data["width"]), int(data["height"]), float(data["yaw_deg"]), float(data["pitch_deg"]),
                           float(data["fov_deg"]), float(data["vfov_deg"]), Extent(**data["extent"]))
    except FileNotFoundError as exc:
        raise InputError(f"{p}: not found (make one with `ego360 scenario compose ...`)") from exc
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{p}: malformed compose.json ({type(exc).__name__}: {exc})") from exc


def check_placement(yaw: float, fov: float, pitch: float) -> None:
    """One-line errors for a placement the projection cannot honour."""
    if not math.isfinite(yaw) or not -180.0 <= yaw <= 180.0:
        raise InputError(f"--yaw {yaw:g}: must be within -180..180 degrees (0 = ahead, 90 = right; e.g. --yaw -160)")
    if not math.isfinite(fov) or not 1.0 <= fov <= 170.0:
        raise InputError(f"--fov {fov:g}: horizontal field of view must be 1..170 degrees (e.g. --fov 60)")
    if not math.isfinite(pitch) or not -80.0 <= pitch <= 80.0:
        raise InputError(f"--pitch {pitch:g}: must be within -80..80 degrees (0 = horizon)")


def extent_of(view: PerspectiveView) -> Extent:
    """Bearing/pitch range of a view's rectangle, from a dense sample of its border (the extremes
    of yaw and pitch over a pinhole rectangle lie on its border unless it holds a pole)."""
    w, h = view.width, view.height
    t = np.linspace(0.0, 1.0, 257)
    us = np.concatenate([t * w, np.full_like(t, w), t * w, np.zeros_like(t)])
    vs = np.concatenate([np.zeros_like(t), t * h, np.full_like(t, h), t * h])
    yaw, pitch = view.pixel_to_yawpitch(us, vs)
    rel = np.asarray(wrap_deg(np.asarray(yaw) - view.yaw_deg), dtype=float)
    lo, hi = view.yaw_deg + float(rel.min()), view.yaw_deg + float(rel.max())
    return Extent(round(float(wrap_deg(lo)), 3), round(float(wrap_deg(hi)), 3), round(hi - lo, 3),
                  round(float(np.min(pitch)), 3), round(float(np.max(pitch)), 3), bool(lo < -180.0 or hi > 180.0))


def _open_video(path: Path):
    import av

    if not path.is_file():
        raise InputError(f"--video {path}: no such file")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise InputError(f"--video {path}: not a readable video ({type(exc).__name__}); give an mp4/mkv/avi file") \
            from exc
    if not container.streams.video:
        container.close()
        raise InputError(f"--video {path}: has no video stream; give a video file")
    return container


def _attribution(video: Path) -> str:
    return KNOWN_ATTRIBUTION.get(video.name, "unknown: state the source and licence of this video yourself")


def compose(video: str | Path, out_dir: str | Path, *, yaw: float, fov: float, pitch: float = 0.0,
            panorama: str | Path | None = None, width: int = 1920, duration_s: float | None = None) -> Path:
    """Write `out_dir/clip.mp4` + `out_dir/compose.json`; both appear only when the whole clip is done."""
    import av

    from ego360.tools.scenario.clip import encode_frame, open_writer

    check_placement(float(yaw), float(fov), float(pitch))
    W, H = int(width), int(width) // 2
    check_size(W, H)
    if duration_s is not None and not duration_s > 0:
        raise InputError(f"--duration {duration_s:g}: must be positive")
    video = Path(video)
    pano = load_background(PANORAMA if panorama is None else str(panorama), W, H)
    container = _open_video(video)
    out = Path(out_dir)
    try:
        stream = container.streams.video[0]
        fps = float(stream.average_rate or stream.guessed_rate or 30.0)
        vw, vh = stream.codec_context.width, stream.codec_context.height
        if not vw or not vh:
            raise InputError(f"--video {video}: video stream has no frame size; is the file complete?")
        view = PerspectiveView(yaw, pitch, fov, out_size=(vw, vh), equirect_size=(H, W))
        placer = _Placer(view, H, W)
        limit = None if duration_s is None else max(1, int(round(duration_s * fps)))
        if out.exists() and not out.is_dir():
            raise InputError(f"--out {out}: exists and is not a folder")
        # work next to the destination when it exists (rename is atomic there), else in the temp dir:
        # a failed run must not even leave the parent folders behind
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp", dir=out.parent if out.parent.is_dir() else None))
        try:
            writer, wstream = open_writer(tmp / "clip.mp4", W, H, fps)
            n = 0
            try:
                for frame in container.decode(video=0):
                    encode_frame(writer, wstream, placer.place(frame.to_ndarray(format="rgb24"), pano))
                    n += 1
                    if limit is not None and n >= limit:
                        break
                encode_frame(writer, wstream, None)
            except av.error.FFmpegError as exc:
                raise InputError(f"--video {video}: decoding failed at frame {n} ({exc}); is the file complete?") \
                    from exc
            finally:
                writer.close()
            if n == 0:
                raise InputError(f"--video {video}: no frames decoded; give a non-empty video")
            meta = {"format": COMPOSE_FORMAT, "clip": "clip.mp4", "video": str(video),
                    "attribution": _attribution(video), "panorama": str(PANORAMA if panorama is None else panorama),
                    "width": W, "height": H, "fps": fps, "num_frames": n, "source_width": vw, "source_height": vh,
                    "yaw_deg": float(wrap_deg(yaw)), "pitch_deg": float(pitch), "fov_deg": float(fov),
                    "vfov_deg": round(view.vfov_deg, 4), "extent": asdict(extent_of(view)),
                    "projection": "ego360.core.projection.PerspectiveView (pinhole, no roll); yaw 0 = ahead, + right"}
            (tmp / "compose.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
            _publish(tmp, out)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    finally:
        container.close()
    return out


def _publish(tmp: Path, out: Path) -> None:
    """Move the finished files into `out` (moving the whole folder when `out` does not exist yet)."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        if not out.exists():
            shutil.move(str(tmp), str(out))
            return
        for name in ("clip.mp4", "compose.json"):
            shutil.move(str(tmp / name), str(out / name))
    except OSError as exc:
        raise InputError(f"--out {out}: cannot write there ({exc.strerror})") from exc


class _Placer:
    """Equirect pixels covered by the view and where each samples the (pre-shrunk) video frame.

    The maps are built once from the view's inverse projection; the frame is first shrunk with area
    averaging to about the equirect's angular resolution so remapping does not alias."""

    def __init__(self, view: PerspectiveView, H: int, W: int):
        rows = np.arange(H)
        cols = np.arange(W)
        cc, rr = np.meshgrid(cols + 0.5, rows + 0.5)
        yaw, pitch = equirect_px_to_yawpitch(cc, rr, W, H)
        u, v, front = view.equirect_to_view_points(yaw, pitch)
        with np.errstate(invalid="ignore"):
            inside = front & (u >= 0) & (u < view.width) & (v >= 0) & (v < view.height)
        band = np.flatnonzero(inside.any(axis=1))
        self.r0, self.r1 = int(band[0]), int(band[-1]) + 1
        px_per_deg_view = view.width / 2 / math.tan(math.radians(view.fov_deg) / 2) * math.pi / 180
        self.scale = min(1.0, (W / 360.0) / px_per_deg_view)
        self.size = (max(2, round(view.width * self.scale)), max(2, round(view.height * self.scale)))
        sx, sy = self.size[0] / view.width, self.size[1] / view.height
        sl = slice(self.r0, self.r1)
        self.mx = np.where(inside[sl], u[sl] * sx - 0.5, -10).astype(np.float32)
        self.my = np.where(inside[sl], v[sl] * sy - 0.5, -10).astype(np.float32)
        self.inside = inside[sl]
        self.shape = (view.height, view.width)

    def place(self, frame: np.ndarray, pano: np.ndarray) -> np.ndarray:
        import cv2

        if frame.shape[:2] != self.shape:  # a stream whose size changes mid-way: fit it to the first size
            frame = cv2.resize(frame, (self.shape[1], self.shape[0]), interpolation=cv2.INTER_AREA)
        small = cv2.resize(frame, self.size, interpolation=cv2.INTER_AREA) if self.scale < 1.0 else frame
        sampled = cv2.remap(small, self.mx, self.my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        img = pano.copy()
        np.copyto(img[self.r0:self.r1], sampled, where=self.inside[..., None])
        return img
