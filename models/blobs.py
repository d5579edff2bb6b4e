"""Blobs and masks on the equirect: the geometry shared by the motion analyser, proposals and tracker.

Kept apart from `models.motion` (the background model) so both stay small; `models.motion`
re-exports these names for existing callers.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from ego360.core.geometry import col_yaw, dir_to_yawpitch, row_pitch, wrap_deg, yawpitch_to_dir
from ego360.core.packets import Box, EgoMotion

_KV = np.ones((9, 3), np.uint8)  # vertical joining: head, torso and legs stay one mover


def circular_mean_deg(angles: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Mean yaw that survives the ±180° wrap (an entity straddling the seam is behind, not ahead)."""
    rad = np.radians(angles)
    s = float(np.average(np.sin(rad), weights=weights))
    c = float(np.average(np.cos(rad), weights=weights))
    return float(wrap_deg(np.degrees(np.arctan2(s, c))))


def roll_frac(img: np.ndarray, shift: float) -> np.ndarray:
    """out[:, x] = img[:, x - shift] with circular wrap and linear sub-pixel interpolation (float32)."""
    k = int(np.floor(shift))
    f = float(shift - k)
    a = np.roll(img, k, axis=1).astype(np.float32)
    if f < 1e-3:
        return a
    return (1.0 - f) * a + f * np.roll(img, k + 1, axis=1).astype(np.float32)


def mask_geometry(mask: np.ndarray, x_off: int = 0, y_off: int = 0, shape: tuple[int, int] | None = None
                  ) -> tuple[Box, float, float] | None:
    """Seam-aware box (x1 may exceed W), circular-mean camera yaw and mean pitch of an equirect mask.

    `mask` may be a crop at (x_off, y_off) of an equirect of `shape` (faster for small objects).
    """
    ys, xs = np.nonzero(mask)
    if xs.size == 0:
        return None
    h, w = shape if shape is not None else mask.shape
    xs, ys = xs + x_off, ys + y_off
    yaw = circular_mean_deg(col_yaw(xs, w))
    xc = (yaw + 180.0) / 360.0 * w - 0.5
    u = np.mod(xs - xc + w / 2.0, w) - w / 2.0 + xc  # columns unwrapped around the centre
    x0, x1 = float(np.floor(u.min())), float(np.floor(u.max()) + 1)
    if x0 < 0:
        x0, x1 = x0 + w, x1 + w
    elif x0 >= w:
        x0, x1 = x0 - w, x1 - w
    box = Box(x0, float(ys.min()), x1, float(ys.max() + 1))
    return box, yaw, float(np.mean(row_pitch(ys, h)))


@dataclass(frozen=True, eq=False)
class Blob:
    """One connected moving region (merged across the ±180° seam) at work size."""

    mask: np.ndarray = field(repr=False)  # work-size bool
    area: int
    box: Box  # work pixels
    yaw_deg: float  # camera yaw, circular mean
    pitch_deg: float
    top_pitch_deg: float
    bottom_pitch_deg: float
    width_deg: float
    distance_m: float  # from the ground contact (bottom pitch) and the camera height; inf when unknown

    @property
    def height_deg(self) -> float:
        return self.top_pitch_deg - self.bottom_pitch_deg


@dataclass(frozen=True, eq=False)
class MotionFrame:
    """What the analyzer saw on one frame (all arrays at work size, camera coordinates)."""

    frame_index: int
    video_t: float
    full_shape: tuple[int, int]
    rgb: np.ndarray = field(repr=False)
    gray: np.ndarray = field(repr=False)
    diff: np.ndarray = field(repr=False)  # float32 colour difference to the background
    fg: np.ndarray = field(repr=False)  # bool foreground after clean-up
    blobs: tuple[Blob, ...]
    ego_yaw_deg: float  # camera rotation since the first frame (positive = wearer turned right)
    warm: bool  # background established; cues before that are not trusted
    fine: np.ndarray | None = field(default=None, repr=False)  # frame at fine width (camera coordinates)
    fine_offset: float = 0.0  # world shift of `fine` in fine pixels
    ego: EgoMotion | None = None  # the wearer's own motion at this frame
    walking: bool = False  # the background was warped with the wearer's step
    wearer_xz: tuple[float, float] = (0.0, 0.0)  # the wearer's position in the world frame (metres)


def _union_seam(labels: np.ndarray, n: int) -> np.ndarray:
    """Map of label → representative after joining components that touch across the ±180° seam."""
    parent = np.arange(n)

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = int(parent[a])
        return a

    left, right = labels[:, 0], labels[:, -1]
    both = (left > 0) & (right > 0)
    for a, b in set(zip(left[both].tolist(), right[both].tolist(), strict=True)):
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return np.array([find(i) for i in range(n)])


def _camera_distance(bottom_pitch: float, camera_height_m: float) -> float:
    """Ground distance of a foot point seen at `bottom_pitch` (flat ground); inf at or above the horizon."""
    if bottom_pitch > -2.0:
        return float("inf")
    return camera_height_m / float(np.tan(np.radians(-bottom_pitch)))


