"""The annotation tool's text format and instances file: strict reading, exact writing, frame mapping."""

from __future__ import annotations

import pytest

from ego360.core.errors import InputError
from ego360.tools.annotate.prompts import (
    FrameMap,
    entity_name,
    entity_number,
    format_prompts,
    parse_instances,
    parse_prompts_text,
)

GOOD = (
    "-1, video, text, recorded at the ATM, evening, two people\n"
    "0, actor0, bbox, 0.123456, 0.400000, 0.050000, 0.200000\n"
    "0, actor0, pos_point, 0.148000, 0.500000\n"
    "0, subject1, bbox, 0.980000, 0.450000, 0.040000, 0.100000\n"
    "1, actor0, neg_point, 0.100000, 0.550000\n"
    "2, related3, text, carries a bag, red, heavy\n"
)


def test_text_round_trip_is_exact():
    lines = parse_prompts_text(GOOD)
    assert format_prompts(lines) == GOOD
    assert lines[0].frame == -1 and lines[0].text == "recorded at the ATM, evening, two people"
    assert lines[1].coords == (0.123456, 0.4, 0.05, 0.2)
    assert lines[-1].text == "carries a bag, red, heavy"
    # A box across the ±180° seam (x + w > 1) is legal.
    assert lines[3].coords[0] + lines[3].coords[2] > 1.0


@pytest.mark.parametrize("line, reason", [
    ("0, actor10, bbox, 0.1, 0.1, 0.1, 0.1", "entity id 'actor10' must match"),
    ("0, victim0, bbox, 0.1, 0.1, 0.1, 0.1", "entity id 'victim0' must match"),
    ("0, actor0, box, 0.1, 0.1, 0.1, 0.1", "type 'box' unknown"),
    ("0, actor0, bbox, 0.1, 0.1, 0.1", "bbox needs 4 coordinates, got 3"),
    ("0, actor0, pos_point, 0.1", "pos_point needs 2 coordinates, got 1"),
    ("0, actor0, bbox, 0.1, 1.2, 0.1, 0.1", "y = 1.2 is outside [0, 1]"),
    ("0, actor0, bbox, 0.1, 0.9, 0.1, 0.2", "below the frame"),
    ("0, actor0, bbox, 0.1, 0.1, 0.0, 0.1", "width and height must be > 0"),
    ("0, actor0, bbox, 0.1, abc, 0.1, 0.1", "y 'abc' is not a number"),
    ("0, actor0, bbox, 0.1, nan, 0.1, 0.1", "not finite"),
    ("x, actor0, bbox, 0.1, 0.1, 0.1, 0.1", "frame 'x' is not an integer"),
    ("-1, actor0, bbox, 0.1, 0.1, 0.1, 0.1", "frame -1 must be ≥ 0"),
    ("0, actor0", "2 field(s)"),
])
def test_bad_line_names_line_number_and_reason(line, reason):
    text = "0, actor0, bbox, 0.1, 0.1, 0.1, 0.1\n\n" + line + "\n"
    with pytest.raises(InputError) as exc:
        parse_prompts_text(text, "clip.txt")
    assert str(exc.value).startswith("clip.txt:3: ")
    assert reason in str(exc.value)


def test_more_bad_lines_are_counted_and_notes_alone_are_refused():
    with pytest.raises(InputError, match=r"clip.txt:1: .*\(and 1 more bad line\(s\)\)"):
        parse_prompts_text("0, actorX, bbox, 0, 0, 0.1, 0.1\n0, actor0, bbox, 0, 0\n", "clip.txt")
    with pytest.raises(InputError, match="no bbox or point prompts"):
        parse_prompts_text("-1, video, text, nothing here\n", "clip.txt")


def test_instances_are_validated():
    ok = parse_instances({"schema_version": "1.0", "frame_indexing": "0-based", "video_caption": "v",
                          "instances": {"actor0": {"text": "t", "enter_frame": 2, "exit_frame": 5,
                                                   "missing_frames": [4, 3]}}})
    assert ok.instances["actor0"].missing_frames == (3, 4) and ok.video_caption == "v"
    for bad, msg in [({"instances": {"thief0": {"enter_frame": 0, "exit_frame": 1}}}, "must match"),
                     ({"instances": {"actor0": {"enter_frame": 3, "exit_frame": 1}}}, "enter_frame ≤ exit_frame"),
                     ({"instances": {"actor0": {"enter_frame": "0", "exit_frame": 1}}}, "must be an integer"),
                     ({"frame_indexing": "1-based", "instances": {}}, "frame_indexing"),
                     ({"instances": []}, "must be an object")]:
        with pytest.raises(InputError, match=msg):
            parse_instances(bad, "x.instances.json")


def test_frame_map_seconds_to_video_frames():
    m = FrameMap(30.0, 1.0)
    assert m.to_video(3) == 90
    assert m.span(0) == (0, 14) and m.span(1) == (15, 44)
    assert m.to_prompt(60) == 2 and m.to_prompt(61) is None
    native = FrameMap(30.0, 30.0)
    assert native.span(7) == (7, 7) and native.to_video(7) == 7


def test_entity_ids_encode_role_and_digit():
    assert (entity_number("actor3"), entity_number("subject0"), entity_number("related9")) == (13, 20, 39)
    assert entity_name(13, "perpetrator", set()) == "actor3"
    assert entity_name(1, "perpetrator", {"actor0"}) == "actor1"
    assert entity_name(2, "target", set()) == "subject0"
    assert entity_name(5, "none", set()) is None
