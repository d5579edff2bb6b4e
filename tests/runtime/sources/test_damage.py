"""Damage at the source (issue 14 item 0): the quality checks on synthetic damage, the key-frame wait,
timestamp gaps and the trigger stage's re-warm — each test fails if its check is taken out."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ego360.core.config import TriggerConfig
from ego360.core.packets import FramePacket
from ego360.runtime.sources.damage import FROZEN_S, DamageGuard
from ego360.runtime.sources.quality import QualityCheck


@pytest.fixture(scope="module")
def frames(synth):
    """Street frames (960×480) with a person walking up from +150°: real texture, sensor noise."""
    scene = synth.approach_scene(width=960)
    return [scene.render(i)[0] for i in range(0, 150, 3)]


def _grey_block(img: np.ndarray, rows: slice, cols: slice) -> np.ndarray:
    """What a decoder shows for macroblocks whose reference it never received: Y = U = V = 128."""
    out = img.copy()
    out[rows, cols] = 128
    return out


def _smear(img: np.ndarray, y0: int, y1: int, mb: int = 16) -> np.ndarray:
    """Error concealment that stretches each macroblock row's top line down the row."""
    out = img.copy()
    for y in range(y0, y1, mb):
        out[y:y + mb] = out[y]
    return out


def test_clean_frames_pass_and_the_checks_find_grey_and_smeared_damage(frames):
    q = QualityCheck()
    verdicts = [q.check(f, i / 10) for i, f in enumerate(frames[:10])]
    assert not any(v.damaged or v.abrupt or v.frozen for v in verdicts)
    grey = q.check(_grey_block(frames[10], slice(200, 480), slice(0, 960)), 1.0)
    assert grey.damaged and grey.reason == "grey"
    small_grey = q.check(_grey_block(frames[10], slice(300, 380), slice(400, 560)), 1.05)  # 2.7 % of blocks
    assert not small_grey.damaged  # below GREY_FRACTION: a small flat patch is not a broken frame
    smear = q.check(_smear(frames[11], 160, 320), 1.1)
    assert smear.damaged and smear.reason == "smear"
    after = q.check(frames[12], 1.2)  # the damage did not become the reference
    assert not after.damaged and not after.abrupt


def test_grey_that_stays_is_the_scene_not_damage(frames):
    """A grey wall is grey in every frame (and from the first): never skipped for ever."""
    q = QualityCheck(persistent_s=1.0)
    walled = [_grey_block(f, slice(0, 240), slice(0, 480)) for f in frames[:30]]
    assert not q.check(walled[0], 0.0).damaged  # first frame, not marked corrupt: no reference to differ from
    q2 = QualityCheck(persistent_s=1.0)
    assert q2.check(frames[0], 0.0).damaged is False
    damaged = [q2.check(f, (i + 1) / 10).damaged for i, f in enumerate(walled[1:])]
    assert damaged[0] and not damaged[-1]  # appears → damage; stays over a second → the scene
    assert sum(damaged) == 10


def test_corrupt_first_frame_with_grey_is_damaged(frames):
    q = QualityCheck()
    assert q.check(_grey_block(frames[0], slice(240, 480), slice(0, 960)), 0.0, suspect=True).damaged


def test_whole_new_picture_is_abrupt_but_a_turn_is_not(frames):
    q = QualityCheck()
    q.check(frames[0], 0.0)
    assert not q.check(np.roll(frames[1], 24, axis=1), 0.1).abrupt  # the wearer turned 9°
    other = np.ascontiguousarray(np.roll(frames[2][::-1], 480, axis=1))
    assert q.check(other, 0.2).abrupt


