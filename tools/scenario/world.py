"""A world with depth around the camera: a textured ground plane and static structures.

The panorama stays at infinity (only rotation moves it), but the ground under a walking wearer and
the poles, parked cars, walls, benches and bins beside the path are at finite distance, so their
image motion depends on the camera's translation — the parallax an ego-motion estimator must explain
and a motion trigger must not mistake for an approaching person. Everything here is fixed in WORLD
coordinates; the renderer moves the camera through it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ego360.tools.scenario.scene import COLOURS, GROUND_Y, Part, Path2D, Vehicle, box, rot_y

TEXEL_M = 0.025  # ground texture resolution (2.5 cm)
TEX_N = 2048  # texels a side: a 51.2 m world patch, tiled
TEX_X0 = -20.0  # world x of texture column 0 (the street runs along world z)


@dataclass(frozen=True)
class Ground:
    """Textured ground plane at y = GROUND_Y, drawn out to `fade_end_m` (horizontal distance) and
    blended into the panorama's own lower half from `fade_start_m` on. `kerb_x`: where pavement
    gives way to the road (world x, m; the road runs along world z), `road_width`: its width."""

    seed: int = 0
    road_side: int = 1  # −1: the whole layout mirrored (road on the left, kerb at −kerb_x)
    kerb_x: float = 3.5
    road_width: float = 7.0
    shadows: bool = True
    fade_start_m: float = 22.0
    fade_end_m: float = 38.0


@lru_cache(maxsize=4)
def ground_mips(ground: Ground) -> tuple[np.ndarray, ...]:
    """The ground texture (RGB uint8, TEX_N²) and its area-averaged mip levels down to 32², so
    distant ground is filtered rather than aliased (aliasing would shimmer like false motion)."""
    import cv2

    rng = np.random.default_rng([ground.seed, 77])
    n, span = TEX_N, TEX_N * TEXEL_M  # every pattern below has a period dividing `span`: no seam
    xs = TEX_X0 + (np.arange(n) + 0.5) * TEXEL_M  # columns
    zs = (np.arange(n) + 0.5) * TEXEL_M  # rows
    tiles = 100
    tile = span / tiles
    # every pattern is separable in x and z, so it is built from 1-D arrays (no n² index grids)
    ix = np.mod(np.floor(xs / tile).astype(np.int64), tiles)
    iz = np.mod(np.floor(zs / tile).astype(np.int64), tiles)
    shade = rng.uniform(-14, 14, size=(tiles, tiles)).astype(np.float32)
    img = np.empty((n, n, 3), np.float32)
    img[:] = np.array([152, 146, 136], np.float32)
    img += shade[ix][:, iz].T[..., None]
    grout = (np.mod(xs, tile) < 0.02)[None, :] | (np.mod(zs, tile) < 0.02)[:, None]
    img[grout] = np.array([105, 100, 94], np.float32)
    road = (xs > ground.kerb_x + 0.2) & (xs < ground.kerb_x + 0.2 + ground.road_width)
    img[:, road] = np.array([74, 74, 78], np.float32)
    img[:, (xs >= ground.kerb_x) & (xs <= ground.kerb_x + 0.2)] = np.array([185, 185, 180], np.float32)
    mid = ground.kerb_x + 0.2 + ground.road_width / 2
    dash = (np.abs(xs - mid) < 0.07)[None, :] & (np.mod(zs, span / 8) < span / 16)[:, None]
    img[dash] = np.array([225, 225, 215], np.float32)
    img[:, road & (np.abs(xs - ground.kerb_x - 0.45) < 0.06)] = np.array([210, 205, 190], np.float32)
    img += rng.standard_normal(size=(n, n, 1), dtype=np.float32) * np.float32(7.0)  # grain
    # low-frequency periodic wear so the tiling does not look printed: Σ sin(a·x + b·z + φ), each
    # term split as sin(ax+φ)cos(bz) + cos(ax+φ)sin(bz) into one small matrix product
    zcols, xrows = [], []
    for _ in range(6):
        m, k = rng.integers(1, 7, size=2)
        ax = 2 * np.pi * m * xs / span + rng.uniform(0, 2 * np.pi)
        bz = 2 * np.pi * k * zs / span
        zcols += [np.cos(bz), np.sin(bz)]
        xrows += [np.sin(ax), np.cos(ax)]
    stains = np.stack(zcols, axis=1).astype(np.float32) @ np.stack(xrows).astype(np.float32)
    img *= (1.0 + 0.03 * stains)[..., None]
    if ground.shadows:  # world-fixed building shadows across the path: lighting that changes as you walk
        shadow = np.zeros(n, np.float32)
        for z0, w in zip(rng.uniform(0, span, size=3), rng.uniform(1.0, 3.0, size=3), strict=True):
            dz = np.abs(np.mod(zs - z0 + span / 2, span) - span / 2)
            shadow = np.maximum(shadow, np.clip((w / 2 - dz) / 0.3, 0, 1))
        img *= (1.0 - 0.35 * shadow)[:, None, None]
    if ground.road_side < 0:  # mirror x about 0: column i shows what column k − i showed (x_i → −x_i)
        k = round(-2 * TEX_X0 / TEXEL_M) - 1
        img = img[:, np.mod(k - np.arange(n), n)]
    levels = [np.clip(img, 0, 255).astype(np.uint8)]
    while levels[-1].shape[0] > 32:
        s = levels[-1].shape[0] // 2
        levels.append(cv2.resize(levels[-1], (s, s), interpolation=cv2.INTER_AREA))
    for lev in levels:
        lev.setflags(write=False)
    return tuple(levels)


def backdrop(background: np.ndarray, ground: Ground | None, rays: np.ndarray, rot: np.ndarray,
             camera: np.ndarray, max_tilt_deg: float) -> np.ndarray:
    """Panorama at infinity plus (optionally) the ground plane, seen by a camera at world `camera`
    whose rotation world→camera is `rot`. `rays`: the frame's unit camera rays (H×W×3).

    Only row bands that can contain each layer are computed: the panorama above the nearest fade
    distance's pitch, the ground below the horizon (both widened by the head tilt)."""
    import cv2

    H, W = rays.shape[:2]
    height = float(camera[1] - GROUND_Y)
    margin = max_tilt_deg + 1.0
    row_pitch = 90.0 - (np.arange(H) + 0.5) * 180.0 / H
    fade0 = ground.fade_start_m if ground is not None else math.inf
    # Without a ground plane the panorama is the whole frame (a tilted standing camera sees its lower rows too).
    pano_rows = (np.flatnonzero(row_pitch > -math.degrees(math.atan2(height, fade0)) - margin)
                 if ground is not None else np.arange(H))
    ground_rows = np.flatnonzero(row_pitch < margin) if ground is not None else np.arange(0)
    img = np.empty((H, W, 3), np.uint8)
    r0 = int(pano_rows[0]) if len(pano_rows) else H
    g0 = int(ground_rows[0]) if len(ground_rows) else H
    rot32 = rot.astype(np.float32)
    if r0 < H:
        r1 = int(pano_rows[-1]) + 1
        mx, my = pano_maps(rot, r0, r1, W, H, background.shape[1], background.shape[0])
        img[r0:r1] = cv2.remap(background, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)
    if ground is None or g0 >= H:
        return img
    dg = rays[g0:] @ rot32  # world directions (row vectors): d_world = rotᵀ d_cam
    colour, weight = _ground_colour(ground, dg, camera, height, W)
    band = img[g0:]
    if r0 <= g0:  # blend with the panorama where the fade reaches it
        w = weight.astype(np.float32)
        img[g0:] = cv2.blendLinear(colour, band, w, np.float32(1.0) - w)
    else:
        img[g0:] = colour
    return img


