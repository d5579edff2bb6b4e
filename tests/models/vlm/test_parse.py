"""The shared parser: JSON extraction, schema check, and directions replaced by our bearing."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ego360.core.packets import CaptionRequest
from ego360.models.vlm.parse import ParseError, extract_json, parse_caption, sanitise_speech, strip_directions
from ego360.models.vlm.prompt import build_caption_prompt, select_frames


def _request(clock: int = 3, bearing: float = 90.0, **kw) -> CaptionRequest:
    base = dict(entity_id=7, frame_index=42, role="perpetrator", kind="person", bearing_deg=bearing, clock=clock,
                distance_hint="about 3 m", motion_hint="approaching fast", appearance_hint="red top")
    base.update(kw)
    return CaptionRequest(**base)


GOOD = {"role": "perpetrator", "appearance": "man in a red jacket", "motion": "running",
        "interaction": "grabs the bag of the wearer", "speech": "Man running at you"}


@pytest.mark.parametrize("wrap", [
    lambda s: s,
    lambda s: f"```json\n{s}\n```",
    lambda s: f"Sure! Here it is:\n```\n{s}\n```\nHope this helps.",
    lambda s: f"The answer is {s} as requested",
])
def test_extract_json_tolerates_fences_and_prose(wrap):
    assert extract_json(wrap(json.dumps(GOOD))) == GOOD


@pytest.mark.parametrize("bad", ["", "   ", "no json here", "{\"role\": \"perp", "```json\n{oops}\n```"])
def test_extract_json_rejects_garbage(bad):
    with pytest.raises(ParseError):
        extract_json(bad)


@pytest.mark.parametrize("text, expected", [
    ("A man on your left approaching fast", "A man approaching fast"),
    ("He is at 3 o'clock", "He is"),
    ("approaching from behind", "approaching"),
    ("standing in front of you", "standing"),
    ("walking to the right", "walking"),
    ("cyclist coming from the right-hand side", "cyclist coming"),
    ("at two o'clock position a dog", "a dog"),
    ("heading north-east quickly", "heading quickly"),
    ("straight ahead of you, a pole", "a pole"),
    ("coming at your 2 now", "coming now"),
    ("to your far left", ""),
    ("The wearer is being followed", "you are being followed"),
])
def test_strip_directions_removes_model_directions(text, expected):
    assert strip_directions(text) == expected


@pytest.mark.parametrize("text", [
    "holding a bag in his right hand",
    "raises her left arm",
    "hiding behind a car",
    "standing in front of the shop",
    "he left the store",
    "right now he is running",
])
def test_strip_directions_keeps_non_directions(text):
    assert strip_directions(text) == text


@pytest.mark.parametrize("speech, clock, expected", [
    ("Man approaching on your left", 3, "Man approaching at 3 o'clock"),
    ("Cyclist at 9 o'clock, fast", 2, "Cyclist at 2 o'clock, fast"),
    ("Dog running toward you", 11, "Dog running toward you at 11 o'clock"),
    ("Behind you: a man grabs your bag", 6, "at 6 o'clock: a man grabs your bag"),
    ("Car ahead, then a man on the right", 12, "Car at 12 o'clock, then a man"),
])
def test_speech_gets_our_bearing_exactly_once(speech, clock, expected):
    out = sanitise_speech(speech, clock)
    assert out == expected
    assert out.count("o'clock") == 1


def test_speech_is_capped_at_twelve_words_including_bearing():
    long = "a very tall man with a big black umbrella is walking slowly towards you now"
    out = sanitise_speech(long, 4)
    assert len(out.split()) <= 12
    assert out.endswith("at 4 o'clock")


def test_parse_caption_uses_our_entity_role_and_bearing():
    reply = dict(GOOD, role="victim", speech="Man running at you from the left", motion="running to the left")
    cap = parse_caption(json.dumps(reply), _request(clock=3))
    assert (cap.entity_id, cap.frame_index, cap.role, cap.source) == (7, 42, "perpetrator", "vlm")
    assert cap.speech == "Man running at you at 3 o'clock"
    assert cap.motion == "running"
    assert cap.interaction == "grabs the bag of you"  # the wearer is "you"
    assert cap.appearance == "man in a red jacket"


@pytest.mark.parametrize("reply", [
    json.dumps({"role": "perpetrator"}),
    json.dumps({"appearance": 3, "speech": "x"}),
    json.dumps(["not", "an", "object"]),
    json.dumps({"appearance": "", "speech": "", "motion": "", "interaction": "", "role": "none"}),
])
def test_parse_caption_schema_errors(reply):
    with pytest.raises(ParseError):
        parse_caption(reply, _request())


def test_prompt_bounds_frames_and_keeps_newest_and_context():
    views = tuple(np.full((8, 8, 3), i, np.uint8) for i in range(10))
    ctx = np.zeros((8, 16, 3), np.uint8)
    prompt = build_caption_prompt(_request(views=views, context=ctx), max_frames=4)
    imgs = prompt.images
    assert len(imgs) == 4 and imgs[-1] is ctx
    assert [int(i[0, 0, 0]) for i in imgs[:-1]] == [0, 4, 9]  # evenly spaced, newest kept
    assert "red bounding box" in prompt.parts[-1]
    assert "o'clock" not in " ".join(p for p in prompt.parts if isinstance(p, str))
    assert [int(v[0, 0, 0]) for v in select_frames(views, 2)] == [0, 9]
    only = build_caption_prompt(_request(views=views, context=ctx), max_frames=1).images
    assert len(only) == 1 and int(only[0][0, 0, 0]) == 9
