"""Template captions: words from measured pixels and our bearings, place first in speech."""

from __future__ import annotations

import numpy as np
import pytest

from ego360.core.packets import CaptionRequest
from ego360.models.captioner_template import TemplateCaptioner, colour_name, describe_appearance, speech_line


@pytest.mark.parametrize(
    ("rgb", "name"),
    [((220, 30, 30), "red"), ((30, 60, 200), "blue"), ((40, 160, 40), "green"), ((240, 240, 240), "white"),
     ((15, 15, 15), "black"), ((128, 128, 128), "grey"), ((230, 210, 30), "yellow"), ((120, 70, 20), "brown")],
)
def test_colour_names(rgb, name):
    assert colour_name(np.array(rgb, np.uint8)) == name


def test_appearance_from_mask_halves_only():
    img = np.full((64, 128, 3), (30, 60, 200), np.uint8)  # blue background must not leak in
    img[10:30, 40:50] = (220, 30, 30)
    img[30:50, 40:50] = (20, 20, 20)
    mask = np.zeros((64, 128), bool)
    mask[10:50, 40:50] = True
    assert describe_appearance(img, mask, "person") == "person in red top and black trousers"
    assert describe_appearance(img, np.zeros_like(mask), "car") == "car"


@pytest.mark.parametrize(
    ("bearing", "expected"),
    [(150.0, "Behind you, 5 o'clock: person approaching fast."),
     (-90.0, "On your left, 9 o'clock: person approaching fast."),
     (10.0, "Ahead, 12 o'clock: person approaching fast."),
     (60.0, "On your right, 2 o'clock: person approaching fast.")],
)
def test_speech_line_leads_with_place(bearing, expected):
    assert speech_line("person", bearing, "approaching fast") == expected


def test_caption_uses_our_bearing_and_hints():
    req = CaptionRequest(entity_id=3, frame_index=10, role="perpetrator", kind="person", bearing_deg=-120.0, clock=8,
                         distance_hint="within arm's reach", motion_hint="reaching toward you",
                         appearance_hint="person in red top and blue trousers")
    cap = TemplateCaptioner().caption(req)
    assert cap.entity_id == 3 and cap.source == "template" and cap.role == "perpetrator"
    assert cap.appearance == "person in red top and blue trousers"
    assert "8 o'clock" in cap.motion and "within arm's reach" in cap.motion
    assert cap.speech == "Behind you, 8 o'clock: person reaching toward you."
