"""Issue 13: no bearing jump > 45° between consecutive processed frames for one entity id.

On walking dev clips (seeds 9–12) 8 of 32 replays had an id jump 59–164°: either it took over a
foreground blob centred far away (a passer-by or a parallax rim merged with it), or its mask emptied
and its track was reported at bearing 0 ("straight ahead"). Ground truth here is geometric: masks
placed at known yaws on a 512×256 work equirect.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ego360.core.config import Config
from ego360.core.packets import FramePacket
from ego360.models.blobs import MotionFrame, blob_of, mask_geometry
from ego360.models.tracker_classical import ClassicalTracker, _jumps

W, H = 512, 256


def _mask(yaw0: float, yaw1: float, rows: tuple[int, int] = (110, 150)) -> np.ndarray:
    m = np.zeros((H, W), bool)
    x0, x1 = int((yaw0 / 360 + 0.5) * W), int((yaw1 / 360 + 0.5) * W)
    cols = np.arange(x0, x1 + 1) % W
    m[rows[0]:rows[1], cols] = True
    return m


def _frame(index: int, masks: list[np.ndarray]) -> MotionFrame:
    z = np.zeros((H, W), np.uint8)
    blobs = tuple(blob_of(m, int(m.sum()), mask_geometry(m), 1.6) for m in masks)
    return MotionFrame(index, index / 15, (H, W), np.zeros((H, W, 3), np.uint8), z, z.astype(np.float32),
                       z.astype(bool), blobs, 0.0, True)


def test_jump_measure_is_circular():
    assert _jumps(_mask(-5, 5), _mask(55, 65))
    assert not _jumps(_mask(-5, 5), _mask(25, 35))
    assert not _jumps(_mask(170, 178), _mask(-178, -170))  # 16° across the seam
    assert _jumps(_mask(170, 178), _mask(-120, -110))


def test_an_entity_does_not_take_over_a_blob_centred_far_away():
    trk = ClassicalTracker(Config())
    own = _mask(-4, 4)
    trk.add(FramePacket(0, 0.0, 0, np.zeros((H, W, 3), np.uint8)), 1, own, "perpetrator")
    # next frame: the only mover overlapping it is a long blob (a rim of a wall) centred 70° away
    rim = _mask(-2, 140, rows=(120, 140))
    out = trk._resegment({1: own}, _frame(2, [rim]))
    yaw = mask_geometry(out[1])[1]
    assert abs(yaw) < 10.0 and trk._objs[1].unsupported == 1
    # the same overlap with a blob centred nearby is taken (the gate does not freeze normal tracking)
    near = _mask(-3, 12)
    out = trk._resegment({1: own}, _frame(4, [near]))
    assert np.array_equal(out[1], near) and trk._objs[1].unsupported == 0


def test_a_lost_entity_is_reported_where_it_was_last_seen_not_straight_ahead():
    trk = ClassicalTracker(Config())
    obj_mask = _mask(100, 110)
    trk.add(FramePacket(0, 0.0, 0, np.zeros((H, W, 3), np.uint8)), 3, obj_mask, "related")
    obj = trk._objs[3]
    mf = _frame(0, [])
    mf = dataclasses.replace(mf, full_shape=(H, W))
    trk.motion.refine = lambda _mf, m: m  # no fine background in this synthetic frame
    seen = trk._to_track(3, obj, mf)
    assert 100 < seen.bearing_deg < 110 and seen.score == 1.0
    obj.mask = np.zeros((H, W), bool)  # the mask emptied (everything it held left the view)
    lost = trk._to_track(3, obj, mf)
    assert lost.bearing_deg == seen.bearing_deg and lost.score == 0.0
