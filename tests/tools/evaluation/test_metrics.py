"""Every eval metric against values worked out by hand (see the comments next to each expectation)."""

from __future__ import annotations

import numpy as np
import pytest

from ego360.core.errors import InputError
from ego360.core.geometry import clock_hour, view360_direction
from ego360.core.stats import percentile
from ego360.tools.evaluation.clip import EvalSettings, evaluate_clip
from ego360.tools.evaluation.io import load_gt_arg, load_predictions, pair_inputs
from ego360.tools.evaluation.judge import ScorerSpec
from ego360.tools.evaluation.matching import assign
from ego360.tools.evaluation.metrics import (
    aggregate,
    clock_error,
    harmonic,
    roc_auc,
    roc_curve,
)

F1 = EvalSettings(grace_s=0.2, scorer=ScorerSpec(kind="token-f1"))


def test_direction_classes_follow_view360():
    assert [view360_direction(b) for b in (0, 30, 31, -31, 149, 150, -150, -100, 180, 179.9)] == \
        ["c", "c", "r", "l", "r", "c", "c", "l", "c", "c"]


def test_clock_hours_and_circular_error():
    assert [clock_hour(y) for y in (0, 90, -90, 180, -180, 44, 46, 130, -29)] == [12, 3, 9, 6, 6, 1, 2, 4, 11]
    assert clock_error(12, 1) == 1 and clock_error(11, 2) == 3 and clock_error(3, 9) == 6 and clock_error(4, 4) == 0


def test_auc_hand_examples():
    # classic example: positives 0.35, 0.8; negatives 0.1, 0.4 → pairs won 3 of 4
    assert roc_auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == pytest.approx(0.75)
    # a tie between a positive and a negative counts one half
    assert roc_auc([0.5, 0.5], [1, 0]) == pytest.approx(0.5)
    assert roc_auc([0.2, 0.9, 0.9, 0.1], [0, 1, 0, 1]) == pytest.approx((1 + 0.5 + 0 + 0) / 4)
    assert roc_auc([0.1, 0.2], [0, 0]) is None  # one class only: undefined, not 0.5
    fpr, tpr = roc_curve([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])
    assert list(fpr) == [0, 0, 0.5, 0.5, 1] and list(tpr) == [0, 0.5, 0.5, 1, 1]


def test_percentiles_and_harmonic_mean():
    assert percentile([0.1, 0.2, 0.3, 1.0], 50) == pytest.approx(0.25)
    assert percentile([0.1, 0.2, 0.3, 1.0], 95) == pytest.approx(0.3 + 0.85 * 0.7)  # index 2.85
    assert percentile([], 50) is None
    assert harmonic(50.0, 25.0) == pytest.approx(2 * 50 * 25 / 75)
    assert harmonic(0.0, 0.0) == 0.0 and harmonic(None, 3.0) is None


def test_hungarian_beats_greedy_and_the_half_rule():
    # greedy would take A–0 (0.9) then B–1 (0.1); the optimum is A–1 + B–0 = 1.65
    a = assign(np.array([[0.9, 0.8], [0.85, 0.1]]))
    assert [(x.pred_index, x.matched) for x in a] == [(1, True), (0, True)]
    assert [x.iou for x in a] == pytest.approx([0.8, 0.85])
    exact, below = assign(np.array([[0.5]]))[0], assign(np.array([[0.4999]]))[0]
    assert exact.matched and not below.matched and below.iou == pytest.approx(0.4999)
    # more GT than predictions: the GT left over has no partner and IoU 0
    two = assign(np.array([[0.7], [0.6]]))
    assert (two[0].pred_index, two[1].pred_index, two[1].iou, two[1].matched) == (0, None, 0.0, False)


def test_clip_a_every_metric_by_hand(clip_a):
    pred, gt = clip_a
    r = evaluate_clip(pred, gt, F1)
    assert r.fps == 10.0
    # frame 2 is not processed: 9 scored frames, events 3–5 are the positives
    assert r.labels == (0, 0, 1, 1, 1, 0, 0, 0, 0)
    ev = r.events[0]
    assert ev.recalled and ev.alert_frame == 4 and ev.delay_s == pytest.approx(0.1)  # (4 − 3) / 10 fps
    assert (ev.dir_gt, ev.dir_pred) == ("r", "r")  # bearing 100° is right of the 30° midline
    assert (ev.clock_gt, ev.clock_pred, ev.clock_err) == (4, 3, 1)  # GT 130° on nearest frame 2 → 4 o'clock
    # grace 0.2 s = 2 frames: alerts at 0 and 9 lie outside [3 − 2, 5 + 2]; processed span 0..9 = 1 s
    assert r.false_alerts == 2 and r.minutes == pytest.approx(1 / 60)
    perp, victim = r.entities  # GT 3 (role none) is not scored
    # perpetrator: frame 0 exact (1.0), frame 1 half the mask (4/8 = 0.5), frame 2 not processed → 0.75
    assert (perp.entity_id, perp.iou, perp.matched, perp.pred_entity, perp.n_frames) == (1, 0.75, True, 10, 2)
    # victim: frame 0 IoU 4/8, frame 1 no prediction → 0 → 0.25 < 0.5: assigned to 11 but not matched
    assert (victim.iou, victim.matched, victim.pred_entity, victim.cap_status) == (0.25, False, 11, "missing")
    assert r.fpe == 2 and r.fpe_by_role == {"victim/target": 1, "related": 1}  # 11 and 12 unmatched
    # token F1: appearance identical 100; motion "walks away" vs "approaches behind" 0;
    # whole caption 3 of 5 content words shared both ways → 60
    assert perp.cap_dims == pytest.approx({"appearance": 100.0, "motion": 0.0, "semantic": 60.0})
    assert perp.cap == pytest.approx(160 / 3) and victim.cap == 0.0


