"""`ego360 eval` credits a warning given in time: an alert up to --lead-window before onset that points at
the perpetrator recalls the event with a negative delay; time to contact left is measured from the GT.

Hand-made clip (10 fps, 60 frames): a Collide event on frames 30–45; the perpetrator stays at bearing 60°
and walks in on a distance ramp d(f) = 4.0 − 0.1·f m, so it is first inside the 0.5 m contact radius on
frame 36 (d = 0.4; d(35) = 0.5 is not inside).
"""

from __future__ import annotations

import json

import pytest

from ego360.tools.cli import main
from ego360.tools.evaluation.clip import EvalSettings, evaluate_clip
from ego360.tools.evaluation.io import load_gt_arg, load_gt_json
from ego360.tools.scenario.gt import EntityFrameGT, GTEvent, gt_from_dict, load_gt

FPS, N, ONSET, END, CONTACT = 10.0, 60, 30, 45, 36
RAMP = {f: (60.0, round(4.0 - 0.1 * f, 4)) for f in range(END + 1)}
LEAD = EvalSettings(scorer=None)  # defaults: lead window 3 s, ±45°, grace 1 s, contact 0.5 m
STRICT = EvalSettings(scorer=None, lead_window_s=0.0)


def _collide(tiny_clip, alerts, *, contact_frame=None):
    clip = tiny_clip()
    gt = clip.gt([GTEvent(0, "Collide", ONSET, END, 1, "wearer", "r", contact_frame)], {1: RAMP}, N)
    return clip.replay(N, alerts), gt


def test_alert_one_second_early_at_the_perpetrator_is_a_detection_with_negative_delay(tiny_clip):
    pred, gt = _collide(tiny_clip, [(20, 60.0, None)])
    r = evaluate_clip(pred, gt, LEAD)
    ev = r.events[0]
    assert ev.recalled and ev.alert_frame == 20 and r.false_alerts == 0
    assert ev.delay_s == pytest.approx(-1.0) and ev.lead_s == pytest.approx(1.0)
    assert ev.ttc_s == pytest.approx((CONTACT - 20) / FPS)  # 1.6 s left when the wearer heard it
    assert (ev.clock_gt, ev.clock_pred, ev.dir_pred) == (2, 2, "r")


def test_early_alert_at_a_wrong_bearing_is_a_false_alert(tiny_clip):
    pred, gt = _collide(tiny_clip, [(15, -60.0, None)])  # 1.5 s early, 120° off
    r = evaluate_clip(pred, gt, LEAD)
    assert not r.events[0].recalled and r.false_alerts == 1
    # 1.0 s early is inside the onset grace (grace 1 s), which never counted as false; with a 0.5 s
    # grace the same wrong-bearing warning is false
    pred, gt = _collide(tiny_clip, [(20, -60.0, None)])
    assert evaluate_clip(pred, gt, LEAD).false_alerts == 0
    r = evaluate_clip(pred, gt, EvalSettings(scorer=None, grace_s=0.5))
    assert not r.events[0].recalled and r.false_alerts == 1


def test_bearing_tolerance_and_lead_window_edges(tiny_clip):
    # ±45° around the perpetrator's 60°; frame 0 is exactly 3.0 s early, still inside the window
    for bearing, frame, recalled in [(60 + 44.0, 20, True), (60 - 46.0, 20, False), (60.0, 0, True)]:
        pred, gt = _collide(tiny_clip, [(frame, bearing, None)])
        assert evaluate_clip(pred, gt, LEAD).events[0].recalled is recalled, (bearing, frame)
    pred, gt = _collide(tiny_clip, [(5, 60.0, None)])  # 2.5 s early, outside a 2 s window
    r = evaluate_clip(pred, gt, EvalSettings(scorer=None, lead_window_s=2.0))
    assert not r.events[0].recalled and r.false_alerts == 1
    r = evaluate_clip(pred, gt, EvalSettings(scorer=None, lead_window_s=2.0, lead_bearing_tol_deg=10.0))
    assert not r.events[0].recalled


def test_strict_window_restores_the_onset_only_definition(tiny_clip):
    pred, gt = _collide(tiny_clip, [(15, 60.0, None), (33, -60.0, None)])
    lead = evaluate_clip(pred, gt, LEAD)
    assert lead.events[0].alert_frame == 15 and lead.events[0].delay_s == pytest.approx(-1.5)
    assert lead.false_alerts == 0
    strict = evaluate_clip(pred, gt, STRICT)  # the early warning is false again, the late one detects
    assert strict.events[0].alert_frame == 33 and strict.events[0].delay_s == pytest.approx(0.3)
    assert strict.events[0].lead_s == 0.0 and strict.false_alerts == 1
    assert strict.events[0].ttc_s == pytest.approx((CONTACT - 33) / FPS)


