"""VIEW360 interval list loader: the real list loads completely; malformed lines name file:line."""

from __future__ import annotations

from collections import Counter

import pytest

from ego360.core.errors import InputError
from ego360.tools.scenario.view360 import Interval, load_intervals


@pytest.fixture(scope="module")
def videos(shared_data):
    # The shared copy when present, else the 13 KB copy kept in tests/data (same bytes).
    return load_intervals(shared_data("view360_intervals.txt"))


def test_real_list_loads_completely(videos):
    # 455 videos: the file has 455 lines but no final newline, so `wc -l` (and its README) says 454.
    assert len(videos) == 455
    assert len({v.name for v in videos}) == 455
    counts = Counter(v.cls for v in videos)
    assert counts["Stealing"] == 150 and counts["Teasing"] == 170 and counts["Glancing"] == 107
    assert set(counts) == {"Glancing", "Stealing", "Teasing", "Glance", "Throw", "Traffic", "Collide", "Threaten",
                           "Other"}
    assert sum(len(v.intervals) for v in videos) == 455 + 25 + 2 * 4


def test_directions_parsed(videos):
    by_name = {v.name: v for v in videos}
    first = by_name["Glancing_ATM1_026_r"]
    assert (first.cls, first.location, first.vid) == ("Glancing", "ATM1", "026")
    assert first.intervals == (Interval(424, 650, "r"),)
    assert by_name["Glancing_ATM2_019_rlr"].intervals == (
        Interval(325, 431, "r"), Interval(438, 616, "l"), Interval(617, 680, "r"))
    assert by_name["Teasing_Boardgame_027"].intervals == (
        Interval(334, 380, None), Interval(340, 394, None), Interval(417, 474, None))
    assert by_name["Stealing_Elevator_003_rc"].intervals == (Interval(240, 260, "r"),)
    assert by_name["Traffic_Parkinglot_003"].intervals[0].start == 300
    letters = Counter(i.direction for v in videos for i in v.intervals)
    assert set(letters) == {"l", "r", "c", None} and letters["c"] > 100


@pytest.mark.parametrize("line, problem", [
    ("Stealing_ATM1_005_r 215", "frame pairs"),
    ("Stealing_ATM1_005_r 215 334 400", "frame pairs"),
    ("Stealing_ATM1_005_r 215 abc", "integers"),
    ("Stealing_ATM1_005_r 334 215", "start <= end"),
    ("Stealing_ATM1_005_x 215 334", "bad video name"),
    ("Stealing-ATM1-005 215 334", "bad video name"),
    ("Stealing_ATM1_005_r 1 2 3 4", "direction letter"),
    ("Stealing_ATM1_005", "frame pairs"),
])
def test_malformed_line_names_file_and_line(tmp_path, line, problem):
    path = tmp_path / "list.txt"
    path.write_text(f"Glancing_ATM1_026_r 424 650\n\n{line}\n", encoding="utf-8")
    with pytest.raises(InputError, match=problem) as info:
        load_intervals(path)
    assert f"{path}:3:" in str(info.value)


def test_duplicates_and_empty_files_error(tmp_path):
    dup = tmp_path / "dup.txt"
    dup.write_text("Teasing_Cafe_001_l 1 2\nTeasing_Cafe_001_l 3 4\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"dup.txt:2: .*line 1"):
        load_intervals(dup)
    empty = tmp_path / "empty.txt"
    empty.write_text("\n# nothing\n", encoding="utf-8")
    with pytest.raises(InputError, match="no videos"):
        load_intervals(empty)
    with pytest.raises(InputError, match="not found"):
        load_intervals(tmp_path / "missing.txt")
