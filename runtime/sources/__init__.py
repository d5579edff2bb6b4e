"""Frame sources: clips, image folders, cameras/streams and synthetic scenarios behind one protocol.

Every source has `info: SourceInfo`, yields `FramePacket`s (RGB uint8, W = 2H) from `__iter__`,
has `close()` and is a context manager. `open_source` picks the source from a spec string so the
CLI needs no per-kind flags.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ego360.core.config import SourceConfig
from ego360.core.errors import InputError
from ego360.runtime.sources.base import Source
from ego360.runtime.sources.camera import URL_SCHEMES, CameraSource, CameraStats, is_camera_spec
from ego360.runtime.sources.checks import check_frame
from ego360.runtime.sources.images import IMAGE_EXTENSIONS, ImageFolderSource
from ego360.runtime.sources.video import VIDEO_EXTENSIONS, VideoFileSource

__all__ = [
    "CameraSource", "CameraStats", "ImageFolderSource", "Source", "VideoFileSource", "check_frame", "open_source",
    "register_scheme",
]

# Spec prefixes opened by a layer above the runtime (e.g. `scenario:NAME`, registered by
# `ego360.tools`): the runtime never imports its tools, the tools plug their sources in here.
Opener = Callable[[str, SourceConfig, bool, "bool | None"], Source]
_SCHEMES: dict[str, Opener] = {}


def register_scheme(prefix: str, opener: Opener) -> None:
    """`open_source("PREFIX rest")` → `opener(rest, cfg, realtime, live)`."""
    _SCHEMES[prefix] = opener


def _looks_like_path(spec: str) -> bool:
    return "/" in spec or "\\" in spec or spec.startswith((".", "~")) or bool(Path(spec).suffix)


def _open_file(path: Path, cfg: SourceConfig, realtime: bool, live: bool) -> VideoFileSource:
    suffix = path.suffix.lower()
    if suffix in IMAGE_EXTENSIONS:
        raise InputError(f"{path}: is a single image; pass the folder that holds the frames, or a video file")
    if suffix not in VIDEO_EXTENSIONS:
        raise InputError(f"{path}: unknown video extension {suffix or '(none)'!r}; "
                         f"use one of {', '.join(VIDEO_EXTENSIONS)} or a folder of images")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: is an empty file (0 bytes); re-export or re-copy the clip")
    return VideoFileSource(path, realtime=realtime, max_width=cfg.max_width, live=live)


def open_source(spec: str, cfg: SourceConfig | None = None, *, realtime: bool = False, live: bool | None = None):
    """Spec → source: `scenario:NAME`, a stream URL or GStreamer pipeline, an existing folder (images)
    or file (video), a device index or /dev/videoN. `live` overrides whether the source is treated
    as live (a clip with live=True is paced to its fps, standing in for a camera)."""
    cfg = cfg or SourceConfig()
    spec = str(spec).strip()
    if not spec:
        raise InputError("empty source; pass a video file, image folder, camera index or stream URL")
    for prefix, opener in _SCHEMES.items():
        if spec.startswith(prefix):
            return opener(spec[len(prefix):].strip(), cfg, realtime, live)
    if spec.startswith("scenario:"):
        raise InputError(f"{spec}: scenario sources come with the ego360 tools; run through `ego360` "
                         "or import ego360.tools first")
    if spec.lower().startswith(URL_SCHEMES) or "!" in spec:
        return CameraSource(spec, cfg, live=live)
    path = Path(spec).expanduser()
    if path.is_dir():
        return ImageFolderSource(path, realtime=realtime, max_width=cfg.max_width, live=bool(live))
    if path.is_file():
        return _open_file(path, cfg, realtime, bool(live))
    if is_camera_spec(spec):
        return CameraSource(spec, cfg, live=live)
    if _looks_like_path(spec):
        raise InputError(f"{spec}: no such file or folder; check the path")
    raise InputError(f"{spec!r} is not a file, folder, camera index, /dev/videoN, GStreamer pipeline "
                     f"(with '!') or stream URL ({', '.join(URL_SCHEMES)}); fix the source argument")
