"""`source.loss_policy=converge` (issue 14 item 0 follow-up): on a lossy stream where no key frame ever
arrives whole, the guard still gets back to frames an alert may come from, once key frames stop
repairing the picture; a key frame that repairs a large stale patch sends it back to `damaged`.
Under the strict policy the same frames never leave the damaged state (the test of that is the
contrast the converge test draws)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ego360.core.config import load_config
from ego360.core.errors import ConfigError
from ego360.runtime.sources.damage import CONVERGE_KEYS, REPAIR_MAX, DamageGuard, repair_share
from ego360.runtime.sources.quality import small_views

GOP = 12  # frames from one key frame to the next (ffmpeg's MPEG-4 default)


@pytest.fixture(scope="module")
def frames(synth):
    """60 street frames (960×480, one frame period apart) with a person walking up from +150°."""
    scene = synth.approach_scene(width=960)
    return [scene.render(i)[0] for i in range(60)]


def _run(guard: DamageGuard, frames: list[np.ndarray], *, stale: range = range(0), patch=None) -> list:
    """Every key frame (every GOP-th, from the first) marked corrupt, as at 1920×960 with 5 % loss; frames
    in `stale` show `patch` (a wrong picture the decoder concealed with) instead of their own."""
    out = []
    for i, img in enumerate(frames):
        key = i % GOP == 0
        shown = patch(img) if i in stale else img
        out.append(guard.decide(shown, pts=i / 30, capture_t=i / 30, key=key, corrupt=key or i % 5 == 3))
    return out


def test_corrupt_key_frames_only_converge_policy_delivers_clean_frames_and_rewarms(frames):
    strict = _run(DamageGuard(30.0), frames)
    assert not any(d.deliver and not d.damaged for d in strict), "strict: no whole key frame, no clean frame"
    guard = DamageGuard(30.0, policy="converge")
    conv = _run(guard, frames)
    clean = [i for i, d in enumerate(conv) if d.deliver and not d.damaged]
    # the first key frame (after joining) says nothing; CONVERGE_KEYS more with small repairs are needed
    assert clean and clean[0] == CONVERGE_KEYS * GOP
    assert all(d.deliver and d.damaged for d in conv[:clean[0]])
    first = conv[clean[0]]
    assert first.discontinuity and math.isinf(first.gap_s)  # the trigger stage re-warms on it
    # ... and on the next 0.3 s of frames too: the live runner may drop the first one
    marked = [i for i in clean if conv[i].discontinuity]
    assert marked == list(range(clean[0], clean[0] + len(marked))) and 8 <= len(marked) <= 10
    assert clean == list(range(clean[0], len(frames)))
    h = guard.health
    assert h.clean_key_frames == 0 and h.key_frames == math.ceil(len(frames) / GOP) and h.converged == 1
    assert h.max_repair_share <= REPAIR_MAX


def test_key_frame_that_repairs_a_stale_patch_sends_frames_back_to_damaged(frames):
    """Frames 26-35 carry a concealed band (rows shifted sideways: stale, wrong content); the key frame at
    36 replaces it: a large repair, so frames are damaged again until two more key frames repair little."""

    def patch(img: np.ndarray) -> np.ndarray:
        out = img.copy()
        out[180:300] = np.roll(img[180:300], 60, axis=1)
        return out

    share = repair_share(small_views(frames[36])[0].mean(axis=2), small_views(patch(frames[35]))[0].mean(axis=2))
    assert share > REPAIR_MAX
    guard = DamageGuard(30.0, policy="converge", check_quality=False)
    out = _run(guard, frames, stale=range(26, 36), patch=patch)
    assert not out[25].damaged and out[36].damaged and guard.health.large_repairs == 1
    assert all(d.damaged for d in out[36:])  # 36 is no good key; 48 is the first, two are needed
    assert guard.health.converged == 1


def test_loss_policy_is_validated():
    with pytest.raises(ValueError, match="loss policy"):
        DamageGuard(30.0, policy="lenient")
    assert load_config(None, ["source.loss_policy=converge"]).source.loss_policy == "converge"
    with pytest.raises(ConfigError):
        load_config(None, ["source.loss_policy=lenient"])
