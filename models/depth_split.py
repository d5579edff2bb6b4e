"""Split motion blobs where their ground contact jumps: one mover per distance.

Why: while the wearer walks, near structures (walls, parked cars, poles) also differ from the
warped background, and a passer-by in front of a wall merges with it into one blob whose foot point,
distance and velocity belong to neither. Along a blob's columns the lowest pixel is where each part
stands on the ground; where that distance jumps, the parts are different things at different
depths, so the blob is cut there and each part is judged (static or moving) on its own.
"""

from __future__ import annotations

import numpy as np

from ego360.core.geometry import row_pitch
from ego360.models.blobs import Blob, _camera_distance, blob_of, mask_geometry


def blob_from_mask(mask: np.ndarray, camera_height_m: float, cols: tuple[int, int] | None = None) -> Blob | None:
    """A Blob (work size) of a bool equirect mask, with the same geometry `extract_blobs` gives;
    `cols` (first, end) bounds its columns when they do not wrap, so only that crop is scanned."""
    if cols is not None and cols[1] > cols[0]:
        geo = mask_geometry(mask[:, cols[0]:cols[1]], cols[0], 0, mask.shape)
    else:
        geo = mask_geometry(mask)
    return None if geo is None else blob_of(mask, int(mask.sum()), geo, camera_height_m)


def _segments(dist: np.ndarray, present: np.ndarray, rel_tol: float) -> list[tuple[int, int]]:
    """Runs of neighbouring columns whose ground-contact distances agree within `rel_tol`."""
    out: list[tuple[int, int]] = []
    start = None
    for c in range(len(dist) + 1):
        ok = c < len(dist) and present[c]
        if ok and start is not None:
            a, b = dist[c - 1], dist[c]
            same = (np.isinf(a) and np.isinf(b)) or (
                np.isfinite(a) and np.isfinite(b) and abs(a - b) <= rel_tol * min(a, b))
            if not same:
                out.append((start, c))
                start = c
        elif ok:
            start = c
        elif start is not None:
            out.append((start, c))
            start = None
    return out


def split_by_ground_contact(blobs: tuple[Blob, ...], camera_height_m: float, rel_tol: float = 0.3,
                            min_cols: int = 2) -> tuple[Blob, ...]:
    """Each blob cut into column runs of one ground-contact distance; slivers under `min_cols` go."""
    out: list[Blob] = []
    for blob in blobs:
        h, w = blob.mask.shape
        cols = np.arange(int(np.floor(blob.box.x0)), int(np.ceil(blob.box.x1))) % w
        sub = blob.mask[:, cols]
        present = sub.any(axis=0)
        bottom = h - 1 - np.argmax(sub[::-1], axis=0)
        pitch = row_pitch(bottom, h) - 90.0 / h
        dist = np.array([_camera_distance(float(p), camera_height_m) for p in pitch])
        runs = _segments(dist, present, rel_tol)
        if len(runs) <= 1:
            out.append(blob)
            continue
        for a, b in runs:
            if b - a < min_cols:
                continue
            part = np.zeros_like(blob.mask)
            part[:, cols[a:b]] = blob.mask[:, cols[a:b]]
            piece = blob_from_mask(part, camera_height_m, (int(cols[a]), int(cols[b - 1]) + 1))
            if piece is not None:
                out.append(piece)
    return tuple(sorted(out, key=lambda b: -b.area))
