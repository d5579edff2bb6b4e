"""Score one replay against its ground truth: the unit of work a process pool or a Ray task runs."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ego360.core.geometry import clock_hour, view360_direction, wrap_deg
from ego360.tools.evaluation.io import (
    DEFAULT_FPS,
    ClipGT,
    PredAlert,
    PredCaption,
    Predictions,
    load_gt_arg,
    load_predictions,
)
from ego360.tools.evaluation.judge import DIMENSIONS, ScorerSpec, make_scorer
from ego360.tools.evaluation.matching import MATCH_IOU, assign, iou_table
from ego360.tools.evaluation.metrics import (
    ROLE_GROUPS,
    ClipResult,
    EntityResult,
    EventResult,
    mean,
)
from ego360.tools.scenario.gt import EntityFrameGT, GTEntity, GTEvent

GROUNDED_ROLES = ("perpetrator", "victim", "target", "related")


@dataclass(frozen=True)
class EvalSettings:
    grace_s: float = 1.0  # alerts up to this long after an event's end still recall it
    iou_threshold: float = MATCH_IOU
    iou_window: str = "all"  # all: every GT frame of the entity; event: only inside event windows
    scorer: ScorerSpec | None = ScorerSpec()  # None: captions not scored
    # A warning system is judged on lead time: an alert up to `lead_window_s` before an event's onset
    # that points at its perpetrator (bearing within `lead_bearing_tol_deg` of its GT bearing) recalls
    # the event with a negative delay. 0 restores the onset-only definition (`--strict-window`).
    lead_window_s: float = 3.0
    lead_bearing_tol_deg: float = 45.0
    contact_radius_m: float = 0.5  # perpetrator–victim distance that counts as contact (time to contact)


def _resolve_gt(gt: str | Path | ClipGT, gt_name: str | None) -> ClipGT:
    if isinstance(gt, ClipGT):
        return gt
    items = load_gt_arg(gt)
    if gt_name is None:
        return items[0]
    return next(g for g in items if gt_name in (g.name, *g.aliases))


def evaluate_clip(pred_dir: str | Path, gt: str | Path | ClipGT, settings: EvalSettings = EvalSettings(),
                  gt_name: str | None = None) -> ClipResult:
    """All per-clip figures; picklable in and out so it runs in a worker process or as a Ray task."""
    gtc = _resolve_gt(gt, gt_name)
    pred = load_predictions(pred_dir)
    fps = gtc.fps or pred.estimate_fps() or DEFAULT_FPS
    win = _Windows(int(round(settings.grace_s * fps)), int(round(settings.lead_window_s * fps)),
                   settings.lead_bearing_tol_deg)
    events = tuple(_event_result(ev, gtc, pred, win, fps, settings.contact_radius_m) for ev in gtc.events)
    labels = tuple(int(any(e.start_frame <= f <= e.end_frame for e in gtc.events)) for f, _, _ in pred.frame_scores)
    false = sum(not any(win.near(a, e) or win.leads(a, e, gtc) for e in gtc.events) for a in pred.alerts)
    result = ClipResult(
        name=gtc.name, cls=gtc.cls, gt_source=gtc.source, pred_source=pred.source, fps=fps,
        scores=tuple(s for _, s, _ in pred.frame_scores), labels=labels, events=events,
        n_alerts=len(pred.alerts), false_alerts=false, minutes=_minutes(gtc, pred, fps), has_masks=gtc.has_masks,
    )
    if not gtc.has_masks:
        return result
    return _with_grounding(result, gtc, pred, settings)


def _minutes(gt: ClipGT, pred: Predictions, fps: float) -> float:
    """Processed video duration: the span of processed frames (the GT length when none were logged)."""
    frames = pred.processed_frames
    if frames:
        return (max(frames) - min(frames) + 1) / fps / 60.0
    return (gt.num_frames or 0) / fps / 60.0


@dataclass(frozen=True)
class _Windows:
    """Which alerts belong to an event, in frames (definitions: the README (Evaluation))."""

    grace: int
    lead: int
    tol_deg: float

    def near(self, a: PredAlert, ev: GTEvent) -> bool:
        """Within [onset − grace, end + grace]: never a false alert (onset labels are not frame-exact)."""
        return ev.start_frame - self.grace <= a.frame <= ev.end_frame + self.grace

    def recalls(self, a: PredAlert, ev: GTEvent, gt: ClipGT) -> bool:
        """Detects the event: inside [onset, end + grace], or an early warning (`leads`)."""
        return ev.start_frame <= a.frame <= ev.end_frame + self.grace or self.leads(a, ev, gt)

    def leads(self, a: PredAlert, ev: GTEvent, gt: ClipGT) -> bool:
        """An early warning: up to `lead` frames before onset and pointing at the perpetrator."""
        return ev.start_frame - self.lead <= a.frame < ev.start_frame and _points_at(a, ev, gt, self.tol_deg)


def _alert_bearing(a: PredAlert) -> float | None:
    if a.bearing_deg is not None:
        return a.bearing_deg
    return (a.clock % 12) * 30.0 if a.clock is not None else None


def _points_at(a: PredAlert, ev: GTEvent, gt: ClipGT, tol_deg: float) -> bool:
    """Does the alert point at the event's perpetrator? Against its GT bearing when the GT has one,
    else (VIEW360 lists) against the event's direction class; unknown pointing is never credited."""
    bearing = _alert_bearing(a)
    if bearing is None:
        return False
    gt_bearing = _bearing_at(gt, ev.perpetrator, a.frame)
    if gt_bearing is not None:
        return abs(float(wrap_deg(bearing - gt_bearing))) <= tol_deg
    return bool(ev.direction) and view360_direction(bearing) == ev.direction


