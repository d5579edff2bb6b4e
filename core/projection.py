"""Equirect ↔ cube faces / perspective views, with the inverse maps trackers need.

Pixel coordinates here are *continuous*: pixel (col i, row j) covers [i, i+1) × [j, j+1), so its
centre is (i + 0.5, j + 0.5) and the integer index is floor(x). That matches the project's equirect
convention x = (yaw/360 + 0.5)·W, y = (0.5 − pitch/180)·H and `Box` (x0 inclusive, x1 exclusive).

`Cubemap.faces` is bit-identical to `py360convert.e2c(..., cube_format="list")` (1.0.x): the same
float32 coordinate math and the same fixed-point `cv2.remap` maps, but computed once per size and
applied to all channels in one remap. py360convert pads every channel by one pixel (top/bottom
rows rolled by W/2, columns wrapped) on every call; we get the column wrap from BORDER_WRAP and
re-sample only the few output pixels whose taps touch the rolled rows from a two-row strip.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from ego360.core.errors import InputError
from ego360.core.geometry import (  # noqa: F401  (pixel helpers used by callers of projection too)
    _scalar,
    dir_to_yawpitch,
    equirect_px_to_yawpitch,
    wrap_deg,
    yawpitch_to_dir,
    yawpitch_to_equirect_px,
)
from ego360.core.packets import Box

FACE_NAMES = ("F", "R", "B", "L", "U", "D")
# (yaw, pitch) of each face's centre, in py360convert's F R B L U D order.
_FACE_YAWPITCH = ((0.0, 0.0), (90.0, 0.0), (180.0, 0.0), (-90.0, 0.0), (0.0, 90.0), (0.0, -90.0))
_INTERP = {"bilinear": cv2.INTER_LINEAR, "nearest": cv2.INTER_NEAREST}


def mask_centroid_yawpitch(mask: np.ndarray) -> tuple[float, float] | None:
    """Centre of an equirect mask as (yaw, pitch) degrees; None when empty.

    Yaw is a circular mean so a mask straddling the ±180° seam gets a centre near 180, not near 0.
    """
    m = np.asarray(mask, dtype=bool)
    H, W = m.shape
    col_w = m.sum(axis=0, dtype=np.float64)
    total = col_w.sum()
    if total == 0:
        return None
    yaw = np.radians((np.arange(W) + 0.5) / W * 360.0 - 180.0)
    mean_yaw = math.degrees(math.atan2(float(col_w @ np.sin(yaw)), float(col_w @ np.cos(yaw))))
    row_pitch = (0.5 - (np.arange(H) + 0.5) / H) * 180.0
    mean_pitch = float(m.sum(axis=1, dtype=np.float64) @ row_pitch) / total
    return wrap_deg(mean_yaw), mean_pitch


def mask_box_wrapped(mask: np.ndarray) -> Box | None:
    """Tightest box around an equirect mask, choosing the seam-crossing box when it is narrower.

    The box leaves out the widest run of empty columns (circularly), so x1 may exceed W; a mask
    touching every column gets x0 = 0, x1 = W. None when the mask is empty.
    """
    m = np.asarray(mask, dtype=bool)
    W = m.shape[1]
    cols = np.flatnonzero(m.any(axis=0))
    if cols.size == 0:
        return None
    rows = np.flatnonzero(m.any(axis=1))
    y0, y1 = float(rows[0]), float(rows[-1] + 1)
    gaps = np.diff(cols) - 1
    wrap_gap = cols[0] + W - cols[-1] - 1
    if gaps.size and gaps.max() > wrap_gap:
        i = int(np.argmax(gaps))
        return Box(float(cols[i + 1]), y0, float(cols[i] + 1 + W), y1)
    return Box(float(cols[0]), y0, float(cols[-1] + 1), y1)


# ---------------------------------------------------------------- pinhole geometry (inverse maps)

def _rotation(yaw_deg: float, pitch_deg: float) -> np.ndarray:
    """Columns: the view's right, up and forward axes in world coordinates (x right, y up, z ahead)."""
    y, p = math.radians(yaw_deg), math.radians(pitch_deg)
    fwd = [math.sin(y) * math.cos(p), math.sin(p), math.cos(y) * math.cos(p)]
    right = [math.cos(y), 0.0, -math.sin(y)]
    up = [-math.sin(y) * math.sin(p), math.cos(p), -math.cos(y) * math.sin(p)]
    return np.array([right, up, fwd]).T


