"""Detections on cube faces → equirect boxes, wearer bearings and distances, merged across edges.

Why cube faces: trained detectors expect an ordinary perspective picture; a 90° cube face is one (with
the exact face geometry of `ego360.core.projection.Cubemap`), and four side faces cover every bearing.
A person cut by a face edge is seen on both neighbouring faces, and one standing on the ±180° seam on
the back face only; both cases end as one detection here, because boxes are merged in *angles*
(yaw wrapped), not in face pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ego360.core.geometry import Mounting, wrap_deg
from ego360.core.packets import Box, Detection
from ego360.core.projection import FACE_NAMES, Cubemap
from ego360.models.detectors.base import ImageDetector, RawDetection

SIDE_FACES = (0, 1, 2, 3)  # F R B L: the up/down faces hold sky and the wearer's own body
_FACE_YAW = (0.0, 90.0, 180.0, -90.0)


def ground_distance(foot_pitch_deg: float, camera_height_m: float) -> float:
    """Flat-ground distance of a foot point seen `foot_pitch_deg` below the horizon (inf at or above −2°,
    where a pixel of error would mean tens of metres); the same rule as the motion blobs'."""
    if foot_pitch_deg > -2.0:
        return float("inf")
    return camera_height_m / math.tan(math.radians(-foot_pitch_deg))


@dataclass(frozen=True)
class _Angular:
    """A detection in angles (camera yaw centre/half-width, pitch range), for merging across faces."""

    yaw: float
    half: float
    p_lo: float
    p_hi: float

    def iou(self, o: _Angular) -> float:
        d = abs(float(wrap_deg(self.yaw - o.yaw)))
        iw = max(0.0, min(self.half + o.half - d, 2 * min(self.half, o.half)))
        ih = max(0.0, min(self.p_hi, o.p_hi) - max(self.p_lo, o.p_lo))
        inter = iw * ih
        union = 2 * self.half * (self.p_hi - self.p_lo) + 2 * o.half * (o.p_hi - o.p_lo) - inter
        return inter / union if union > 0 else 0.0

    def touches(self, o: _Angular, gap_deg: float = 3.0) -> bool:
        """Side by side in yaw (a body cut by a face edge) with most of the shorter one's pitch shared."""
        d = abs(float(wrap_deg(self.yaw - o.yaw)))
        ih = min(self.p_hi, o.p_hi) - max(self.p_lo, o.p_lo)
        return d - self.half - o.half < gap_deg and ih > 0.5 * min(self.p_hi - self.p_lo, o.p_hi - o.p_lo)

    def union(self, o: _Angular) -> _Angular:
        rel = float(wrap_deg(o.yaw - self.yaw))
        lo, hi = min(-self.half, rel - o.half), max(self.half, rel + o.half)
        return _Angular(float(wrap_deg(self.yaw + (lo + hi) / 2)), (hi - lo) / 2, min(self.p_lo, o.p_lo),
                        max(self.p_hi, o.p_hi))


@dataclass(frozen=True)
class _Hit:
    raw: RawDetection
    face: int
    ang: _Angular
    foot_yaw: float  # camera frame
    foot_pitch: float