def _event_result(ev: GTEvent, gt: ClipGT, pred: Predictions, win: _Windows, fps: float,
                  contact_radius_m: float) -> EventResult:
    first = next((a for a in pred.alerts if win.recalls(a, ev, gt)), None)
    if first is None:
        return EventResult(ev.id, ev.start_frame, ev.end_frame, False, dir_gt=_gt_direction(ev, gt))
    bearing = _alert_bearing(first)
    gt_bearing = _bearing_at(gt, ev.perpetrator, first.frame)
    clock_pred = first.clock if first.clock is not None else (clock_hour(bearing) if bearing is not None else None)
    delay = (first.frame - ev.start_frame) / fps
    contact = _contact_frame(ev, gt, contact_radius_m)
    return EventResult(
        ev.id, ev.start_frame, ev.end_frame, True, first.frame, delay,
        dir_gt=_gt_direction(ev, gt), dir_pred=view360_direction(bearing) if bearing is not None else None,
        clock_gt=clock_hour(gt_bearing) if gt_bearing is not None else None, clock_pred=clock_pred,
        lead_s=max(0.0, -delay), ttc_s=(contact - first.frame) / fps if contact is not None else None,
    )


def _contact_frame(ev: GTEvent, gt: ClipGT, radius_m: float) -> int | None:
    """When the perpetrator reaches the victim: the GT's `contact_frame`, else the first frame of the
    event on which the perpetrator is closer than `radius_m` to the victim; None: no contact."""
    if ev.contact_frame is not None:
        return ev.contact_frame
    if ev.perpetrator is None:
        return None
    for f in range(ev.start_frame, ev.end_frame + 1):
        d = _separation(gt.frames.get(f, ()), ev.perpetrator, ev.victim)
        if d is not None and d < radius_m:
            return f
    return None


def _separation(recs: tuple[EntityFrameGT, ...], perpetrator: int, victim: str | int | None) -> float | None:
    """Horizontal perpetrator–victim distance on one frame, from wearer-relative bearings and distances
    (the victim is the wearer or another entity); None when either is not visible."""
    perp = next((r for r in recs if r.id == perpetrator), None)
    if perp is None:
        return None
    if victim is None or victim == "wearer":
        return perp.distance_m
    vict = next((r for r in recs if r.id == victim), None)
    if vict is None:
        return None
    a, b = perp.distance_m, vict.distance_m
    cos = math.cos(math.radians(perp.bearing_deg - vict.bearing_deg))
    return math.sqrt(max(0.0, a * a + b * b - 2.0 * a * b * cos))


def _gt_direction(ev: GTEvent, gt: ClipGT) -> str | None:
    if ev.direction:
        return ev.direction
    b = _bearing_at(gt, ev.perpetrator, ev.start_frame)
    return view360_direction(b) if b is not None else None


def _bearing_at(gt: ClipGT, entity_id: int | None, frame: int) -> float | None:
    """The entity's GT bearing at a frame, or at the nearest frame where it is visible."""
    if entity_id is None or not gt.frames:
        return None
    best: tuple[int, float] | None = None
    for f, obs in gt.frames.items():
        for o in obs:
            if o.id == entity_id and (best is None or abs(f - frame) < best[0]):
                best = (abs(f - frame), o.bearing_deg)
    return best[1] if best else None


