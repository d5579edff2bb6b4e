"""AsyncCaptioner scheduling, grounding box conventions and the highlight views."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from ego360.core.packets import Box, Caption, CaptionRequest, Track
from ego360.models.vlm.async_runner import AsyncCaptioner
from ego360.models.vlm.grounding import box_units, parse_boxes, smart_resize, view_box_to_equirect
from ego360.models.vlm.views import RED, context_view, highlight, mask_bbox


class GatedBackend:
    """Test double for scheduling only: each call blocks until the test opens its gate."""

    def __init__(self):
        self.started: list[tuple[int, int]] = []
        self.gates: dict[tuple[int, int], threading.Event] = {}
        self.cond = threading.Condition()

    def gate(self, eid: int, frame: int) -> threading.Event:
        with self.cond:
            return self.gates.setdefault((eid, frame), threading.Event())

    def caption(self, request: CaptionRequest) -> Caption:
        with self.cond:
            self.started.append((request.entity_id, request.frame_index))
            self.cond.notify_all()
        self.gate(request.entity_id, request.frame_index).wait(5)
        return Caption(request.entity_id, request.frame_index, request.role, "a", "b", "c at 3 o'clock")

    def wait_started(self, n: int) -> None:
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.started) >= n, 5)


def _req(eid: int, frame: int) -> CaptionRequest:
    return CaptionRequest(entity_id=eid, frame_index=frame, role="victim", kind="person", bearing_deg=0.0, clock=12,
                          distance_hint="", motion_hint="", appearance_hint="")


class FakeClock:
    def __init__(self):
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_one_in_flight_per_entity_and_newest_queued_request_wins():
    be = GatedBackend()
    runner = AsyncCaptioner(be, deadline_s=100.0, workers=2)
    runner.submit(_req(1, 0))
    be.wait_started(1)
    runner.submit(_req(1, 1))  # queued behind the running one
    runner.submit(_req(1, 2))  # replaces frame 1
    runner.submit(_req(2, 2))  # other entity runs in parallel
    be.wait_started(2)
    assert be.started == [(1, 0), (2, 2)]
    for key in [(1, 0), (2, 2), (1, 2)]:
        be.gate(*key).set()
    assert runner.drain(5)
    assert be.started == [(1, 0), (2, 2), (1, 2)]
    got = sorted((c.entity_id, c.frame_index, c.source) for c in runner.poll())
    assert got == [(1, 0, "vlm"), (1, 2, "vlm"), (2, 2, "vlm")]
    s = runner.stats()
    assert (s.submitted, s.completed, s.replaced, s.late, s.failed) == (4, 3, 1, 0, 0)
    assert runner.poll() == []
    runner.close()


def test_late_answer_is_dropped_and_counted():
    be, clock = GatedBackend(), FakeClock()
    runner = AsyncCaptioner(be, deadline_s=1.0, clock=clock)
    first = runner.caption(_req(1, 0))
    assert first.source == "template"  # returned at once, before the VLM ran
    be.wait_started(1)
    clock.t = 5.0  # the answer comes after the deadline
    be.gate(1, 0).set()
    assert runner.drain(5)
    assert runner.poll() == [] and runner.stats().late == 1
    runner.close()


def test_forgotten_entity_answer_is_stale():
    be = GatedBackend()
    runner = AsyncCaptioner(be, deadline_s=100.0)
    runner.submit(_req(3, 0))
    be.wait_started(1)
    runner.forget(3)
    be.gate(3, 0).set()
    assert runner.drain(5)
    assert runner.poll() == [] and runner.stats().stale == 1
    runner.close()


def test_failing_backend_counts_failed():
    class Broken:
        def caption(self, request):
            raise RuntimeError("server down")

    runner = AsyncCaptioner(Broken(), deadline_s=1.0)
    runner.submit(_req(1, 0))
    assert runner.drain(5)
    assert runner.poll() == [] and runner.stats().failed == 1
    runner.close()


# ---------------------------------------------------------------- grounding


def test_smart_resize_matches_transformers():
    tf = pytest.importorskip("transformers.models.qwen2_vl.image_processing_qwen2_vl")
    for h, w, lo, hi in [(480, 640, 3136, 1003520), (1920, 3840, 3136, 256 * 256), (100, 37, 3136, 12845056)]:
        assert smart_resize(h, w, 28, lo, hi) == tf.smart_resize(h, w, 28, lo, hi)


def test_qwen25_boxes_are_absolute_pixels_of_the_resized_image():
    # We sent 640×480; the processor resized to 644×476 (multiples of 28) and the model answers there.
    text = '```json\n[{"view": 0, "label": "perpetrator", "bbox_2d": [322, 238, 644, 476]}]\n```'
    boxes, dropped = parse_boxes(text, [(640, 480)], [(644, 476)], "pixels")
    assert dropped == 0 and len(boxes) == 1
    b = boxes[0]
    assert (b.label, b.view) == ("perpetrator", 0)
    assert (b.x0, b.y0, b.x1, b.y1) == pytest.approx((320, 240, 640, 480))


def test_qwen3_boxes_are_relative_thousandths():
    text = '[{"view": 1, "label": "victim", "bbox_2d": [250, 500, 750, 1000]}]'
    boxes, dropped = parse_boxes(text, [(640, 480), (400, 200)], [(644, 476), (392, 196)], "rel1000")
    assert dropped == 0
    assert (boxes[0].x0, boxes[0].y0, boxes[0].x1, boxes[0].y1) == pytest.approx((100, 100, 300, 200))


def test_malformed_and_outside_proposals_are_dropped_and_counted():
    text = """[{"view": 0, "label": "perpetrator", "bbox_2d": [10, 10, 50, 50]},
              {"view": 5, "label": "victim", "bbox_2d": [10, 10, 50, 50]},
              {"view": 0, "label": "tree", "bbox_2d": [10, 10, 50, 50]},
              {"view": 0, "label": "victim", "bbox_2d": [10, 10, 50]},
              {"view": 0, "label": "victim", "bbox_2d": [60, 10, 50, 50]},
              {"view": 0, "label": "target", "bbox_2d": [900, 900, 990, 990]},
              "junk"]"""
    boxes, dropped = parse_boxes(text, [(100, 100)], [(112, 112)], "pixels")
    assert [b.label for b in boxes] == ["perpetrator"] and dropped == 6
    assert parse_boxes("not json at all", [(100, 100)], [(100, 100)], "pixels") == ([], 1)


def test_box_units_auto():
    assert box_units("auto", "Qwen/Qwen3-VL-4B-Instruct") == "rel1000"
    assert box_units("auto", "/models/Qwen2.5-VL-3B-Instruct") == "pixels"
    assert box_units("rel1000", "anything") == "rel1000"


def test_view_box_maps_to_equirect_through_the_inverse_map():
    class Pinhole:  # 90° view straight ahead, 100×100: u = 50 + 50·tan(yaw)
        def pixel_to_yawpitch(self, u, v):
            yaw = np.degrees(np.arctan((np.asarray(u) - 50) / 50))
            pitch = np.degrees(np.arctan((50 - np.asarray(v)) / 50 * np.cos(np.radians(yaw))))
            return yaw, pitch

    from ego360.models.vlm.grounding import ViewBox

    box = view_box_to_equirect(Pinhole(), ViewBox(0, "victim", 50, 50, 100, 100), (180, 360))
    assert box.x0 == pytest.approx(180) and box.x1 == pytest.approx(225)  # yaw 0..45°
    assert box.y0 == pytest.approx(90) and box.y1 > 90


# ---------------------------------------------------------------- views


def test_highlight_draws_a_red_box_around_the_mask():
    view = np.full((64, 64, 3), 100, np.uint8)
    mask = np.zeros((64, 64), bool)
    mask[20:30, 30:44] = True
    out = highlight(view, mask)
    assert mask_bbox(mask) == (30, 20, 44, 30)
    assert tuple(out[17, 35]) == RED and tuple(out[25, 25]) == (100, 100, 100)
    assert tuple(out[25, 35]) == (100, 100, 100)  # inside untouched: the entity stays visible
    assert highlight(view, np.zeros_like(mask)) is view


def test_context_view_centres_entities_across_the_seam_with_role_colours():
    img = np.zeros((100, 200, 3), np.uint8)
    mask = np.zeros((100, 200), bool)
    t = Track(1, 0, "victim", mask, Box(190.0, 40.0, 210.0, 60.0), bearing_deg=180.0, pitch_deg=0.0)
    out = context_view(img, [t], max_width=200)
    ys, xs = np.nonzero((out == (0, 120, 255)).all(axis=2))
    assert xs.min() > 80 and xs.max() < 120  # the seam-straddling box is drawn whole, mid-picture


def test_follow_view_and_grounding_round_trip_with_perspective_view(scene_equirect):
    projection = pytest.importorskip("ego360.core.projection")
    if not hasattr(projection, "PerspectiveView"):
        pytest.skip("ego360.core.projection.PerspectiveView not available yet")
    from ego360.models.vlm.grounding import ViewBox
    from ego360.models.vlm.views import follow_view, render_mask

    img, mask = scene_equirect("blue", 60.0)
    view = projection.PerspectiveView(60.0, 0.0, 90.0, out_size=(128, 128), equirect_size=(256, 512))
    frame = follow_view(view, img, mask)
    vb = mask_bbox(render_mask(view, mask))
    assert (frame[vb[1] - 3, vb[0]:vb[2]] == RED).all()  # red box drawn just above the entity
    eq = view_box_to_equirect(view, ViewBox(0, "victim", *vb), (256, 512))
    truth = projection.mask_box_wrapped(mask)
    assert abs(eq.x0 - truth.x0) < 3 and abs(eq.x1 - truth.x1) < 3 and abs(eq.y0 - truth.y0) < 3