class CubeFaceDetector:
    """Runs an `ImageDetector` on selected cube faces of equirect frames and answers `Detection`s."""

    def __init__(self, detector: ImageDetector, equirect_size: tuple[int, int], face_w: int = 224,
                 mounting: Mounting | None = None, camera_height_m: float = 1.6, merge_iou: float = 0.3):
        self.detector = detector
        self.H, self.W = (int(s) for s in equirect_size)
        self.cube = Cubemap(int(face_w), (self.H, self.W))
        self.mounting = mounting or Mounting()
        self.camera_height_m = float(camera_height_m)
        self.merge_iou = float(merge_iou)
        self.runs = 0  # detector calls so far (one per face)

    def faces_for(self, camera_yaws: list[float] | tuple[float, ...] | None, margin_deg: float = 15.0
                  ) -> tuple[int, ...]:
        """Side faces whose yaw span (±45° plus a margin, so an entity near an edge is seen whole on one
        face) holds one of the camera yaws; all four when there are none."""
        if not camera_yaws:
            return SIDE_FACES
        keep = {f for f in SIDE_FACES for y in camera_yaws
                if abs(float(wrap_deg(y - _FACE_YAW[f]))) <= 45.0 + margin_deg}
        return tuple(sorted(keep))

    def detect(self, image: np.ndarray, frame_index: int, faces: tuple[int, ...] = SIDE_FACES
               ) -> tuple[Detection, ...]:
        """Detections on `faces` of one RGB equirect frame, merged across faces, best first."""
        cubes = self.cube.faces(image)
        hits = []
        for f in faces:
            self.runs += 1
            hits += [self._to_angles(r, f) for r in self.detector.detect(cubes[f])]
        return tuple(self._to_detection(group, frame_index) for group in self._merge(hits))

    # ---- geometry
    def _to_angles(self, r: RawDetection, face: int) -> _Hit:
        fw = self.cube.face_w
        t = np.linspace(0.0, 1.0, 9)
        xs = np.concatenate([r.x0 + t * (r.x1 - r.x0), np.full(9, r.x1), r.x0 + t * (r.x1 - r.x0), np.full(9, r.x0)])
        ys = np.concatenate([np.full(9, r.y0), r.y0 + t * (r.y1 - r.y0), np.full(9, r.y1), r.y0 + t * (r.y1 - r.y0)])
        yaw, pitch = self.cube.face_pixel_to_yawpitch(face, xs * fw, ys * fw)
        cyaw, _ = self.cube.face_pixel_to_yawpitch(face, (r.x0 + r.x1) / 2 * fw, (r.y0 + r.y1) / 2 * fw)
        rel = wrap_deg(yaw - cyaw)
        lo, hi = float(np.min(rel)), float(np.max(rel))
        ang = _Angular(float(wrap_deg(cyaw + (lo + hi) / 2)), (hi - lo) / 2, float(np.min(pitch)),
                       float(np.max(pitch)))
        fx, fy = r.foot if r.foot is not None else ((r.x0 + r.x1) / 2, r.y1)
        foot_yaw, foot_pitch = self.cube.face_pixel_to_yawpitch(face, fx * fw, fy * fw)
        return _Hit(r, face, ang, float(foot_yaw), float(foot_pitch))

    def _merge(self, hits: list[_Hit]) -> list[list[_Hit]]:
        """Greedy, best score first: a hit joins a group of its kind it overlaps (IoU in angles) or,
        coming from another face, touches side by side."""
        groups: list[tuple[_Angular, list[_Hit]]] = []
        for h in sorted(hits, key=lambda h: -h.raw.score):
            for k, (ang, members) in enumerate(groups):
                if members[0].raw.kind != h.raw.kind:
                    continue
                other_face = all(m.face != h.face for m in members)
                if ang.iou(h.ang) > self.merge_iou or (other_face and ang.touches(h.ang)):
                    groups[k] = (ang.union(h.ang), members + [h])
                    break
            else:
                groups.append((h.ang, [h]))
        return [members for _, members in groups]

    def _to_detection(self, group: list[_Hit], frame_index: int) -> Detection:
        ang = group[0].ang
        for h in group[1:]:
            ang = ang.union(h.ang)
        best = group[0]
        lowest = max(group, key=lambda h: -h.foot_pitch)  # the foot point seen lowest (a cut body's other half)
        foot = best if best.raw.foot is not None else lowest
        W, H = self.W, self.H
        x0 = (float(wrap_deg(ang.yaw - ang.half)) / 360.0 + 0.5) * W
        x0 = x0 % W
        box = Box(x0, (0.5 - ang.p_hi / 180.0) * H, x0 + 2 * ang.half / 360.0 * W, (0.5 - ang.p_lo / 180.0) * H)
        yaw, pitch = self.mounting.camera_to_wearer(ang.yaw, (ang.p_lo + ang.p_hi) / 2)
        _, foot_pitch = self.mounting.camera_to_wearer(foot.foot_yaw, foot.foot_pitch)
        faces = "".join(FACE_NAMES[f] for f in sorted({h.face for h in group}))
        return Detection(frame_index, best.raw.kind, best.raw.label, best.raw.score, box, float(yaw), float(pitch),
                         float(foot_pitch), ground_distance(float(foot_pitch), self.camera_height_m), faces)
