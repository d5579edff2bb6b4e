"""One clock convention: the hour the wearer hears is the hour `ego360 eval` scores.

The spoken text comes from the template captioner fed the CaptionRequest the alert stage builds from a
Track (clock = clock_hour(track.bearing_deg)); the evaluator scores the same bearing both as a GT
perpetrator bearing (clock_gt) and as an alert logged without a clock (clock_pred). Half-hours round away
from 12 on both sides (15° → 1, −15° → 11); Python's round() (half to even) would say 12 and 11.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from ego360.core.geometry import clock_hour
from ego360.core.packets import Box, CaptionRequest, Track
from ego360.models.captioner_template import TemplateCaptioner
from ego360.tools.evaluation.clip import EvalSettings, evaluate_clip
from ego360.tools.scenario.gt import GTEvent

EXPECTED = {0.0: 12, 15.0: 1, -15.0: 11, 45.0: 2, -45.0: 10, 75.0: 3, -75.0: 9, 105.0: 4, -105.0: 8,
            135.0: 5, -135.0: 7, 165.0: 6, -165.0: 6, 180.0: 6}


def _spoken_hour(bearing: float) -> int:
    track = Track(entity_id=7, frame_index=3, role="perpetrator", mask=np.ones((4, 8), bool), box=Box(0, 0, 8, 4),
                  bearing_deg=bearing, pitch_deg=0.0, kind="person")
    request = CaptionRequest(entity_id=track.entity_id, frame_index=track.frame_index, role=track.role,
                             kind=track.kind, bearing_deg=track.bearing_deg, clock=clock_hour(track.bearing_deg),
                             distance_hint="", motion_hint="approaching", appearance_hint="person")
    caption = TemplateCaptioner().caption(request)
    hours = {int(h) for h in re.findall(r"(\d+) o'clock", f"{caption.speech} | {caption.motion}")}
    assert len(hours) == 1, caption
    return hours.pop()


@pytest.mark.parametrize("bearing", list(EXPECTED))
def test_spoken_and_scored_clock_hours_agree(bearing, tiny_clip):
    spoken = _spoken_hour(bearing)
    clip = tiny_clip(f"b{bearing:+.0f}")
    gt = clip.gt([GTEvent(0, "Collide", 2, 8, 1, "wearer", "c")], {1: {f: (bearing, 3.0) for f in range(10)}}, 10)
    # one alert logged with its bearing only (the evaluator derives the hour), one as the runtime logs it
    for clock in (None, spoken):
        ev = evaluate_clip(clip.replay(10, [(4, bearing, clock)]), gt, EvalSettings(scorer=None)).events[0]
        assert (spoken, ev.clock_gt, ev.clock_pred, ev.clock_err) == (EXPECTED[bearing], spoken, spoken, 0)