def test_time_to_contact_from_gt_contact_frame_and_from_an_entity_victim(tiny_clip):
    pred, gt = _collide(tiny_clip, [(31, 60.0, None)], contact_frame=40)
    assert evaluate_clip(pred, gt, LEAD).events[0].ttc_s == pytest.approx(0.9)  # the GT's contact frame wins
    # a thief walks straight at a person standing at bearing 90°, 3 m: the thief is at (x=3, z=2.0−0.1·f),
    # so their separation is |2.0 − 0.1·f| m, first below 0.45 m on frame 16 (0.4 m)
    import math

    clip = tiny_clip("steal")
    thief = {f: (math.degrees(math.atan2(3.0, 2.0 - 0.1 * f)), math.hypot(3.0, 2.0 - 0.1 * f)) for f in range(30)}
    victim = {f: (90.0, 3.0) for f in range(30)}
    gt = clip.gt([GTEvent(0, "Stealing", 10, 25, 1, 2, "r")], {1: thief, 2: victim}, 30, cls="Stealing")
    pred = clip.replay(30, [(8, thief[8][0] + 5.0, None)])
    ev = evaluate_clip(pred, gt, EvalSettings(scorer=None, contact_radius_m=0.45)).events[0]
    assert ev.delay_s == pytest.approx(-0.2) and ev.ttc_s == pytest.approx((16 - 8) / 10)
    ev = evaluate_clip(pred, gt, EvalSettings(scorer=None, contact_radius_m=0.05)).events[0]
    assert ev.ttc_s == pytest.approx((20 - 8) / 10)  # separation 0.0 m on frame 20
    clip = tiny_clip("no_contact")  # the same walk stopping 1 m short: no contact, no time to contact
    gt = clip.gt([GTEvent(0, "Stealing", 10, 25, 1, 2, "r")], {1: {f: thief[min(f, 10)] for f in range(30)},
                                                             2: victim}, 30, cls="Stealing")
    ev = evaluate_clip(clip.replay(30, [(12, thief[10][0], None)]), gt, LEAD).events[0]
    assert ev.recalled and ev.ttc_s is None


def test_view360_lists_credit_early_alerts_by_direction_class(tmp_path, tiny_clip):
    lst = tmp_path / "list.txt"
    lst.write_text("Stealing_ATM1_005_r 60 90\n", encoding="utf-8")  # VIEW360 frames are at 30 fps
    clip = tiny_clip("Stealing_ATM1_005", fps=30.0)
    gt = load_gt_arg(lst)[0]
    pred = clip.replay(120, [(30, 90.0, None)])  # 1.0 s early, on the right
    assert evaluate_clip(pred, gt, LEAD).events[0].delay_s == pytest.approx(-1.0)
    pred = clip.replay(120, [(15, -90.0, None)])  # 1.5 s early on the left, while the list says right
    r = evaluate_clip(pred, gt, LEAD)
    assert not r.events[0].recalled and r.false_alerts == 1


def test_eval_reads_the_scenario_generators_own_records(tiny_clip):
    _, gt_path = _collide(tiny_clip, [], contact_frame=40)
    clip_gt = load_gt_json(gt_path)
    assert clip_gt.events == load_gt(gt_path).events and clip_gt.events[0].contact_frame == 40
    assert all(isinstance(r, EntityFrameGT) for recs in clip_gt.frames.values() for r in recs)
    data = json.loads(gt_path.read_text())
    del data["events"][0]["contact_frame"]  # optional: files written before it existed still load
    assert gt_from_dict(data).events[0].contact_frame is None


def test_cli_flags_and_report(tiny_clip, tmp_path, capsys):
    pred, gt = _collide(tiny_clip, [(20, 60.0, None)])
    out = tmp_path / "r"
    assert main(["eval", str(pred), "--gt", str(gt), "--out", str(out), "--scorer", "none", "--workers", "1"]) == 0
    m = json.loads((out / "metrics.json").read_text())
    o = m["overall"]
    assert (o["recall"], o["false_alerts"], o["n_early"]) == (1.0, 0, 1)
    assert (o["delay_median_s"], o["lead_median_s"], o["ttc_median_s"]) == pytest.approx((-1.0, 1.0, 1.6))
    assert m["clips"][0]["events"][0]["lead_s"] == pytest.approx(1.0)
    assert m["settings"]["lead_window_s"] == 3.0 and m["settings"]["lead_bearing_tol_deg"] == 45.0
    md = (out / "report.md").read_text()
    assert "Warnings given in time" in md and "| **All** | 1 | 1 | 1 | 1.00 |" in md
    assert main(["eval", str(pred), "--gt", str(gt), "--out", str(out), "--scorer", "none", "--workers", "1",
                 "--strict-window"]) == 0
    o = json.loads((out / "metrics.json").read_text())["overall"]
    assert (o["recall"], o["false_alerts"], o["lead_median_s"]) == (0.0, 0, None)  # 1 s early: in the grace
    assert "strict window" in (out / "report.md").read_text()
    capsys.readouterr()
    assert main(["eval", str(pred), "--gt", str(gt), "--out", str(out), "--lead-window", "-1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--lead-window" in err
