"""The mount's calibrated pitch/roll reach every motion distance (issue 13 item 4: "used for every distance").

Ground truth: a person's foot point placed in the level world at a known bearing and distance, seen
through a tilted mount with `Mounting.wearer_to_camera` (the same convention `ego360 calibrate` writes).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from ego360.core.geometry import Mounting, level_matrix
from ego360.core.packets import Box
from ego360.models.blobs import Blob, level_blob
from ego360.models.structure import _sample


def _blob_seen_by(mount: Mounting, bearing: float, dist: float, height: float) -> Blob:
    foot = -math.degrees(math.atan2(mount.height_m, dist))
    head = math.degrees(math.atan2(height - mount.height_m, dist))
    fyaw, fpitch = mount.wearer_to_camera(bearing, foot)
    _hyaw, hpitch = mount.wearer_to_camera(bearing, head)
    cam_d = mount.height_m / math.tan(math.radians(-float(fpitch))) if fpitch < -2 else math.inf
    return Blob(np.zeros((1, 1), bool), 1, Box(0, 0, 1, 1), float(fyaw), float((fpitch + hpitch) / 2),
                float(hpitch), float(fpitch), 3.0, cam_d)


@pytest.mark.parametrize("pitch,roll", [(-8.0, 5.0), (6.0, -4.0), (-12.0, 0.0)])
@pytest.mark.parametrize("bearing", [-150.0, -90.0, 0.0, 40.0, 90.0, 170.0])
def test_level_blob_recovers_the_ground_distance_of_a_tilted_mount(pitch, roll, bearing):
    mount = Mounting(0.0, pitch, roll, 1.6)
    for dist in (2.0, 5.0, 9.0):
        blob = _blob_seen_by(mount, bearing, dist, 1.75)
        fixed = level_blob(blob, level_matrix(pitch, roll), mount.height_m)
        assert fixed.distance_m == pytest.approx(dist, rel=0.03)
        assert fixed.top_pitch_deg == pytest.approx(math.degrees(math.atan2(0.15, dist)), abs=0.3)
    # without levelling the same blobs are wrong by a lot somewhere (else this test proves nothing)
    raw = [_blob_seen_by(mount, bearing, d, 1.75).distance_m / d for d in (5.0, 9.0)]
    if abs(pitch * math.cos(math.radians(bearing)) - roll * math.sin(math.radians(bearing))) > 3.0:
        assert max(abs(math.log(r)) if math.isfinite(r) else 9.0 for r in raw) > 0.25


def test_level_mount_leaves_blobs_alone():
    mount = Mounting(0.0, 0.0, 0.0, 1.6)
    blob = _blob_seen_by(mount, 30.0, 4.0, 1.75)
    fixed = level_blob(blob, level_matrix(0.0, 0.0), 1.6)
    assert fixed.distance_m == pytest.approx(blob.distance_m)
    assert fixed.bottom_pitch_deg == pytest.approx(blob.bottom_pitch_deg)


def test_motion_analyzer_takes_the_mount_tilt():
    from ego360.models.motion import MotionAnalyzer

    m = MotionAnalyzer(tilt_deg=(-8.0, 5.0))
    assert m.ego.tilt_deg == (-8.0, 5.0) and m.ego._att == (-8.0, 5.0)  # walking levels with it
    m.ego.reset()
    assert m.ego._att == (-8.0, 5.0)
    assert MotionAnalyzer()._tilt is None  # a level mount costs nothing


def test_structure_sampling_handles_more_points_than_opencv_maps_allow():
    """A foreground larger than 32767 pixels (a lighting jump) once crashed the walking path."""
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (256, 512, 3)).astype(np.float32)
    n = 40_000
    ys, xs = rng.integers(0, 256, n), rng.integers(0, 512, n)
    out = _sample(img, xs.astype(np.float32), ys.astype(np.float32))
    assert out.shape == (n, 3)
    np.testing.assert_allclose(out, img[ys, xs], atol=1e-3)

