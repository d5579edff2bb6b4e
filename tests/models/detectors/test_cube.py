"""Cube-face detections → equirect boxes and wearer bearings, merged across face edges and the seam.

A fake detector answers boxes built from known directions (projected onto each face with the cube's own
geometry), so every bearing and merge below is known exactly."""

from __future__ import annotations

import numpy as np
import pytest

from ego360.core.geometry import Mounting
from ego360.core.projection import Cubemap
from ego360.models.detectors.base import RawDetection
from ego360.models.detectors.cube import SIDE_FACES, CubeFaceDetector

H, W, FW = 240, 480, 64


class _Known:
    """Answers, on each face, the part of an angular box (yaw range, pitch range) that falls on it."""

    name = "known"

    def __init__(self, boxes: list[tuple[float, float, float, float, str]]):
        self.boxes = boxes
        self.cube = Cubemap(FW, (H, W))
        self.face = 0

    def detect(self, image: np.ndarray) -> list[RawDetection]:
        out = []
        for y0, y1, p0, p1, label in self.boxes:
            yaws = np.linspace(y0, y1, 41)[:, None] * np.ones((1, 41))
            pitches = np.ones((41, 1)) * np.linspace(p0, p1, 41)[None, :]
            u, v, front = self.cube.yawpitch_to_face_pixel(self.face, yaws, pitches)
            with np.errstate(invalid="ignore"):
                ok = front & (u >= 0) & (u <= FW) & (v >= 0) & (v <= FW)
            if ok.sum() > 20:
                out.append(RawDetection(u[ok].min() / FW, v[ok].min() / FW, u[ok].max() / FW, v[ok].max() / FW,
                                        0.9, label))
        self.face = (self.face + 1) % 4
        return out


def _run(boxes, mounting=None):
    det = _Known(boxes)
    cube = CubeFaceDetector(det, (H, W), FW, mounting=mounting)
    return cube.detect(np.zeros((H, W, 3), np.uint8), 7, SIDE_FACES)


def test_a_box_inside_one_face_keeps_its_bearing_and_pitch():
    (d,) = _run([(20.0, 30.0, -20.0, 10.0, "person")])
    assert d.kind == "person" and d.faces == "F" and d.frame_index == 7
    assert d.bearing_deg == pytest.approx(25.0, abs=0.6)
    # the face box of an angular box is a little taller (pinhole): within 2.5° of its pitch range
    assert d.box.y0 == pytest.approx((0.5 - 10 / 180) * H, abs=3.3) and d.box.y1 == pytest.approx((0.5 + 20 / 180) * H,
                                                                                                  abs=3.3)
    assert d.distance_m == pytest.approx(1.6 / np.tan(np.radians(20.0)), rel=0.05)


def test_a_box_cut_by_a_face_edge_is_one_detection():
    (d,) = _run([(35.0, 55.0, -25.0, 5.0, "person")])  # the F|R edge is at 45°
    assert d.faces == "FR"
    assert d.bearing_deg == pytest.approx(45.0, abs=0.6)
    assert (d.box.x1 - d.box.x0) / W * 360 == pytest.approx(20.0, abs=1.5)


def test_a_box_on_the_seam_is_one_detection_with_x1_past_w():
    (d,) = _run([(172.0, 188.0, -20.0, 0.0, "car")])
    assert d.kind == "vehicle" and d.faces == "B"
    assert abs(abs(d.bearing_deg) - 180.0) < 0.6
    assert d.box.x0 < W < d.box.x1


def test_bearings_are_wearer_relative_through_the_mounting():
    (d,) = _run([(80.0, 100.0, -20.0, 0.0, "person")], Mounting(yaw_offset_deg=30.0))
    assert d.bearing_deg == pytest.approx(60.0, abs=0.6)


def test_two_kinds_side_by_side_stay_apart_and_active_faces_cover_their_yaws():
    ds = _run([(20.0, 30.0, -20.0, 0.0, "person"), (31.0, 40.0, -20.0, 0.0, "dog")])
    assert sorted(d.kind for d in ds) == ["animal", "person"]
    cube = CubeFaceDetector(_Known([]), (H, W), FW)
    assert cube.faces_for([10.0]) == (0,) and cube.faces_for([50.0]) == (0, 1) and cube.faces_for([179.0]) == (2,)
    assert cube.faces_for([]) == SIDE_FACES
