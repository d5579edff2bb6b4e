"""`ego360 eval` counts identity jumps (issue 13: no bearing jump > 45° between consecutive processed frames
for one entity id unless the ground truth moved that much).

Hand-made: GT person 1 walks from 10° to 30° over frames 0–20 (1° per frame); GT person 2 stands at 150°.
"""

from __future__ import annotations

from ego360.tools.evaluation.clip import id_jumps
from ego360.tools.evaluation.io import ClipGT, Predictions
from ego360.tools.scenario.gt import EntityFrameGT

RLE = {"size": [4, 8], "counts": "0"}


def _gt(moves: dict[int, list[float]]) -> ClipGT:
    frames = {f: tuple(EntityFrameGT(i, RLE, (0, 0, 1, 1), b[f], 0.0, 3.0, 10) for i, b in moves.items())
              for f in range(21)}
    return ClipGT("c", "c.json", "Normal", 10.0, 21, (), (), frames, (), True)


def _pred(bearings: dict[int, dict[int, float]]) -> Predictions:
    return Predictions("c", "c/events.jsonl", (), (), {}, {}, {}, {}, bearings)


GT = _gt({1: [10.0 + f for f in range(21)], 2: [150.0] * 21})


def test_an_id_that_jumps_to_another_body_is_counted():
    track = {f: 10.0 + f for f in range(0, 12, 2)} | {12: 150.0, 14: 150.0}  # frame 10 → 12: 20° → 150°
    assert id_jumps(GT, _pred({7: track})) == (1, 7)


def test_following_a_mover_or_crossing_the_seam_is_not_a_jump():
    follow = {f: 10.0 + f for f in range(0, 21, 2)}
    seam = {0: 170.0, 2: 178.0, 4: -176.0, 6: -170.0}  # 8° steps through ±180°
    assert id_jumps(GT, _pred({1: follow, 2: seam})) == (0, 13)


def test_a_jump_the_ground_truth_made_too_is_not_counted():
    gt = _gt({1: [10.0] * 10 + [80.0] * 11})  # GT itself moved 70° between frames 9 and 10
    track = {8: 10.0, 10: 80.0}
    assert id_jumps(gt, _pred({1: track})) == (0, 1)


def test_steps_across_a_long_gap_are_not_judged():
    track = {0: 10.0, 10: 150.0}  # lost for 10 frames, then re-found elsewhere: not consecutive
    assert id_jumps(GT, _pred({1: track})) == (0, 0)