def _yaw_pitch(rows: np.ndarray, cols: np.ndarray, W: int, H: int) -> tuple[np.ndarray, np.ndarray]:
    """Camera yaw/pitch (deg) of (fractional) pixel index coordinates, pixel centres at integers."""
    return (cols + 0.5) / W * 360.0 - 180.0, 90.0 - (rows + 0.5) * 180.0 / H


def _world_yaw_pitch(rot: np.ndarray, yaw: np.ndarray, pitch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y, p = np.broadcast_arrays(np.radians(yaw).astype(np.float32), np.radians(pitch).astype(np.float32))
    cp = np.cos(p)
    r = rot.astype(np.float32)
    dx, dy, dz = (cp * np.sin(y) * r[0, i] + np.sin(p) * r[1, i] + cp * np.cos(y) * r[2, i] for i in range(3))
    return np.degrees(np.arctan2(dx, dz)), np.degrees(np.arcsin(np.clip(dy, -1, 1)))


def pano_maps(rot: np.ndarray, r0: int, r1: int, W: int, H: int, bw: int, bh: int,
              step: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """cv2.remap maps (rows r0..r1 of the frame) into a bw×bh panorama seen through world→camera `rot`.

    The exact map costs two transcendental calls per pixel (a third of a walking frame's time at
    1920×960). Away from the poles the map is the camera's own yaw/pitch plus a small, smooth
    correction (the head tilt), so the correction is computed on a `step`-times coarser grid and
    interpolated (arc error < 0.01 px at 1920×960); rows within 20° of a pole are computed exactly."""
    import cv2

    c = math.degrees(math.atan2(rot[2, 0], rot[2, 2]))  # world yaw of the camera's forward axis
    rows = np.arange(r0, r1)
    yaw_c, pitch_c = _yaw_pitch(rows.astype(np.float64), np.arange(W, dtype=np.float64), W, H)
    near = np.abs(pitch_c) <= 70.0
    dyaw = np.empty((r1 - r0, W), np.float32)
    dpitch = np.empty((r1 - r0, W), np.float32)
    if near.any() and W % step == 0:
        m0, m1 = r0 + int(np.flatnonzero(near)[0]), r0 + int(np.flatnonzero(near)[-1]) + 1
        m1 = m0 + -(-(m1 - m0) // step) * step
        if m1 > H:
            m0, m1 = m0 - (m1 - H), H
        # one coarse sample of padding on every side, so interpolation never clamps at an edge
        cr = m0 + step * np.arange(-1, (m1 - m0) // step + 1) + (step - 1) / 2
        cc = step * np.arange(-1, W // step + 1) + (step - 1) / 2
        yc, pc = _yaw_pitch(cr[:, None], cc[None, :], W, H)
        yw, pw = _world_yaw_pitch(rot, yc, pc)
        coarse_y = ((yw - yc - c + 180.0) % 360.0 - 180.0).astype(np.float32)
        coarse_p = (pw - pc).astype(np.float32)
        size = (W + 2 * step, m1 - m0 + 2 * step)
        inner = (slice(step, step + m1 - m0), slice(step, step + W))
        fine_y = cv2.resize(coarse_y, size, interpolation=cv2.INTER_LINEAR)[inner]
        fine_p = cv2.resize(coarse_p, size, interpolation=cv2.INTER_LINEAR)[inner]
        a, b = max(m0, r0), min(m1, r1)
        dyaw[a - r0:b - r0], dpitch[a - r0:b - r0] = fine_y[a - m0:b - m0], fine_p[a - m0:b - m0]
    exact = np.flatnonzero(~near) if W % step == 0 else np.arange(r1 - r0)
    if exact.size:
        yw, pw = _world_yaw_pitch(rot, np.broadcast_to(yaw_c, (exact.size, W)), pitch_c[exact][:, None])
        dyaw[exact] = (yw - yaw_c - c + 180.0) % 360.0 - 180.0
        dpitch[exact] = pw - pitch_c[exact][:, None]
    mx, my = dyaw, dpitch  # in place: these are full-frame arrays
    mx += (yaw_c + c).astype(np.float32)[None, :]
    mx *= np.float32(bw / 360.0)
    mx += np.float32(bw / 2 - 0.5)
    my += pitch_c.astype(np.float32)[:, None]
    my *= np.float32(-bh / 180.0)
    my += np.float32(bh / 2 - 0.5)
    np.clip(my, 0, bh - 1, out=my)
    return mx, my


def _ground_colour(ground: Ground, d: np.ndarray, camera: np.ndarray, height: float,
                   W: int) -> tuple[np.ndarray, np.ndarray]:
    """Texture colour (uint8) and panorama-blend weight (1 = ground) for world rays `d` (h×W×3).

    The mip level is chosen per row (from the row's mean ray): with a head tilt of a few degrees the
    true per-pixel level differs by at most one near a level boundary, which only changes blur."""
    import cv2

    down = np.maximum(-d[..., 1], np.float32(1e-3))
    t = np.minimum(np.float32(height) / down, np.float32(120.0))  # rays above the horizon: far, weight 0
    tx, tz = t * d[..., 0], t * d[..., 2]
    horiz = np.sqrt(tx * tx + tz * tz)
    inv_span = np.float32(1 / (ground.fade_end_m - ground.fade_start_m))
    weight = np.clip((np.float32(ground.fade_end_m) - horiz) * inv_span, 0, 1)
    row_down = down.mean(axis=1)
    footprint = height / row_down * (2 * math.pi / W) / np.maximum(row_down, 0.02) / TEXEL_M
    level = np.clip(np.floor(np.log2(np.maximum(footprint, 1.0))), 0, 30).astype(int)
    live = weight.max(axis=1) > 0
    mips = ground_mips(ground)
    level = np.minimum(level, len(mips) - 1)
    out = np.zeros(d.shape[:2] + (3,), np.uint8)
    rows = np.flatnonzero(live)
    if rows.size == 0:
        return out, weight
    edges = np.flatnonzero(np.diff(level[rows])) + 1
    for block in np.split(rows, edges):
        r0, r1 = int(block[0]), int(block[-1]) + 1
        tex = mips[int(level[r0])]
        scale = np.float32(tex.shape[0] / (TEX_N * TEXEL_M))
        # BORDER_WRAP tiles the patch; coordinates stay far inside remap's int16 range (t ≤ 120 m)
        mx = (tx[r0:r1] + np.float32(camera[0] - TEX_X0)) * scale - np.float32(0.5)
        mz = (tz[r0:r1] + np.float32(camera[2])) * scale - np.float32(0.5)
        out[r0:r1] = cv2.remap(tex, mx, mz, cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)
    return out, weight


# ---------------------------------------------------------------- static structures

@dataclass(frozen=True)
class Structure:
    """A static thing beside the path, as Parts in world coordinates (built once)."""

    kind: str  # pole | parked_car | wall | bench | bin
    x: float
    z: float
    parts: tuple[Part, ...]


def clearance(structure: Structure, points: np.ndarray) -> float:
    """Least horizontal distance (m) from any of `points` (N×2 world x, z) to the structure's footprint
    (boxes as oriented rectangles, ellipsoids as discs of their bounding radius)."""
    best = math.inf
    for part in structure.parts:
        rel = points - part.centre[[0, 2]]
        if part.kind == "box":
            ax = part.axes[[0, 2]][:, [0, 2]]  # the x and z axes' ground components (upright boxes)
            local = np.abs(rel @ ax) - part.half[[0, 2]]
            dist = np.linalg.norm(np.maximum(local, 0.0), axis=1)
        else:
            dist = np.maximum(np.linalg.norm(rel, axis=1) - part.radius, 0.0)
        best = min(best, float(dist.min()))
    return best


def pole(x: float, z: float, height: float = 3.2, width: float = 0.12, colour=(70, 75, 80)) -> Structure:
    """A lamp post / sign pole: a thin square column from the ground."""
    part = box([x, GROUND_Y + height / 2, z], [width / 2, height / 2, width / 2], np.eye(3), colour)
    return Structure("pole", x, z, (part,))


def parked_car(x: float, z: float, heading: float = 0.0, colour: str = "grey") -> Structure:
    car = Vehicle(-1, Path2D.of([(0.0, x, z), (1.0, x, z)]), colour=colour)
    parts = car.parts(0.0)
    if heading != 0.0:  # re-orient around the car's own centre
        rot = rot_y(heading)
        origin = np.array([x, 0.0, z])
        parts = [_moved(p, rot, origin) for p in parts]
    return Structure("parked_car", x, z, tuple(parts))


def wall(x: float, z: float, length: float, heading: float = 0.0, height: float = 3.0,
         colour=(170, 150, 130)) -> Structure:
    """A facade/wall segment centred at (x, z), running along `heading` (0 = along world z).

    Built from ~1 m × 1.5 m tiles: the renderer's per-part window is a bounding sphere, and one 7 m
    wall's sphere seen from 4 m covers ~5× the pixels the wall does (most of the render time)."""
    axes = rot_y(heading)
    nu, nv = max(1, round(length / 1.0)), max(1, round(height / 1.5))
    du, dv = length / nu, height / nv
    base = np.array([x, GROUND_Y, z])
    parts = tuple(box(base + axes @ np.array([0.0, (j + 0.5) * dv, -length / 2 + (i + 0.5) * du]),
                      [0.1, dv / 2, du / 2], axes, colour) for i in range(nu) for j in range(nv))
    return Structure("wall", x, z, parts)


def bench(x: float, z: float, heading: float = 0.0, colour=(115, 75, 40)) -> Structure:
    axes = rot_y(heading)
    grey = (60, 60, 65)

    def at(lx: float, ly: float, lz: float) -> np.ndarray:
        return np.array([x, GROUND_Y, z]) + axes @ np.array([lx, ly, lz])

    parts = (box(at(0, 0.45, 0), [0.22, 0.03, 0.8], axes, colour), box(at(0.2, 0.7, 0), [0.03, 0.2, 0.8], axes, colour),
             box(at(0, 0.21, -0.65), [0.2, 0.21, 0.04], axes, grey),
             box(at(0, 0.21, 0.65), [0.2, 0.21, 0.04], axes, grey))
    return Structure("bench", x, z, parts)


def bin_(x: float, z: float, colour: str = "green") -> Structure:
    part = box([x, GROUND_Y + 0.45, z], [0.25, 0.45, 0.25], np.eye(3), COLOURS[colour])
    return Structure("bin", x, z, (part,))


def _moved(part: Part, rot: np.ndarray, origin: np.ndarray) -> Part:
    """`part` rotated by `rot` about the vertical axis through `origin`."""
    r = Part(part.kind, part.centre - origin, part.colour, part.radius, q=part.q, axes=part.axes, half=part.half)
    r = r.rotated(rot)
    return Part(r.kind, r.centre + origin, r.colour, r.radius, q=r.q, axes=r.axes, half=r.half)