def test_aggregate_pools_two_clips_by_hand(clip_a, clip_b):
    clips = [evaluate_clip(*clip_a, F1), evaluate_clip(*clip_b, F1)]
    m = aggregate(clips)
    o = m["overall"]
    # positives 0.8, 0.9 beat all 26 negatives; 0.4 beats 25 (not 0.5) → 77 / 78
    assert o["auc"] == pytest.approx(77 / 78)
    assert m["per_class"]["Stealing"]["auc"] == pytest.approx(17 / 18) and m["per_class"]["Normal"]["auc"] is None
    assert o["recall"] == 1.0 and o["n_events"] == 1
    assert o["false_alerts"] == 3 and o["false_alerts_per_min"] == pytest.approx(3 / (3 / 60))  # 1 s + 2 s
    assert o["delay_median_s"] == pytest.approx(0.1) and o["delay_p95_s"] == pytest.approx(0.1)
    assert o["direction_acc"] == 1.0 and o["clock_err_mean_h"] == 1.0 and o["clock_within_1h"] == 1.0
    assert o["iou"] == pytest.approx(50.0)  # (75 + 25) / 2
    assert o["fpe"] == pytest.approx(1.5)  # (2 + 1) unmatched entities over 2 videos
    assert o["cap"] == pytest.approx((160 / 3 + 0) / 2)
    assert o["f_sc"] == pytest.approx(2 * 50 * (80 / 3) / (50 + 80 / 3))
    perp, vic = m["per_role"]["perpetrator"], m["per_role"]["victim/target"]
    assert (perp["iou"], perp["cap"], perp["fpe"]) == pytest.approx((75.0, 160 / 3, 0.5))
    assert perp["f_sc"] == pytest.approx(2 * 75 * (160 / 3) / (75 + 160 / 3))
    assert (vic["iou"], vic["cap"], vic["f_sc"], vic["fpe"]) == pytest.approx((25.0, 0.0, 0.0, 0.5))
    assert m["per_class"]["Normal"]["fpe"] == 1.0 and m["per_class"]["Stealing"]["fpe"] == 2.0


def test_unrecalled_event_and_event_window_iou(tmp_path, clip_a, write_events):
    pred, gt = clip_a
    r = evaluate_clip(pred, gt, EvalSettings(grace_s=0.2, scorer=None, iou_window="event"))
    # no GT entity is visible inside frames 3–5, so none is scored; every prediction is then a false entity
    assert r.entities == () and r.fpe == 3
    late = write_events(tmp_path / "late", [{"type": "frame", "frame": f, "video_t": f / 10, "score": 0.0}
                                             for f in range(10)] + [
        {"type": "alert", "frame": 8, "bearing_deg": -45.0, "clock": 11}])
    r2 = evaluate_clip(late, gt, EvalSettings(grace_s=0.2, scorer=None))
    assert not r2.events[0].recalled and r2.events[0].delay_s is None and r2.false_alerts == 1


def test_view360_intervals_and_pairing(tmp_path, write_events):
    lst = tmp_path / "view360.txt"
    lst.write_text("Glancing_ATM2_019_rlr 325 431 438 616 617 680\nGlance_ATM_031 10 20\n"
                   "Stealing_ATM1_005_l 215 334\n")
    items = {g.name: g for g in load_gt_arg(lst)}
    assert [(e.start_frame, e.end_frame, e.direction) for e in items["Glancing_ATM2_019"].events] == \
        [(325, 431, "r"), (438, 616, "l"), (617, 680, "r")]
    assert items["Glance_ATM_031"].events[0].direction is None and not items["Glance_ATM_031"].has_masks
    # a replay named after the video (with or without the suffix); VIEW360 frames are 30 fps
    pred = write_events(tmp_path / "Stealing_ATM1_005_l", [
        *({"type": "frame", "frame": f, "video_t": f / 30, "score": float(215 <= f <= 334)} for f in range(200, 400)),
        {"type": "alert", "frame": 240, "bearing_deg": -60.0, "clock": 10}])
    [(p, g)] = pair_inputs([str(pred)], [str(lst)])
    r = evaluate_clip(p, g, EvalSettings(scorer=None))
    assert r.fps == 30.0 and r.events[0].delay_s == pytest.approx(25 / 30)
    assert load_predictions(pred).estimate_fps() == pytest.approx(30.0)
    assert r.events[0].dir_pred == "l" and r.events[0].clock_err is None and not r.has_masks
    m = aggregate([r])["overall"]
    assert m["auc"] == 1.0 and m["direction_acc"] == 1.0 and m["iou"] is None
    with pytest.raises(InputError, match="no ground truth pairs"):
        pair_inputs([str(tmp_path / "Unknown_X_001")], [str(lst)])


def test_pairing_by_position_and_truncated_log(tmp_path, clip_a, clip_b):
    pa, ga = clip_a
    pb, gb = clip_b
    renamed = tmp_path / "run1"
    pa.rename(renamed)
    pairs = pair_inputs([str(renamed), str(pb)], [str(ga), str(gb.parent)])
    assert [g.name for _, g in pairs] == ["clip_a", "clip_b"]
    with (pb / "events.jsonl").open("a") as fh:
        fh.write('{"type": "frame", "fra')  # a run killed mid-line
    assert len(load_predictions(pb).frame_scores) == 20
    (pb / "events.jsonl").write_text('garbage\n{"type": "frame", "frame": 0, "score": 0}\n')
    with pytest.raises(InputError, match="not a JSON line"):
        load_predictions(pb)
