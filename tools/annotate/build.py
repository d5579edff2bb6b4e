"""Prompts → entity plans, and propagated masks → `ego360-gt/1` (frames, entities, events) and events.jsonl.

Geometry written into gt.json is measured from the annotated masks with the project's conventions:
the bearing is the circular-mean yaw of the mask (wearer-relative through the mounting), the distance
comes from the mask's lowest pixel as a foot point on flat ground at the camera height (100 m when it
is at or above the horizon). The synthetic ground truth uses the 3-D centre instead; a real video has none.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from ego360.core.errors import InputError
from ego360.core.geometry import Mounting, clock_hour, view360_direction
from ego360.core.packets import Caption
from ego360.core.projection import mask_box_wrapped, mask_centroid_yawpitch
from ego360.core.rle import decode_rle
from ego360.tools.annotate.prompts import FrameMap, Instances, PromptLine, entity_number, entity_order, role_of
from ego360.tools.annotate.propagate import EntityPlan
from ego360.tools.annotate.seeds import FramePrompt
from ego360.tools.scenario.gt import EntityFrameGT, GroundTruth, GTEntity, GTEvent, GTFrame
from ego360.tools.scenario.view360 import FPS as VIEW360_FPS
from ego360.tools.scenario.view360 import View360Video

log = logging.getLogger(__name__)

FAR_M = 100.0  # distance written when the foot point is not below the horizon
_VEHICLE = re.compile(r"\b(car|bus|truck|van|taxi|bicycle|bike|cyclist|motorcycle|motorbike|scooter|vehicle)s?\b", re.I)
_OBJECT = re.compile(r"\b(ball|bag|backpack|phone|wallet|bottle|box|stone|rock|umbrella|object|can|cup)s?\b", re.I)


def kind_from_text(text: str) -> str:
    """person unless the person's note names a vehicle or a thing (the tool has no kind field)."""
    if _VEHICLE.search(text):
        return "vehicle"
    if _OBJECT.search(text):
        return "object"
    return "person"


def _exit(fmap: FrameMap, k: int, n_frames: int) -> int:
    """Last video frame of prompt-rate frame k; the copy's last frame stands for the rest of the video."""
    if fmap.to_video(k + 1) > n_frames - 1:
        return n_frames - 1
    return min(n_frames - 1, fmap.span(k)[1])


def make_plans(lines: tuple[PromptLine, ...], instances: Instances | None, fmap: FrameMap, n_frames: int,
               width: int, height: int, origin: str = "<prompts>") -> list[EntityPlan]:
    """One plan per prompted entity; prompts and instances are checked against each other and the clip."""
    inst = instances.instances if instances else {}
    plans = []
    for name in entity_order(lines):
        own = [p for p in lines if p.entity == name]
        prompts: dict[int, dict[str, list]] = {}
        for p in own:
            if p.kind == "text" or p.frame < 0:
                continue
            v = fmap.to_video(p.frame)
            if v >= n_frames:
                raise InputError(f"{origin}:{p.lineno}: frame {p.frame} is video frame {v}, past the clip's last "
                                 f"frame {n_frames - 1}; check --prompt-fps (prompts made on a 1 fps copy: 1)")
            slot = prompts.setdefault(v, {"boxes": [], "pos": [], "neg": []})
            if p.kind == "bbox":
                x, y, w, h = p.coords
                slot["boxes"].append((x * width, y * height, (x + w) * width, (y + h) * height))
            else:
                slot["pos" if p.kind == "pos_point" else "neg"].append((p.coords[0] * width, p.coords[1] * height))
        fps_ = {v: FramePrompt(tuple(s["boxes"]), tuple(s["pos"]), tuple(s["neg"])) for v, s in prompts.items()}
        fps_ = {v: fp for v, fp in fps_.items() if fp.boxes or fp.pos}
        if not fps_:
            log.warning("%s: %s has only negative points or notes; not annotated", origin, name)
            continue
        ins = inst.get(name)
        if ins is not None:
            enter, exit_ = fmap.span(ins.enter_frame)[0], _exit(fmap, ins.exit_frame, n_frames)
            missing = frozenset(v for k in ins.missing_frames for v in range(fmap.span(k)[0], fmap.span(k)[1] + 1))
        else:
            ks = [p.frame for p in own if p.kind != "text" and p.frame >= 0]
            enter, exit_ = fmap.span(min(ks))[0], _exit(fmap, max(ks), n_frames)
            missing = frozenset()
        for v in sorted(fps_):
            if not enter <= v <= exit_ or v in missing:
                raise InputError(f"{origin}: {name} is prompted on video frame {v} but the instances file has it "
                                 f"outside [{enter}, {exit_}] or missing there; fix one of the two")
        notes = " ".join(p.text for p in own if p.kind == "text")
        text = ins.text if ins is not None and ins.text else notes
        plans.append(EntityPlan(entity_number(name), name, role_of(name), kind_from_text(text), fps_, enter, exit_,
                                missing, text))
    for name in inst:
        if name not in {p.name for p in plans}:
            log.warning("%s: %s is in the instances file but has no box or point prompt; not annotated", origin, name)
    return plans


def frame_record(entity_id: int, rle: dict[str, Any], mounting: Mounting, camera_height_m: float
                 ) -> EntityFrameGT | None:
    mask = decode_rle(rle)
    centre = mask_centroid_yawpitch(mask)
    box = mask_box_wrapped(mask)
    if centre is None or box is None:
        return None
    h = mask.shape[0]
    yaw, pitch = mounting.camera_to_wearer(centre[0], centre[1])
    rows = np.flatnonzero(mask.any(axis=1))
    _, foot = mounting.camera_to_wearer(centre[0], (0.5 - (rows[-1] + 1) / h) * 180.0)
    dist = camera_height_m / math.tan(math.radians(-float(foot))) if float(foot) < -2.0 else FAR_M
    return EntityFrameGT(entity_id, rle, (int(box.x0), int(box.y0), int(box.x1), int(box.y1)), float(yaw),
                         float(pitch), float(min(dist, FAR_M)), int(mask.sum()))