def test_key_frame_wait_then_corrupt_frames_skipped_and_followers_flagged(frames):
    g = DamageGuard(30.0)
    f = frames[0]
    d = [g.decide(f, pts=i / 30, capture_t=i / 30, key=i == 3) for i in range(6)]
    assert [x.deliver for x in d] == [False, False, False, True, True, True]
    assert g.health.skipped_key_wait == 3
    assert not d[3].discontinuity  # the first frame of the run: nothing to re-warm
    assert d[3].video_t == pytest.approx(0.1)  # video_t counts from the first decoded frame's pts
    bad = g.decide(f, pts=6 / 30, capture_t=0.2, corrupt=True)
    assert not bad.deliver and g.health.skipped_corrupt == 1
    nxt = g.decide(f, pts=7 / 30, capture_t=0.23)
    assert nxt.deliver and nxt.damaged and nxt.discontinuity  # predicted from the damaged frame
    key = g.decide(f, pts=8 / 30, capture_t=0.27, key=True)
    assert key.deliver and not key.damaged  # a key frame refreshes the picture


def test_gap_is_measured_on_pts_not_frame_counts(frames):
    """One decoded frame missing at 10 fps is 0.1 s; at 30 fps 0.033 s — and 0.7 s of pts is 0.7 s."""
    for fps in (10.0, 30.0):
        g = DamageGuard(fps, has_keys=False, check_quality=False)
        assert g.decide(frames[0], pts=0.0, capture_t=0.0).deliver
        assert not g.decide(frames[0], pts=1 / fps, capture_t=0.0).discontinuity
        d = g.decide(frames[0], pts=2 / fps + 0.7, capture_t=0.0)  # the next decoded frame comes 0.7 s late
        assert d.discontinuity and d.gap_s == pytest.approx(0.7, abs=1e-6)
        assert g.health.pts_gaps == 1


def test_pts_restart_is_an_unknown_gap_and_video_time_keeps_going(frames):
    g = DamageGuard(30.0, has_keys=False, check_quality=False)
    g.decide(frames[0], pts=100.0, capture_t=0.0)
    last = g.decide(frames[0], pts=100.0 + 1 / 30, capture_t=0.03)
    d = g.decide(frames[0], pts=0.0, capture_t=0.06)  # the sender restarted its clock
    assert d.discontinuity and math.isinf(d.gap_s) and d.video_t > last.video_t
    assert g.health.pts_jumps == 1


def test_frozen_camera_is_skipped_and_its_end_is_a_discontinuity(frames):
    g = DamageGuard(30.0, has_keys=False)
    out = [g.decide(frames[0], pts=i / 30, capture_t=i / 30) for i in range(45)]  # 1.5 s of one buffer
    delivered = [d for d in out if d.deliver]
    assert len(delivered) == round(FROZEN_S * 30) + 1 and g.health.skipped_frozen == 45 - len(delivered)
    thaw = g.decide(frames[1], pts=45 / 30, capture_t=1.5)
    assert thaw.deliver and thaw.discontinuity and thaw.gap_s >= 0.9


def _stage_run(synth, damaged_from: int | None = None, gap_at: int | tuple[int, ...] | None = None, until: int = 150,
               stop_on_fire: bool = False):
    from ego360.core.geometry import Mounting
    from ego360.models.registry import create_trigger
    from ego360.runtime.stages.trigger import TriggerStage

    scene = synth.approach_scene(width=960)
    stage = TriggerStage(create_trigger(TriggerConfig(), Mounting()))
    first = stage.trigger
    states = []
    for i in range(0, until, 2):
        p = scene.packet(i)
        if damaged_from is not None and i >= damaged_from:
            p = FramePacket(p.frame_index, p.video_t, p.capture_ns, p.image, damaged=True)
        if gap_at is not None and i in ((gap_at,) if isinstance(gap_at, int) else gap_at):
            p = FramePacket(p.frame_index, p.video_t, p.capture_ns, p.image, discontinuity=True, gap_s=0.6)
        states.append((p.video_t, stage.process(p).trigger.state))
        if stop_on_fire and states[-1][1] == "onset":
            break
    return stage, first, states


def test_trigger_stage_never_fires_on_damaged_frames(synth):
    _, _, clean = _stage_run(synth, stop_on_fire=True)
    assert clean[-1][1] == "onset"  # the approach does fire on clean frames
    stage, _, damaged = _stage_run(synth, damaged_from=0, until=2 * len(clean) + 20)
    assert all(s == "idle" for _, s in damaged) and stage.quieted == len(damaged)