def _with_grounding(base: ClipResult, gt: ClipGT, pred: Predictions, settings: EvalSettings) -> ClipResult:
    ents = [e for e in gt.entities if e.role in GROUNDED_ROLES]
    windows = [(e.start_frame, e.end_frame) for e in gt.events] if settings.iou_window == "event" else None
    table = iou_table(gt, pred, [e.id for e in ents], windows)
    keep = [i for i, n in enumerate(table.n_frames) if n > 0]  # an entity never visible in scored frames
    iou = table.iou[keep] if keep else table.iou[:0]
    ents = [ents[i] for i in keep]
    assignments = assign(iou, settings.iou_threshold)
    scorer = make_scorer(settings.scorer) if settings.scorer is not None else None
    results, calls, failures, retries = [], 0, 0, 0
    for k, (ent, a) in enumerate(zip(ents, assignments, strict=True)):
        pid = table.pred_ids[a.pred_index] if a.pred_index is not None else None
        cap, status, dims, n, f, r = _caption(ent, pred.captions.get(pid) if a.matched else None, scorer)
        calls, failures, retries = calls + n, failures + f, retries + r
        results.append(EntityResult(ent.id, ent.role, table.n_frames[keep[k]], a.iou, a.matched,
                                    pid, cap, status, dims))
    matched_preds = {r.pred_entity for r in results if r.matched}
    unmatched = [p for p in table.pred_ids if p not in matched_preds]
    by_role: dict[str, int] = {}
    for p in unmatched:
        group = ROLE_GROUPS.get(pred.track_roles.get(p, "related"), "related")
        by_role[group] = by_role.get(group, 0) + 1
    jumps, steps = id_jumps(gt, pred)
    return replace(base, entities=tuple(results), n_pred_entities=len(table.pred_ids), fpe=len(unmatched),
                   fpe_by_role=by_role, scorer=getattr(scorer, "name", None), judge_calls=calls,
                   judge_failures=failures, judge_retries=retries, id_jumps=jumps, id_steps=steps)


MAX_ID_JUMP_DEG = 45.0
MAX_STEP_FRAMES = 4  # consecutive processed frames (every 2nd frame, and a dropped one)


def id_jumps(gt: ClipGT, pred: Predictions) -> tuple[int, int]:
    """Steps where one predicted id's bearing moved more than 45° between consecutive processed frames
    while the ground-truth entity nearest to it at the first frame moved less (by 10° of slack): an id
    that jumped to another body. Returns (jumps, steps judged)."""
    jumps = steps = 0
    for per_frame in pred.track_bearings.values():
        frames = sorted(per_frame)
        for f0, f1 in zip(frames, frames[1:], strict=False):
            if f1 - f0 > MAX_STEP_FRAMES:
                continue
            steps += 1
            move = abs(float(wrap_deg(per_frame[f1] - per_frame[f0])))
            if move <= MAX_ID_JUMP_DEG:
                continue
            recs0, recs1 = gt.frames.get(f0, ()), {r.id: r for r in gt.frames.get(f1, ())}
            near = min(recs0, key=lambda r: abs(float(wrap_deg(r.bearing_deg - per_frame[f0]))), default=None)
            gt_move = abs(float(wrap_deg(recs1[near.id].bearing_deg - near.bearing_deg))) \
                if near is not None and near.id in recs1 else 0.0
            jumps += move > gt_move + 10.0
    return jumps, steps


def _caption(ent: GTEntity, cap: PredCaption | None, scorer: Any) -> tuple:
    """(Cap 0–100 or None, status, per-dimension scores, calls, failed calls, retries) for one GT entity."""
    refs = {"appearance": ent.appearance, "motion": ent.motion,
            "semantic": "; ".join(t for t in (ent.appearance, ent.motion) if t)}
    if scorer is None:
        return None, "unscored", {}, 0, 0, 0
    if not refs["semantic"]:
        return None, "no-reference", {}, 0, 0, 0
    if cap is None:
        return 0.0, "missing", {}, 0, 0, 0
    preds = {"appearance": cap.appearance, "motion": cap.motion,
             "semantic": "; ".join(t for t in (cap.appearance, cap.motion) if t)}
    dims: dict[str, float | None] = {}
    calls = failed = retries = 0
    for dim in DIMENSIONS:
        if not refs[dim]:
            continue
        out = scorer.score(dim, preds[dim], refs[dim])
        calls, retries = calls + 1, retries + out.attempts - 1
        failed += out.value is None
        dims[dim] = out.value
    value = mean(v for v in dims.values() if v is not None)
    return value, ("scored" if value is not None else "failed"), dims, calls, failed, retries