def gt_frames(masks: dict[int, dict[int, dict[str, Any]]], n_frames: int, mounting: Mounting,
              camera_height_m: float) -> tuple[GTFrame, ...]:
    frames = []
    for f in range(n_frames):
        recs = [frame_record(eid, per[f], mounting, camera_height_m) for eid, per in sorted(masks.items()) if f in per]
        frames.append(GTFrame(f, tuple(r for r in recs if r is not None)))
    return tuple(frames)


def _bearing_near(frames: tuple[GTFrame, ...], entity_id: int, frame: int) -> float | None:
    best = None
    for fr in frames:
        for r in fr.entities:
            if r.id == entity_id and (best is None or abs(fr.frame - frame) < best[0]):
                best = (abs(fr.frame - frame), r.bearing_deg)
    return best[1] if best else None


def make_events(plans: list[EntityPlan], frames: tuple[GTFrame, ...], cls: str, fps: float,
                video: View360Video | None) -> tuple[GTEvent, ...]:
    """Events from the VIEW360 interval list entry, else one spanning the actors' frames (none without one)."""
    actors = [p for p in plans if p.role == "perpetrator"]
    subjects = [p for p in plans if p.role in ("victim", "target")]
    victim: str | int = subjects[0].entity_id if subjects else "wearer"
    if video is not None:
        scale = fps / VIEW360_FPS
        spans = [(int(round(iv.start * scale)), int(round(iv.end * scale)), iv.direction) for iv in video.intervals]
        if not actors:
            raise InputError(f"{video.name}: the interval list has {len(spans)} event(s) but no actor is prompted; "
                             "gt.json names a perpetrator per event (add an actor0 prompt)")
    elif actors:
        spans = [(min(p.enter for p in actors), max(p.exit for p in actors), None)]
    else:
        return ()
    perp = actors[0].entity_id
    events = []
    for i, (s, e, d) in enumerate(spans):
        if d is None:
            b = _bearing_near(frames, perp, s)
            d = view360_direction(b) if b is not None else "c"
        events.append(GTEvent(i, cls, s, e, perp, victim, d))
    return tuple(events)


def make_gt(name: str, clip: str, cls: str, fps: float, width: int, height: int, n_frames: int,
            plans: list[EntityPlan], frames: tuple[GTFrame, ...], events: tuple[GTEvent, ...],
            captions: dict[int, Caption], mounting: Mounting) -> GroundTruth:
    ents = tuple(GTEntity(p.entity_id, p.kind, p.role, captions[p.entity_id].appearance if p.entity_id in captions
                          else "", captions[p.entity_id].motion if p.entity_id in captions else "") for p in plans)
    return GroundTruth(scenario=name, cls=cls, fps=fps, width=width, height=height, num_frames=n_frames, seed=0,
                       yaw_offset_deg=mounting.yaw_offset_deg, ego_yaw_rate_dps=0.0, events=events, entities=ents,
                       frames=frames, clip=clip)


def write_events(gt: GroundTruth, path: str | Path) -> Path:
    """The annotation as a replay's events.jsonl, so `ego360 eval` can score one annotation against
    another (or against a synthetic truth): frame scores 1 inside events, tracks, captions, one alert
    per event at onset pointing at its perpetrator. Written atomically."""
    p = Path(path)
    tmp = p.with_name(f".{p.name}.tmp{os.getpid()}")
    in_event = np.zeros(gt.num_frames, bool)
    for ev in gt.events:
        in_event[max(0, ev.start_frame):ev.end_frame + 1] = True
    roles = {e.id: e.role for e in gt.entities}
    last: dict[int, int] = {}
    try:
        with tmp.open("w", encoding="utf-8") as fh:
            def put(obj: dict[str, Any]) -> None:
                fh.write(json.dumps(obj, separators=(",", ":")) + "\n")

            for fr in gt.frames:
                put({"type": "frame", "frame": fr.frame, "video_t": round(fr.frame / gt.fps, 4),
                     "score": 1.0 if fr.frame < len(in_event) and in_event[fr.frame] else 0.0})
                for r in fr.entities:
                    last[r.id] = fr.frame
                    put({"type": "track", "frame": fr.frame, "entity_id": r.id, "role": roles.get(r.id, "related"),
                         "bearing_deg": round(r.bearing_deg, 2), "box": list(r.box), "rle": r.rle})
            for ev in gt.events:
                b = _bearing_near(gt.frames, ev.perpetrator, ev.start_frame) if ev.perpetrator is not None else None
                put({"type": "alert", "frame": ev.start_frame, "video_t": round(ev.start_frame / gt.fps, 4),
                     "entity_id": ev.perpetrator, "role": "perpetrator", "bearing_deg": b,
                     "clock": clock_hour(b) if b is not None else None})
            for e in gt.entities:
                put({"type": "caption", "entity_id": e.id, "frame": last.get(e.id, 0), "role": e.role,
                     "appearance": e.appearance, "motion": e.motion, "source": "annotation"})
            put({"type": "summary", "source": "ego360 annotate", "frames_processed": len(gt.frames)})
        os.replace(tmp, p)
    finally:
        tmp.unlink(missing_ok=True)
    return p