def test_trigger_stage_rewarms_after_a_long_gap(synth):
    stage, first, states = _stage_run(synth, gap_at=60)
    assert stage.rewarms == 1 and stage.trigger is not first
    assert stage.trigger.motion is first.motion  # the shared background model was reset, not replaced
    quiet = [s for t, s in states if 2.0 <= t < 2.0 + stage.rewarm_s]
    assert quiet and all(s == "idle" for s in quiet)


def test_consecutive_rewarm_marks_are_one_discontinuity(synth):
    """The converge policy marks every frame of `CONVERGE_MARK_S` (a live queue may drop one): the model
    re-warms once, on the first, and the quiet time runs from there — not again on every marked frame."""
    stage, first, states = _stage_run(synth, gap_at=(60, 62, 64, 66, 68), stop_on_fire=True)
    assert stage.rewarms == 1
    assert [t for t, s in states if s == "onset"]  # the approach is still announced after the re-warm
    quiet = [s for t, s in states if 2.0 <= t < 2.0 + stage.rewarm_s]
    assert quiet and all(s == "idle" for s in quiet)
    again, _, _ = _stage_run(synth, gap_at=(60, 64), until=80)  # a second mark after an unmarked frame: a new one
    assert again.rewarms == 2


def test_corrupt_key_frame_ends_a_loss_but_not_a_join(frames):
    """After joining, a corrupt key frame was filled from a broken picture: skipped (not even learnt from)
    until a clean key. On a whole stream it was filled from a whole frame: a one-frame-old patch, the
    damage ends there."""
    g = DamageGuard(30.0)
    t = iter(range(100))

    def step(**kw):
        i = next(t)
        return g.decide(frames[i % 3], pts=i / 30, capture_t=i / 30, **kw)

    assert not step().deliver  # joined: no key yet
    assert not step(key=True, corrupt=True).deliver  # a key frame concealed from nothing whole
    assert not step().deliver
    clean = step(key=True)
    assert clean.deliver and not clean.damaged
    assert g.health.skipped_damaged == 2
    assert not step(corrupt=True).deliver  # a lost packet on the whole stream
    assert step().damaged  # predicted from the concealed frame
    after = step(key=True, corrupt=True)
    assert after.deliver and not after.damaged
    assert g.health.accepted_corrupt_keys == 2 and g.health.skipped_corrupt == 1


def test_recording_cut_mid_gop_replays_from_its_first_key_frame(tmp_path):
    """A recording of a stream joined mid-way: the frames before its first key frame decode grey (MPEG-4
    predicts them from a reference the file does not have); replay skips them and keeps pts time."""
    import subprocess

    import av

    from ego360.runtime.sources import VideoFileSource

    ts = tmp_path / "full.ts"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=256x128:rate=30",
                    "-frames:v", "60", "-c:v", "mpeg4", "-g", "30", "-muxdelay", "0", "-muxpreload", "0",
                    str(ts)], check=True, timeout=60, stdin=subprocess.DEVNULL)
    data = ts.read_bytes()
    cut = tmp_path / "cut.ts"
    cut.write_bytes(data[(len(data) // 4) // 188 * 188:])  # a quarter in: mid first GOP, at a TS packet
    with av.open(str(cut)) as c:  # what a decoder makes of it without the guard: grey frames first
        raw = [(f.key_frame, f.to_ndarray(format="rgb24")) for f in c.decode(video=0)]
    first_key = next(i for i, (k, _) in enumerate(raw) if k)
    assert first_key > 0 and float(np.abs(raw[0][1].astype(np.int16) - 128).mean()) < 20
    with VideoFileSource(cut) as source:
        packets = list(source)
        health = source.health
    assert health.skipped_key_wait == first_key and len(packets) == len(raw) - first_key
    assert float(np.abs(packets[0].image.astype(np.int16) - 128).mean()) > 40  # the test pattern, not grey
    assert packets[0].video_t == pytest.approx(first_key / 30, abs=1e-3)  # pts time, skipped frames included