@dataclass(frozen=True, eq=False)
class _Pinhole:
    """A pinhole view: u = cx + f·X/Z, v = cy − f·Y/Z in continuous pixel coordinates."""

    rot: np.ndarray
    f: float
    cx: float
    cy: float
    w: int
    h: int

    def pixel_to_yawpitch(self, u: Any, v: Any) -> tuple[Any, Any]:
        u = np.asarray(u, dtype=np.float64)
        v = np.asarray(v, dtype=np.float64)
        cam = np.stack([(u - self.cx) / self.f, (self.cy - v) / self.f, np.ones_like(u)], axis=-1)
        yaw, pitch = dir_to_yawpitch(cam @ self.rot.T)
        return _scalar(yaw), _scalar(pitch)

    def yawpitch_to_pixel(self, yaw: Any, pitch: Any) -> tuple[Any, Any, Any]:
        """(u, v, in_front); u and v are NaN where the direction is behind the view."""
        cam = yawpitch_to_dir(yaw, pitch) @ self.rot
        z = cam[..., 2]
        front = z > 1e-9
        with np.errstate(divide="ignore", invalid="ignore"):
            u = np.where(front, self.cx + self.f * cam[..., 0] / z, np.nan)
            v = np.where(front, self.cy - self.f * cam[..., 1] / z, np.nan)
        return _scalar(u), _scalar(v), (bool(front) if np.ndim(front) == 0 else front)

    def sample_map(self, H: int, W: int) -> np.ndarray:
        """float32 (h, w, 2) equirect *index* coordinates (pixel centres at integers) for cv2.remap.

        Built by broadcasting row and column terms in float32 (error ≪ 0.01 px): follow views are
        rebuilt whenever the tracked entity moves, so this must stay cheap.
        """
        a = ((np.arange(self.w, dtype=np.float32) + 0.5 - self.cx) / self.f)[None, :]
        b = ((self.cy - 0.5 - np.arange(self.h, dtype=np.float32)) / self.f)[:, None]
        r = self.rot.astype(np.float32)
        dx, dy, dz = (a * r[i, 0] + b * r[i, 1] + r[i, 2] for i in range(3))
        x = np.arctan2(dx, dz) * np.float32(W / (2 * np.pi)) + np.float32(W / 2 - 0.5)
        y = np.arctan2(dy, np.hypot(dx, dz)) * np.float32(-H / np.pi) + np.float32(H / 2 - 0.5)
        # x stays in [-0.5, W - 0.5] (BORDER_WRAP handles the seam); y is clipped to the valid rows so
        # the wrap never reaches across a pole.
        out = np.empty((self.h, self.w, 2), np.float32)
        out[..., 0] = x
        np.clip(y, 0, H - 1, out=out[..., 1])
        return out

    def _contains(self, yaw: float, pitch: float, rect: tuple[float, float, float, float]) -> bool:
        u, v, front = self.yawpitch_to_pixel(yaw, pitch)
        return bool(front) and rect[0] <= u <= rect[2] and rect[1] <= v <= rect[3]

    def footprint(self, H: int, W: int, rect: tuple[float, float, float, float]) -> tuple[np.ndarray, np.ndarray]:
        """Equirect rows and (wrapped) columns that can land inside `rect` (u0, v0, u1, v1) of the view.

        The extremes of yaw and pitch over a pinhole rectangle lie on its border unless it holds a
        pole, so sampling the border (plus a 1° margin for the bulge between samples) is enough.
        """
        u0, v0, u1, v1 = rect
        t = np.linspace(0.0, 1.0, 65)
        us = np.concatenate([u0 + t * (u1 - u0), np.full_like(t, u1), u0 + t * (u1 - u0), np.full_like(t, u0)])
        vs = np.concatenate([np.full_like(t, v0), v0 + t * (v1 - v0), np.full_like(t, v1), v0 + t * (v1 - v0)])
        yaw, pitch = self.pixel_to_yawpitch(us, vs)
        north, south = self._contains(0.0, 90.0, rect), self._contains(0.0, -90.0, rect)
        p_hi = 90.0 if north else min(90.0, float(pitch.max()) + 1.0)
        p_lo = -90.0 if south else max(-90.0, float(pitch.min()) - 1.0)
        r0 = max(0, int(math.floor((0.5 - p_hi / 180.0) * H)))
        r1 = min(H, int(math.ceil((0.5 - p_lo / 180.0) * H)) + 1)
        rows = np.arange(r0, r1)
        if north or south:
            return rows, np.arange(W)
        centre = float(self.pixel_to_yawpitch((u0 + u1) / 2, (v0 + v1) / 2)[0])
        rel = wrap_deg(yaw - centre)
        lo, hi = centre + float(rel.min()) - 1.0, centre + float(rel.max()) + 1.0
        if hi - lo >= 360.0:
            return rows, np.arange(W)
        c0 = int(math.floor((lo / 360.0 + 0.5) * W))
        c1 = int(math.ceil((hi / 360.0 + 0.5) * W))
        return rows, np.mod(np.arange(c0, c1 + 1), W)

    def back_projection(self, H: int, W: int, rect: tuple[int, int, int, int] | None = None) -> tuple:
        """For every equirect pixel landing in `rect` (default: the whole view): (rows, cols, view_v, view_u)."""
        u0, v0, u1, v1 = rect if rect is not None else (0, 0, self.w, self.h)
        rows, cols = self.footprint(H, W, (u0, v0, u1, v1))
        rr, cc = np.meshgrid(rows, cols, indexing="ij")
        yaw, pitch = equirect_px_to_yawpitch(cc + 0.5, rr + 0.5, W, H)
        u, v, front = self.yawpitch_to_pixel(yaw, pitch)
        with np.errstate(invalid="ignore"):
            ok = front & (u >= u0) & (u < u1) & (v >= v0) & (v < v1)
        iu = np.minimum(np.floor(u[ok]).astype(np.int32), self.w - 1)
        iv = np.minimum(np.floor(v[ok]).astype(np.int32), self.h - 1)
        return rr[ok].astype(np.int32), cc[ok].astype(np.int32), iv, iu

    def mask_to_equirect(self, mask: np.ndarray, H: int, W: int, table: tuple | None = None) -> np.ndarray:
        """Nearest view pixel per equirect pixel; without a cached `table` only the mask's bounding
        box is back-projected, so small masks in ever-moving follow views stay cheap."""
        m = np.asarray(mask, dtype=bool)
        if m.shape != (self.h, self.w):
            raise InputError(f"view mask is {m.shape[1]}×{m.shape[0]} but the view is {self.w}×{self.h}; "
                             "pass a mask of the view's size")
        out = np.zeros((H, W), dtype=bool)
        if table is None:
            vs, us = np.flatnonzero(m.any(axis=1)), np.flatnonzero(m.any(axis=0))
            if vs.size == 0:
                return out
            table = self.back_projection(H, W, (int(us[0]), int(vs[0]), int(us[-1]) + 1, int(vs[-1]) + 1))
        rows, cols, iv, iu = table
        out[rows, cols] = m[iv, iu]
        return out


