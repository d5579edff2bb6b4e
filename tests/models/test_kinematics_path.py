"""The constant-velocity path fit (bearings precise, foot-point ranges coarse) and the walking score's
per-mover median: a passer-by 2 m to the side is not read as a collision course, a runner is."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from ego360.models.kinematics import History, closest_approach, path_fit

H = 1.6


def _observe(p0, v, t, rng, pitch_noise_deg=0.5, bearing_noise_deg=1.0):
    """Bearings and foot-point ranges of a straight relative path, with the trigger's kind of noise:
    the range comes from the foot point's pitch (one pixel row of noise), the bearing from a centroid."""
    pos = np.asarray(p0)[None, :] + np.asarray(v)[None, :] * t[:, None]
    d = np.hypot(pos[:, 0], pos[:, 1])
    yaw = np.degrees(np.arctan2(pos[:, 0], pos[:, 1])) + rng.normal(0, bearing_noise_deg, t.size)
    pitch = np.degrees(np.arctan2(H, d)) + rng.normal(0, pitch_noise_deg, t.size)
    return yaw, H / np.tan(np.radians(pitch))


def test_exact_path_is_recovered():
    t = np.arange(12) / 15.0
    yaw, d = _observe((2.0, 6.0), (0.0, -2.9), t, np.random.default_rng(0), 0.0, 0.0)
    p, v = path_fit(t - t[-1], yaw, d, H)
    miss, tca = closest_approach(p, v)
    assert miss == pytest.approx(2.0, abs=1e-6)
    assert tca == pytest.approx((6.0 - 2.9 * t[-1]) / 2.9, abs=1e-6)


def test_receding_path_has_no_closest_approach():
    p, v = np.array([1.0, 3.0]), np.array([0.0, 1.0])
    assert closest_approach(p, v) == (float("inf"), None)


def _fit_misses(p0, v, n_trials=200, seed=1):
    rng = np.random.default_rng(seed)
    t = np.arange(16) / 15.0
    fit, slopes = [], []
    for _ in range(n_trials):
        yaw, d = _observe(p0, v, t, rng)
        h = History(camera_height_m=H)
        for ti, yi, di in zip(t, yaw, d, strict=True):
            h.push(float(ti), float(yi), float(di), 20.0)
        k = h.kinematics()
        fit.append(k.path_miss_m)
        slopes.append(k.miss_m)
    return np.asarray(fit), np.asarray(slopes)


def test_passer_by_two_metres_aside_is_not_a_collision_course():
    """A passer-by walking toward a walking wearer (closing at 2.9 m/s) 2 m to the side, 5–8 m away:
    the fitted miss distance stays near 2 m, and tighter than the per-axis slopes' estimate."""
    fit, slopes = _fit_misses((2.0, 8.0), (0.0, -2.9))
    assert np.median(fit) == pytest.approx(2.0, abs=0.3)
    assert np.percentile(fit, 10) > 1.25  # the walking approach ramp starts at 1.25 m
    assert np.percentile(np.abs(fit - 2.0), 75) < np.percentile(np.abs(slopes - 2.0), 75)


def test_runner_on_collision_course_is():
    fit, _ = _fit_misses((4.0, 6.0), (-3.0, -4.5))  # straight at the wearer
    assert np.percentile(fit, 90) < 0.75


def test_walking_score_ignores_a_few_noisy_frames():
    from ego360.core.config import TriggerConfig
    from ego360.models.trigger import STEADY_FRAMES, MotionTrigger

    assert STEADY_FRAMES == 5
    trig = MotionTrigger(TriggerConfig())
    for s in (0.0, 0.0, 0.0):
        assert trig._steady(1, s, "none") == (0.0, "none")
    assert trig._steady(1, 0.9, "approach") == (0.0, "none")  # one frame high: not yet
    assert trig._steady(1, 0.8, "approach") == (0.0, "none")  # two of five: still noise
    assert trig._steady(1, 0.0, "none") == (0.0, "none")  # and it went away
    for s in (0.0, 0.0):
        trig._steady(2, s, "none")
    trig._steady(2, 0.8, "approach")
    trig._steady(2, 0.9, "approach")
    score, cue = trig._steady(2, 0.7, "approach")  # three of five high: the mover is a threat
    assert cue == "approach" and score == pytest.approx(0.7)
    assert math.isfinite(score)


