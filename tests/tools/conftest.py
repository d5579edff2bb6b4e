"""Fixtures for the tools tests.

Evaluation: fabricated replays and ground truth with tiny 4×8 masks whose IoUs are known by hand (used
by tests/tools/evaluation; the lead-window fixtures are in tests/tools/evaluation/conftest.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

H, W = 4, 8


def _rle(rows: tuple[int, int], cols: tuple[int, int]) -> dict[str, Any]:
    """COCO RLE (JSON form) of a 4×8 mask that is 1 on rows[0]:rows[1], cols[0]:cols[1]."""
    from pycocotools import mask as mask_utils

    m = np.zeros((H, W), np.uint8, order="F")
    m[rows[0]:rows[1], cols[0]:cols[1]] = 1
    enc = mask_utils.encode(np.asfortranarray(m))
    return {"size": [H, W], "counts": enc["counts"].decode("ascii")}


def _write_gt(path: Path, *, cls: str, scenario: str, fps: float, num_frames: int, events: list[dict],
             entities: list[dict], frames: dict[int, list[dict]]) -> Path:
    """A complete `ego360-gt/1` file (every field the shared loader validates)."""
    path.mkdir(parents=True, exist_ok=True)
    data = {
        "format": "ego360-gt/1", "clip": "clip.mp4", "scenario": scenario, "class": cls, "fps": fps,
        "width": W, "height": H, "num_frames": num_frames, "seed": 0, "yaw_offset_deg": 0.0,
        "ego_yaw_rate_dps": 0.0,
        "events": [{"victim": "wearer", "class": cls, **e} for e in events],
        "entities": [{"kind": "person", "appearance": "", "motion": "", **e} for e in entities],
        "frames": [
            {"frame": f, "entities": [
                {"box": [0, 0, 1, 1], "pitch_deg": 0.0, "distance_m": 2.0, "visible_px": 1, "bearing_deg": 0.0, **o}
                for o in frames.get(f, [])]}
            for f in range(num_frames)
        ],
    }
    (path / "gt.json").write_text(json.dumps(data), encoding="utf-8")
    return path / "gt.json"


def _write_events(path: Path, lines: list[dict]) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    with (path / "events.jsonl").open("w", encoding="utf-8") as fh:
        for obj in lines:
            fh.write(json.dumps(obj) + "\n")
    return path


def _frame(f: int, score: float, fps: float) -> dict:
    return {"type": "frame", "frame": f, "video_t": f / fps, "score": score}


def _alert(f: int, fps: float, bearing: float, clock: int, entity_id: int = 10, role: str = "perpetrator") -> dict:
    return {"type": "alert", "frame": f, "video_t": f / fps, "wall_latency_ms": 5.0, "entity_id": entity_id,
            "role": role, "bearing_deg": bearing, "clock": clock, "priority": 2, "text": "alert"}


def _track(f: int, entity_id: int, role: str, mask: dict) -> dict:
    return {"type": "track", "frame": f, "entity_id": entity_id, "role": role, "bearing_deg": 0.0, "rle": mask}


def _caption(f: int, entity_id: int, role: str, appearance: str, motion: str) -> dict:
    return {"type": "caption", "entity_id": entity_id, "frame": f, "role": role, "appearance": appearance,
            "motion": motion, "source": "template"}


# Clip A (class "Stealing", fps 10, frames 0..9, frame 2 not processed), values worked out by hand in
# tests/tools/evaluation/test_metrics.py. GT 1 (perpetrator) is rows 0:2 cols 0:4 on frames 0–2 (bearing 130° on
# frame 2); GT 2 (victim) rows 2:4 cols 4:8 on frames 0–1; GT 3 has role none (never scored).
SCORES_A = {0: 0.1, 1: 0.2, 3: 0.8, 4: 0.4, 5: 0.9, 6: 0.2, 7: 0.1, 8: 0.35, 9: 0.5}


def _make_clip_a(root: Path) -> tuple[Path, Path]:
    fps = 10.0
    gt1, gt2 = _rle((0, 2), (0, 4)), _rle((2, 4), (4, 8))
    gt = _write_gt(
        root / "gt" / "clip_a", cls="Stealing", scenario="clip_a", fps=fps, num_frames=10,
        events=[{"id": 0, "start_frame": 3, "end_frame": 5, "perpetrator": 1, "direction": "r"}],
        entities=[
            {"id": 1, "role": "perpetrator", "appearance": "person in a red shirt",
             "motion": "approaches you from behind"},
            {"id": 2, "role": "victim", "appearance": "woman with a bag", "motion": "stands still"},
            {"id": 3, "role": "none", "appearance": "passer-by", "motion": "walks"},
        ],
        frames={
            0: [{"id": 1, "rle": gt1, "bearing_deg": 120.0}, {"id": 2, "rle": gt2}, {"id": 3, "rle": gt2}],
            1: [{"id": 1, "rle": gt1, "bearing_deg": 125.0}, {"id": 2, "rle": gt2}],
            2: [{"id": 1, "rle": gt1, "bearing_deg": 130.0}],
        },
    )
    lines = [_frame(f, s, fps) for f, s in SCORES_A.items()]
    lines += [
        _track(0, 10, "perpetrator", gt1), _track(1, 10, "perpetrator", _rle((0, 2), (0, 2))),
        _track(0, 11, "victim", _rle((2, 4), (4, 6))),
        _track(0, 12, "related", _rle((2, 4), (0, 2))),
        _caption(1, 10, "perpetrator", "person in a red shirt", "walks away"),
        _alert(0, fps, -100.0, 9), _alert(4, fps, 100.0, 3), _alert(9, fps, 0.0, 12),
        {"type": "summary", "frames_read": 10, "frames_processed": 9},
    ]
    return _write_events(root / "pred" / "clip_a", lines), gt


def _make_clip_b(root: Path) -> tuple[Path, Path]:
    """A normal scene: no events, 20 processed frames at 10 fps, one false alert, one spurious entity."""
    fps = 10.0
    gt = _write_gt(root / "gt" / "clip_b", cls="Normal", scenario="clip_b", fps=fps, num_frames=20,
                  events=[], entities=[], frames={})
    lines = [_frame(f, 0.0, fps) for f in range(20)]
    lines += [_track(0, 20, "perpetrator", _rle((0, 1), (0, 1))), _alert(5, fps, 10.0, 12, entity_id=20)]
    return _write_events(root / "pred" / "clip_b", lines), gt


@pytest.fixture
def clip_a(tmp_path: Path) -> tuple[Path, Path]:
    """(replay dir, gt.json) of clip A under tmp_path (class Stealing, values worked out by hand)."""
    return _make_clip_a(tmp_path)


@pytest.fixture
def clip_b(tmp_path: Path) -> tuple[Path, Path]:
    """(replay dir, gt.json) of clip B under tmp_path (a normal scene with one false alert)."""
    return _make_clip_b(tmp_path)


@pytest.fixture(scope="session")
def write_events() -> Callable[[Path, list[dict]], Path]:
    """`write_events(dir, lines)`: writes dir/events.jsonl, one JSON object a line; returns dir."""
    return _write_events