def _check_image(img: np.ndarray, H: int, W: int, what: str) -> np.ndarray:
    if not isinstance(img, np.ndarray) or img.ndim not in (2, 3) or img.shape[:2] != (H, W):
        shape = getattr(img, "shape", None)
        raise InputError(f"equirect image has shape {shape} but this {what} was built for {W}×{H}; "
                         "build it with the frame's size")
    return np.ascontiguousarray(img)


def _check_mode(mode: str) -> int:
    if mode not in _INTERP:
        raise ValueError(f"unknown interpolation mode {mode!r}; choose one of {', '.join(_INTERP)}")
    return _INTERP[mode]


# ---------------------------------------------------------------- cube faces

@dataclass(frozen=True, eq=False)
class _CubeTables:
    """Fixed-point remap maps in face-stacked layout (6·fw rows) plus the pole-row fix-ups."""

    map1: np.ndarray  # int16 (6fw, fw, 2), integer parts in *unpadded* image coordinates
    map2: np.ndarray | None  # uint16 interpolation-table indices (None for nearest)
    fixups: tuple[tuple[np.ndarray, np.ndarray, np.ndarray | None], ...]  # (flat idx, map1, map2) top, bottom


def _py360_face_coords(face_w: int, H: int, W: int) -> tuple[np.ndarray, np.ndarray]:
    """py360convert's float32 `xyzcube` → `xyz2uv` → `uv2coor` (+1 for its padding), face-stacked."""
    rng = np.linspace(-0.5, 0.5, num=face_w, dtype=np.float32)
    x, y = np.meshgrid(rng, -rng)
    x_flip, y_flip = np.flip(x, 1), np.flip(y, 0)
    half = np.full_like(x, 0.5)
    faces = ((x, y, half), (half, y, x_flip), (x_flip, y, -half),
             (-half, y, x), (x, half, y_flip), (x, -half, y))
    xyz = np.stack([np.stack(f, axis=-1) for f in faces]).reshape(6 * face_w, face_w, 3)
    xs, ys, zs = xyz[..., 0], xyz[..., 1], xyz[..., 2]
    u = np.arctan2(xs, zs)
    v = np.arctan2(ys, np.hypot(xs, zs))
    coor_x = (u / (2 * np.pi) + 0.5) * W - 0.5
    coor_y = (-v / np.pi + 0.5) * H - 0.5
    return coor_x + 1, coor_y + 1