def _walk_past(entity_xz, entity_v, range_scale, wearer_v=(0.0, 1.4), n=16, fps=15.0):
    """A wearer walking along +z past an entity; the entity's range is read `range_scale(i)` times
    too far (a foot point hidden under a fragment's bottom edge), bearings are exact."""
    h = History(camera_height_m=H)
    for i in range(n):
        t = i / fps
        wx, wz = wearer_v[0] * t, wearer_v[1] * t
        ex, ez = entity_xz[0] + entity_v[0] * t, entity_xz[1] + entity_v[1] * t
        dx, dz = ex - wx, ez - wz
        h.push(t, math.degrees(math.atan2(dx, dz)), math.hypot(dx, dz) * range_scale(i), 20.0,
               wearer_xz=(wx, wz))
    return h.kinematics()


def test_a_pole_walked_past_is_not_heading_for_the_path_even_when_its_range_converges():
    """A pole 2 m right of the path, 5 m ahead; its range reads 1.9× too far at first and converges on
    the truth (the legs of a mask reappearing), so the range says 'fast mover'. The bearing swings
    outward as for anything standing there: heads_for_path is 0 and the walking crossing cue is silent."""
    from ego360.models.trigger import heads_for_path

    k = _walk_past((2.0, 5.0), (0.0, 0.0), lambda i: 1.9 - 0.06 * i)
    assert k.own_speed_mps > 2.0  # the over-estimated ranges do make it look like a fast mover
    assert k.path_bearing_deg > 0.0  # right of the path
    assert heads_for_path(k) == 0.0
    true = _walk_past((2.0, 5.0), (0.0, 0.0), lambda i: 1.0)
    assert true.own_speed_mps < 0.3 and heads_for_path(true) == 0.0


def test_a_car_crossing_ahead_heads_for_the_path():
    """A car 10 m right of the path and 9 m ahead, driving left at 7 m/s: it crosses the path in 1.4 s.
    Its bearing swings toward the path: heads_for_path is 1 (also on a collision course from the left)."""
    from ego360.models.trigger import heads_for_path

    k = _walk_past((10.0, 9.0), (-7.0, 0.0), lambda i: 1.0)
    assert k.own_speed_mps == pytest.approx(7.0, abs=0.3)
    assert heads_for_path(k) == 1.0
    left = _walk_past((-6.0, 2.0), (4.2, 0.0), lambda i: 1.0)  # bearing constant: it meets the wearer
    assert heads_for_path(left) == 1.0


def test_standing_wearer_has_no_path_bearing():
    k = _walk_past((2.5, 8.0), (0.0, -1.3), lambda i: 1.0, wearer_v=(0.0, 0.0))
    assert math.isnan(k.path_bearing_deg)


def _overtaken(fragment_samples: int, n: int = 12, fps: float = 15.0):
    """A walking wearer (1.4 m/s along +z) and a passer-by walking the other way 1.2 m to the side: the
    trigger's track held a legs-only fragment for its first `fragment_samples` samples (range read
    2.2× too far, top edge 0.6 m above the ground), then the whole body (true range, top 1.75 m)."""
    h = History(camera_height_m=H)
    for i in range(n):
        t = i / fps
        wz = 1.4 * t
        dx, dz = 1.2, 4.5 - 1.3 * t - wz
        d_true = math.hypot(dx, dz)
        frag = i < fragment_samples
        d, top_m = (2.2 * d_true, 0.6) if frag else (d_true, 1.75)
        h.push(t, math.degrees(math.atan2(dx, dz)), d, 20.0, math.degrees(math.atan2(top_m - H, d)),
               wearer_xz=(0.0, wz))
    return h.kinematics()


def test_a_track_that_switched_from_a_fragment_to_the_body_does_not_score_an_approach():
    """The range falling from the fragment's wrong foot point to the body's true one reads as a fast
    mover on a collision course (dev clip walk_crowd 10: 'person approaching' for someone passing at
    1.5 m). Its recent median top edge is a whole body's, but the velocity came partly from the
    fragment: whole_share says so, and the walking approach stays silent until the window holds only the body."""
    from types import SimpleNamespace

    from ego360.models.trigger import score_walking

    blob = SimpleNamespace(width_deg=4.0, height_deg=25.0)
    mixed = _overtaken(fragment_samples=7)
    assert 0.9 < mixed.top_m < 2.6  # the old test (median of the last five) took it for a whole body
    assert mixed.own_speed_mps > 2.6 and mixed.path_miss_m < 0.9  # and the speed for a runner's
    assert mixed.whole_share < 0.75
    assert score_walking(mixed, blob, 15.0) == (0.0, "none")
    as_if_whole = dataclasses.replace(mixed, whole_share=1.0)
    assert score_walking(as_if_whole, blob, 15.0)[1] == "approach"  # what the old test said
    whole = _overtaken(fragment_samples=0)
    assert whole.whole_share == 1.0
    assert whole.own_speed_mps == pytest.approx(1.3, abs=0.3)
    assert score_walking(whole, blob, 15.0) == (0.0, "none")  # a passer-by at ordinary pace
