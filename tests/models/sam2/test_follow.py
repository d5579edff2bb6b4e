"""Follow-view adapter: geometry with a recording stand-in stream, and an end-to-end smoke run on the
real PyTorch backend (random weights: only shapes and bookkeeping are checked there)."""

from __future__ import annotations

import numpy as np
import pytest

from ego360.core.packets import FramePacket

H, W = 128, 256


class _EchoStream:
    """Returns, on every frame, the view-space mask it was seeded with (a perfect static tracker)."""

    def __init__(self):
        self.masks, self.images = {}, []

    def add_object(self, frame_idx, image, obj_id, *, mask):
        self.masks[obj_id] = mask
        self.images.append(image.shape)

    def track(self, image, frame_idx=None):
        from ego360.models.sam2.streaming import MaskOut

        self.images.append(image.shape)
        return {i: MaskOut(np.where(m, 5.0, -5.0).astype(np.float32), m) for i, m in self.masks.items()}

    def remove_object(self, obj_id):
        self.masks.pop(obj_id)


def _frame(i=0):
    rng = np.random.default_rng(i)
    return FramePacket(i, i / 30, i, (rng.random((H, W, 3)) * 255).astype(np.uint8))


def _iou(a, b):
    return (a & b).sum() / max((a | b).sum(), 1)


@pytest.mark.parametrize("x0", [100, 240])  # 240: the mask wraps the ±180° seam
def test_mask_round_trips_through_the_follow_view(x0):
    pytest.importorskip("cv2")
    from ego360.models.sam2.follow import FollowViewTracker

    seed = np.zeros((H, W), bool)
    cols = np.arange(x0, x0 + 30) % W
    seed[50:75, cols] = True
    streams = []
    tracker = FollowViewTracker(lambda: streams.append(_EchoStream()) or streams[-1], view_size=128, fov_deg=90)
    tracker.add(_frame(0), 4, seed, "target", "person")
    (track,) = tracker.track(_frame(1))
    assert track.entity_id == 4 and track.role == "target" and track.kind == "person"
    assert _iou(track.mask, seed) > 0.85
    expected_yaw = ((x0 + 15) / W - 0.5) * 360
    assert abs(((track.bearing_deg - expected_yaw + 180) % 360) - 180) < 3
    assert track.box.x1 - track.box.x0 <= 32
    assert streams[0].images == [(128, 128, 3)] * 2
    tracker.remove(4)
    assert tracker.entity_ids() == [] and tracker.track(_frame(2)) == []


def test_create_tracker_runs_sam2_torch_end_to_end(require_sam2):
    from ego360.core.config import Config, TrackerConfig
    from ego360.core.geometry import Mounting
    from ego360.models.registry import create_tracker

    cfg = TrackerConfig(backend="sam2-torch", checkpoint="random:0", image_size=64, view_size=64)
    tracker = create_tracker(Config(tracker=cfg), Mounting())
    seed = np.zeros((H, W), bool)
    seed[40:70, 120:150] = True
    tracker.add(_frame(0), 1, seed, "perpetrator")
    for i in range(1, 4):
        (track,) = tracker.track(_frame(i))
        assert track.mask.shape == (H, W) and track.mask.dtype == bool and track.frame_index == i
        assert -180 < track.bearing_deg <= 180 and 0.0 <= track.score <= 1.0


def test_missing_checkpoint_is_a_model_error(require_sam2):
    from ego360.core.config import Config, TrackerConfig
    from ego360.core.errors import ModelError
    from ego360.core.geometry import Mounting
    from ego360.models.registry import create_tracker

    with pytest.raises(ModelError, match="tracker.checkpoint"):
        create_tracker(Config(tracker=TrackerConfig(backend="sam2-torch", checkpoint="", image_size=64)), Mounting())