def level_blob(blob: Blob, tilt: np.ndarray, camera_height_m: float) -> Blob:
    """A blob seen by a tilted camera with its pitches (and so its foot point's distance) in the level
    frame; `tilt` is `level_matrix(mount pitch, mount roll)`. The yaw stays the camera's: masks and
    boxes are in camera pixels, and a tilt of a few degrees moves yaws near the horizon far less.

    An upright body is a vertical line in the level world but a slanted one in a tilted camera (its
    head at another camera yaw than its feet), so the top and middle are levelled where that line
    through the levelled foot crosses their camera pitch (three fixed-point steps), not at the foot's yaw."""
    def level(yaw: float, pitch: float) -> tuple[float, float]:
        y, p = dir_to_yawpitch(yawpitch_to_dir(yaw, pitch) @ tilt.T)
        return float(y), float(p)

    foot_yaw, bottom = level(blob.yaw_deg, blob.bottom_pitch_deg)
    out = []
    for cam_pitch in (blob.top_pitch_deg, blob.pitch_deg):
        yaw = blob.yaw_deg
        for _ in range(3):
            _y, p = level(yaw, cam_pitch)
            cy, _cp = dir_to_yawpitch(yawpitch_to_dir(foot_yaw, p) @ tilt)  # that level point in the camera
            yaw = float(cy)
        out.append(level(yaw, cam_pitch)[1])
    return replace(blob, pitch_deg=out[1], top_pitch_deg=out[0], bottom_pitch_deg=bottom,
                   distance_m=_camera_distance(bottom, camera_height_m))


def extract_blobs(fg: np.ndarray, min_area: int, camera_height_m: float) -> tuple[Blob, ...]:
    """Connected components of the foreground, merged across the seam, with their angular geometry."""
    h, w = fg.shape
    # Label a vertically dilated copy so a body split into head / torso / legs stays one mover,
    # then keep only the real foreground pixels of each label.
    joined = cv2.dilate(fg.view(np.uint8), _KV)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(joined, connectivity=8)
    labels[~fg] = 0
    if n <= 1:
        return ()
    rep = _union_seam(labels, n)
    blobs: list[Blob] = []
    for r in np.unique(rep[1:]):
        members = np.nonzero(rep == r)[0]
        if int(stats[members, cv2.CC_STAT_AREA].sum()) < min_area:
            continue
        if members.size > 1:
            x0, y0, crop = 0, 0, np.isin(labels, members)
        else:
            x0, y0, bw, bh = (int(v) for v in stats[r, :4])
            crop = labels[y0 : y0 + bh, x0 : x0 + bw] == r
        if int(crop.sum()) < min_area:  # the dilated label was big enough, the real pixels are not
            continue
        geo = mask_geometry(crop, x0, y0, (h, w))
        if geo is None:
            continue
        box, yaw, pitch = geo
        bw, bh = box.x1 - box.x0, box.y1 - box.y0
        if bw <= 2 and bh >= 8 * bw:  # a hair-thin vertical line: an edge the turning misaligned
            continue
        mask = np.zeros((h, w), bool)
        mask[y0 : y0 + crop.shape[0], x0 : x0 + crop.shape[1]] = crop
        blobs.append(blob_of(mask, int(crop.sum()), geo, camera_height_m))
    return tuple(sorted(blobs, key=lambda b: -b.area))


def blob_of(mask: np.ndarray, area: int, geo: tuple[Box, float, float], camera_height_m: float) -> Blob:
    """A Blob from its work-size mask and `mask_geometry` result: top/bottom pitch at the box's outer
    pixel edges, angular width, and the ground distance of its lowest pixel."""
    box, yaw, pitch = geo
    h, w = mask.shape
    top = float(row_pitch(box.y0, h) + 90.0 / h)
    bottom = float(row_pitch(box.y1 - 1, h) - 90.0 / h)
    return Blob(mask, area, box, yaw, pitch, top, bottom, (box.x1 - box.x0) * 360.0 / w,
                _camera_distance(bottom, camera_height_m))


def to_full(mask: np.ndarray, full_shape: tuple[int, int]) -> np.ndarray:
    """Work-size bool mask → full-resolution bool mask (smooth edges by bilinear + threshold)."""
    h, w = full_shape
    if mask.shape == (h, w):
        return mask.astype(bool)
    up = cv2.resize(mask.view(np.uint8) * np.uint8(255), (w, h), interpolation=cv2.INTER_LINEAR)
    return up > 127


def to_work(mask: np.ndarray, work_shape: tuple[int, int]) -> np.ndarray:
    """Full-resolution bool mask → work-size bool mask (area-averaged, majority vote)."""
    h, w = work_shape
    if mask.shape == (h, w):
        return mask.astype(bool)
    down = cv2.resize(mask.astype(np.uint8) * np.uint8(255), (w, h), interpolation=cv2.INTER_AREA)
    return down > 127


def _box_iou(a: Box, b: Box) -> float:
    iw = min(a.x1, b.x1) - max(a.x0, b.x0)
    ih = min(a.y1, b.y1) - max(a.y0, b.y0)
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    return inter / ((a.x1 - a.x0) * (a.y1 - a.y0) + (b.x1 - b.x0) * (b.y1 - b.y0) - inter)
