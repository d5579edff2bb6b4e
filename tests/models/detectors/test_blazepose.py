"""BlazePose person detector: SSD anchors and box decoding checked exactly, then real people placed in
360° frames at several bearings (across the ±180° seam too) found at the right bearing."""

from __future__ import annotations

import numpy as np
import pytest

from ego360.core.errors import ModelError
from ego360.models.detectors.blazepose import INPUT, BlazePoseDetector, body_box, decode, ssd_anchors


def test_anchors_match_the_pose_detector_output_count_and_grid():
    a = ssd_anchors()
    assert a.shape == (2254, 2)  # 28²·2 + 14²·2 + 7²·6
    # stride 8: 28×28 cells, two anchors per cell, row-major, centres at (i + 0.5) / 28
    assert np.allclose(a[0], [0.5 / 28, 0.5 / 28]) and np.allclose(a[1], a[0])
    assert np.allclose(a[2], [1.5 / 28, 0.5 / 28])
    assert np.allclose(a[56], [0.5 / 28, 1.5 / 28])
    assert np.allclose(a[1568], [0.5 / 14, 0.5 / 14])  # stride 16 starts after 28·28·2
    assert np.allclose(a[1960:1966], [0.5 / 7, 0.5 / 7])  # stride 32: three layers share a 7×7 map, six per cell


def test_decode_recovers_a_known_box_and_keypoints_and_merges_duplicates():
    anchors = ssd_anchors()
    raw = np.zeros((2254, 12), np.float32)
    logits = np.full(2254, -8.0, np.float32)
    k = 28 * 2 * 10 + 2 * 7  # stride-8 cell (x=7, y=10)
    ax, ay = anchors[k]
    face = np.array([0.30, 0.20, 0.42, 0.34])  # x0 y0 x1 y1, normalised
    hip, circ = np.array([0.36, 0.55]), np.array([0.36, 0.15])
    cx, cy, w, h = (face[0] + face[2]) / 2, (face[1] + face[3]) / 2, face[2] - face[0], face[3] - face[1]
    raw[k, :4] = [(cx - ax) * INPUT, (cy - ay) * INPUT, w * INPUT, h * INPUT]
    raw[k, 4:8] = [(hip[0] - ax) * INPUT, (hip[1] - ay) * INPUT, (circ[0] - ax) * INPUT, (circ[1] - ay) * INPUT]
    logits[k] = 3.0
    raw[k + 1] = raw[k]  # the cell's second anchor says the same with a lower score: merged, not doubled
    logits[k + 1] = 1.0
    out = decode(raw, logits, anchors, min_score=0.5)
    assert len(out) == 1
    score, box, kps = out[0]
    assert score == pytest.approx(1 / (1 + np.exp(-3.0)))
    assert np.allclose(box, face, atol=1e-5) and np.allclose(kps[0], hip, atol=1e-5)
    (x0, y0, x1, y1), foot = body_box(box, kps)
    assert y0 == pytest.approx(0.15, abs=1e-5) and y1 == pytest.approx(0.95, abs=1e-5)  # the hip circle
    assert foot == pytest.approx((0.36, 0.95), abs=1e-5) and x0 < 0.36 < x1


def test_missing_model_is_one_line_naming_the_setup_script(tmp_path):
    with pytest.raises(ModelError, match="scripts/setup.sh") as e:
        BlazePoseDetector(tmp_path)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("yaw", [0.0, 45.0, 100.0, 180.0, -135.0])
def test_real_person_in_a_360_frame_is_found_at_its_bearing(model_dir, real_people, street, place, yaw):
    """The person of the real clip, detected on the source frame (the detector's home ground), is placed
    at `yaw` with the projection; on the cube faces it must be found within 3° of where it was put."""
    from ego360.models.detectors.cube import CubeFaceDetector

    det = BlazePoseDetector(model_dir)
    cube = CubeFaceDetector(det, street.shape[:2], 224)
    for img in real_people:
        ref = max(det.detect(img), key=lambda r: r.score)
        eq, view = place(img, street, yaw, fov=70.0, pitch=-10.0)
        h, w = img.shape[:2]
        truth, _ = view.pixel_to_yawpitch((ref.x0 + ref.x1) / 2 * w, (ref.y0 + ref.y1) / 2 * h)
        found = [d for d in cube.detect(eq, 0) if d.kind == "person"]
        assert found, f"no person found at yaw {yaw}"
        best = min(found, key=lambda d: abs(float(np.mod(d.bearing_deg - truth + 180, 360) - 180)))
        err = abs(float(np.mod(best.bearing_deg - truth + 180, 360) - 180))
        assert err < 3.0, f"bearing {best.bearing_deg:.1f} vs {truth:.1f}"
        assert 1.5 < best.distance_m < 6.0  # a person ~1.7 m tall spanning ~30° stands about 3 m away