@functools.lru_cache(maxsize=16)
def _cube_tables(face_w: int, H: int, W: int, mode: str) -> _CubeTables:
    nearest = mode == "nearest"
    cx, cy = _py360_face_coords(face_w, H, W)
    map1, map2 = cv2.convertMaps(cx, cy, cv2.CV_16SC2, nninterpolation=nearest)
    map1 = map1 - np.int16(1)  # padded → unpadded integer coordinates; fractions unchanged
    y = map1[..., 1].ravel()
    # Taps on padded row 0 / row H+1 (rolled by W/2 in py360convert) cannot come from BORDER_WRAP.
    hits = ((y == -1, -1), (y == (H if nearest else H - 1), H - 1))
    fixups = []
    for sel, first_row in hits:
        idx = np.flatnonzero(sel)
        m1 = map1.reshape(-1, 2)[idx].reshape(1, -1, 2).copy()
        m1[..., 1] -= np.int16(first_row)
        m2 = None if map2 is None else map2.ravel()[idx].reshape(1, -1).copy()
        fixups.append((idx, m1, m2))
    for arr in (map1, map2):
        if arr is not None:
            arr.setflags(write=False)
    return _CubeTables(map1, map2, tuple(fixups))


class Cubemap:
    """Six cube faces F R B L U D of an equirect frame, exactly as `py360convert.e2c` (1.0.x) cuts them.

    Face pixel (col u, row v) uses py360convert's grid: face-plane coordinate a = −0.5 + (u − 0.5)/(fw − 1),
    so the outermost pixel *centres* lie on the cube edges (neighbouring faces overlap by half a pixel).
    """

    def __init__(self, face_w: int, equirect_size: tuple[int, int], mode: str = "bilinear") -> None:
        self._interp = _check_mode(mode)
        if int(face_w) < 2:
            raise ValueError(f"face_w must be at least 2, got {face_w}")
        self.face_w = int(face_w)
        self.H, self.W = (int(s) for s in equirect_size)
        if self.H < 2 or self.W < 2 or max(self.H, self.W) > 32000:
            raise ValueError(f"equirect size {self.W}×{self.H} is not supported (2..32000 pixels a side)")
        self.mode = mode
        self._tables = _cube_tables(self.face_w, self.H, self.W, mode)
        fw = self.face_w
        self._faces = tuple(_Pinhole(_rotation(*yp), (fw - 1) / 2, fw / 2, fw / 2, fw, fw) for yp in _FACE_YAWPITCH)

    def faces(self, equirect: np.ndarray) -> np.ndarray:
        """(6, fw, fw[, C]) faces of an (H, W[, C]) equirect image, in F R B L U D order."""
        img = _check_image(equirect, self.H, self.W, "Cubemap")
        t = self._tables
        out = cv2.remap(img, t.map1, t.map2, self._interp, borderMode=cv2.BORDER_WRAP)
        flat = out.reshape(out.shape[0] * out.shape[1], -1)
        strips = (np.stack([np.roll(img[0], self.W // 2, axis=0), img[0]]),
                  np.stack([img[-1], np.roll(img[-1], self.W // 2, axis=0)]))
        for (idx, m1, m2), strip in zip(t.fixups, strips, strict=True):
            if idx.size:
                vals = cv2.remap(strip, m1, m2, self._interp, borderMode=cv2.BORDER_WRAP)
                flat[idx] = vals.reshape(idx.size, -1)
        return out.reshape(6, self.face_w, self.face_w, *img.shape[2:])

    def _face(self, face_idx: int) -> _Pinhole:
        if not 0 <= int(face_idx) < 6:
            raise ValueError(f"face index must be 0..5 ({' '.join(FACE_NAMES)}), got {face_idx}")
        return self._faces[int(face_idx)]

    def face_pixel_to_yawpitch(self, face_idx: int, u: Any, v: Any) -> tuple[Any, Any]:
        """Continuous face pixel coordinates → (yaw, pitch) degrees; vectorised."""
        return self._face(face_idx).pixel_to_yawpitch(u, v)

    def yawpitch_to_face_pixel(self, face_idx: int, yaw: Any, pitch: Any) -> tuple[Any, Any, Any]:
        """(yaw, pitch) → (u, v, in_front) on one face; u, v are NaN behind it (may fall outside the face)."""
        return self._face(face_idx).yawpitch_to_pixel(yaw, pitch)

    def face_mask_to_equirect(self, face_idx: int, mask: np.ndarray) -> np.ndarray:
        """A mask drawn on one face → bool (H, W) equirect mask (nearest face pixel per equirect pixel)."""
        face = self._face(face_idx)
        table = _cube_backprojection(self.face_w, self.H, self.W, int(face_idx))
        return face.mask_to_equirect(mask, self.H, self.W, table)


@functools.lru_cache(maxsize=12)
def _cube_backprojection(face_w: int, H: int, W: int, face_idx: int) -> tuple:
    fw = face_w
    face = _Pinhole(_rotation(*_FACE_YAWPITCH[face_idx]), (fw - 1) / 2, fw / 2, fw / 2, fw, fw)
    return face.back_projection(H, W)


# ---------------------------------------------------------------- perspective (follow) views

# Follow views move every frame and a 512² view's tables take ~3.5 MB, so the cache stays small.
@functools.lru_cache(maxsize=16)
def _view_tables(yaw: float, pitch: float, fov: float, w: int, h: int, H: int, W: int) -> tuple:
    f = (w / 2.0) / math.tan(math.radians(fov) / 2.0)
    cam = _Pinhole(_rotation(yaw, pitch), f, w / 2.0, h / 2.0, w, h)
    fmap = cam.sample_map(H, W)
    map1, map2 = cv2.convertMaps(fmap, None, cv2.CV_16SC2)
    return cam, fmap, map1, map2


class PerspectiveView:
    """A pinhole view of the equirect frame looking at (yaw, pitch) with horizontal FOV `fov_deg`.

    No in-plane roll: the view's up axis stays in the vertical plane. Lookup tables are shared
    through an LRU cache keyed by all parameters, so re-creating a view for the same direction is free.
    """

    def __init__(self, yaw_deg: float, pitch_deg: float, fov_deg: float,
                 out_size: tuple[int, int] = (512, 512), equirect_size: tuple[int, int] = (960, 1920),
                 mode: str = "bilinear") -> None:
        self._interp = _check_mode(mode)
        if not 0.0 < float(fov_deg) < 179.0:
            raise ValueError(f"fov_deg must be in (0, 179), got {fov_deg}")
        if not -90.0 <= float(pitch_deg) <= 90.0:
            raise ValueError(f"pitch_deg must be in [-90, 90], got {pitch_deg}")
        self.yaw_deg, self.pitch_deg, self.fov_deg = wrap_deg(float(yaw_deg)), float(pitch_deg), float(fov_deg)
        self.width, self.height = (int(s) for s in out_size)
        self.H, self.W = (int(s) for s in equirect_size)
        if min(self.width, self.height, self.H, self.W) < 1 or max(self.H, self.W) > 32000:
            raise ValueError(f"bad sizes: view {out_size}, equirect {equirect_size}")
        self.mode = mode
        self._key = (self.yaw_deg, self.pitch_deg, self.fov_deg, self.width, self.height, self.H, self.W)
        self._cam, self._fmap, self._map1, self._map2 = _view_tables(*self._key)

    @property
    def vfov_deg(self) -> float:
        return math.degrees(2 * math.atan(self.height / 2 / self._cam.f))

    def render(self, equirect: np.ndarray) -> np.ndarray:
        """(h, w[, C]) view of an (H, W[, C]) equirect image."""
        img = _check_image(equirect, self.H, self.W, "PerspectiveView")
        if self._interp == cv2.INTER_NEAREST:
            return cv2.remap(img, self._fmap, None, cv2.INTER_NEAREST, borderMode=cv2.BORDER_WRAP)
        return cv2.remap(img, self._map1, self._map2, cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)

    def mask_from_equirect(self, mask: np.ndarray) -> np.ndarray:
        """bool (h, w) view of a bool (H, W) equirect mask (nearest neighbour)."""
        m = _check_image(np.asarray(mask, dtype=np.uint8), self.H, self.W, "PerspectiveView")
        return cv2.remap(m, self._fmap, None, cv2.INTER_NEAREST, borderMode=cv2.BORDER_WRAP) > 0

    def pixel_to_yawpitch(self, u: Any, v: Any) -> tuple[Any, Any]:
        """Continuous view pixel coordinates → equirect (yaw, pitch) degrees; vectorised."""
        return self._cam.pixel_to_yawpitch(u, v)

    def view_to_equirect_px(self, u: Any, v: Any) -> tuple[Any, Any]:
        """Continuous view pixel coordinates → continuous equirect (x, y)."""
        return yawpitch_to_equirect_px(*self._cam.pixel_to_yawpitch(u, v), self.W, self.H)

    def equirect_to_view_points(self, yaw: Any, pitch: Any) -> tuple[Any, Any, Any]:
        """Equirect directions → (u, v, in_front) in view pixels; u, v are NaN behind the view and
        may fall outside [0, w) × [0, h) in front of it."""
        return self._cam.yawpitch_to_pixel(yaw, pitch)

    def mask_to_equirect(self, mask: np.ndarray) -> np.ndarray:
        """A bool (h, w) mask drawn in the view → bool (H, W) equirect mask."""
        return self._cam.mask_to_equirect(mask, self.H, self.W)
