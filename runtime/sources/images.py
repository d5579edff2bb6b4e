"""A folder of equirect stills replayed as a clip (video_t = i / fps)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from ego360.core.errors import InputError
from ego360.core.packets import FramePacket, SourceInfo
from ego360.runtime.sources.base import Pacer, SourceBase, log
from ego360.runtime.sources.checks import check_frame

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


def _natural_key(path: Path) -> list:
    """frame_2 before frame_10: exporters rarely zero-pad, and plain sorting would shuffle them."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def list_images(folder: Path, pattern: str | None = None) -> list[Path]:
    paths = folder.glob(pattern) if pattern else folder.iterdir()
    files = [p for p in paths if p.is_file() and (pattern or p.suffix.lower() in IMAGE_EXTENSIONS)]
    return sorted(files, key=_natural_key)


def read_image(path: Path, max_width: int | None) -> np.ndarray:
    """IMREAD_UNCHANGED so 16-bit, gray and alpha reach check_frame, which documents their handling."""
    data = np.fromfile(str(path), dtype=np.uint8)  # also handles non-ASCII paths, unlike cv2.imread
    img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if img is None:
        raise InputError(f"{path}: not a readable image; remove it from the folder or re-export it as PNG/JPEG")
    return check_frame(img, path.name, order="bgr", max_width=max_width)


class ImageFolderSource(SourceBase):
    """Sorted (natural order) image files of one size; the first is read at construction to fail early."""

    def __init__(self, folder: str | Path, *, fps: float = 30.0, pattern: str | None = None,
                 realtime: bool = False, max_width: int = 1920, live: bool = False):
        super().__init__()
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise InputError(f"{self.folder}: no such folder; check the path")
        if fps <= 0:
            raise InputError(f"image folder fps must be positive, got {fps}; pass e.g. fps=30")
        self.files = list_images(self.folder, pattern)
        if not self.files:
            what = f"matching {pattern!r}" if pattern else f"({', '.join(IMAGE_EXTENSIONS)})"
            raise InputError(f"{self.folder}: no image files {what}; put equirect frames in it or pass a video file")
        self.fps = float(fps)
        self.realtime = realtime or live
        self.max_width = max_width
        self._first: np.ndarray | None = read_image(self.files[0], max_width)
        height, width = self._first.shape[:2]
        self.info = SourceInfo(name=self.folder.name, width=width, height=height, fps=self.fps,
                               num_frames=len(self.files), live=live, paced=self.realtime)
        log.info("opened %s: %d images, %dx%d, %.3f fps", self.folder, len(self.files), width, height, self.fps)

    def __iter__(self) -> Iterator[FramePacket]:
        pacer = Pacer(self._closed)
        for index, path in enumerate(self.files):
            if self.closed:
                return
            if index == 0 and self._first is not None:  # decoded at construction; iterable again later
                image, self._first = self._first, None
            else:
                image = read_image(path, self.max_width)
            if image.shape[:2] != (self.info.height, self.info.width):
                h, w = image.shape[:2]
                raise InputError(f"{path}: is {w}×{h} but the folder's first frame is "
                                 f"{self.info.width}×{self.info.height}; give every frame the same size")
            video_t = index / self.fps
            if self.realtime:
                pacer.wait(video_t)
            yield FramePacket(index, video_t, time.monotonic_ns(), image)
