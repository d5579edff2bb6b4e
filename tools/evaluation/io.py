"""Readers for what `ego360 eval` consumes: replay `events.jsonl`, `gt.json`, VIEW360 interval lists.

Readers are tolerant where a real file may legitimately be imperfect (a live run killed mid-line
leaves a truncated last line) and strict, with a one-line InputError, where guessing would corrupt
a metric. Everything is converted into small frozen records so the metric code never touches JSON.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ego360.core.errors import InputError
from ego360.tools.scenario.gt import EntityFrameGT, GTEntity, GTEvent, load_gt
from ego360.tools.scenario.view360 import load_intervals

log = logging.getLogger(__name__)

DEFAULT_FPS = 30.0


@dataclass(frozen=True, eq=False)
class ClipGT:
    """Ground truth of one clip, in the scenario generator's own records (tools/scenario/gt.py).

    Adds only what scoring needs on top: the names a replay dir may pair by, and `frames` indexed by
    frame number (frames with no visible entity left out). `frames` is empty for VIEW360 interval
    lists (no masks, no bearings, no distances).
    """

    name: str
    source: str
    cls: str
    fps: float | None
    num_frames: int | None
    events: tuple[GTEvent, ...]
    entities: tuple[GTEntity, ...] = ()
    frames: dict[int, tuple[EntityFrameGT, ...]] = field(default_factory=dict, repr=False)
    aliases: tuple[str, ...] = ()
    has_masks: bool = False  # an ego360 gt.json (grounding is scored, even with no entity on screen)


@dataclass(frozen=True)
class PredAlert:
    frame: int
    video_t: float | None
    entity_id: int | None
    role: str
    bearing_deg: float | None
    clock: int | None


@dataclass(frozen=True)
class PredCaption:
    entity_id: int
    frame: int
    role: str
    appearance: str
    motion: str


@dataclass(frozen=True, eq=False)
class Predictions:
    """One replay's events.jsonl. `tracks[entity][frame]` is a COCO RLE dict."""

    name: str
    source: str
    frame_scores: tuple[tuple[int, float, float | None], ...]  # (frame, score, video_t)
    alerts: tuple[PredAlert, ...]
    tracks: dict[int, dict[int, dict[str, Any]]] = field(repr=False)
    track_roles: dict[int, str]
    captions: dict[int, PredCaption]  # the last caption of each entity (the most informed one)
    summary: dict[str, Any]
    track_bearings: dict[int, dict[int, float]] = field(default_factory=dict, repr=False)  # [entity][frame]

    @property
    def processed_frames(self) -> set[int]:
        frames = {f for f, _, _ in self.frame_scores}
        for per_frame in self.tracks.values():
            frames.update(per_frame)
        return frames

    def estimate_fps(self) -> float | None:
        """Frames per video second from the frame lines, for GT without an fps (VIEW360 lists)."""
        ratios = sorted(f / t for f, _, t in self.frame_scores if f > 0 and t)
        return ratios[len(ratios) // 2] if ratios else None


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    out: list[dict[str, Any]] = []
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            if i == len(lines) - 1:  # an interrupted run leaves a half-written last line
                log.warning("%s: ignoring truncated last line", path)
                continue
            raise InputError(f"{path}:{i + 1}: not a JSON line; is this an ego360 events.jsonl?") from None
        if isinstance(obj, dict):
            out.append(obj)
    return out


def load_predictions(pred_dir: str | Path) -> Predictions:
    path = Path(pred_dir)
    events_path = path / "events.jsonl" if path.is_dir() else path
    if not events_path.is_file():
        raise InputError(f"{pred_dir}: no events.jsonl found; pass a replay output dir (ego360 replay CLIP --out DIR)")
    scores: list[tuple[int, float, float | None]] = []
    alerts: list[PredAlert] = []
    tracks: dict[int, dict[int, dict[str, Any]]] = {}
    bearings: dict[int, dict[int, float]] = {}
    roles: dict[int, Counter[str]] = {}
    captions: dict[int, PredCaption] = {}
    summary: dict[str, Any] = {}
    for obj in _read_jsonl(events_path):
        kind = obj.get("type")
        if kind == "frame":
            t = obj.get("video_t")
            scores.append((int(obj["frame"]), float(obj.get("score", 0.0)), float(t) if t is not None else None))
        elif kind == "alert":
            alerts.append(_alert(obj))
        elif kind == "track" and obj.get("rle"):
            eid = int(obj["entity_id"])
            tracks.setdefault(eid, {})[int(obj["frame"])] = obj["rle"]
            if obj.get("bearing_deg") is not None:
                bearings.setdefault(eid, {})[int(obj["frame"])] = float(obj["bearing_deg"])
            roles.setdefault(eid, Counter())[str(obj.get("role", "related"))] += 1
        elif kind == "caption":
            cap = PredCaption(int(obj["entity_id"]), int(obj.get("frame", -1)), str(obj.get("role", "")),
                              str(obj.get("appearance") or ""), str(obj.get("motion") or ""))
            prev = captions.get(cap.entity_id)
            if prev is None or cap.frame >= prev.frame:
                captions[cap.entity_id] = cap
        elif kind == "summary":
            summary = obj
    scores.sort()
    alerts.sort(key=lambda a: a.frame)
    name = (events_path.parent if events_path.name == "events.jsonl" else events_path).name
    return Predictions(name, str(events_path), tuple(scores), tuple(alerts), tracks,
                       {e: c.most_common(1)[0][0] for e, c in roles.items()}, captions, summary, bearings)


def _alert(obj: dict[str, Any]) -> PredAlert:
    bearing = obj.get("bearing_deg")
    clock = obj.get("clock")
    t = obj.get("video_t")
    eid = obj.get("entity_id")
    return PredAlert(int(obj["frame"]), float(t) if t is not None else None, int(eid) if eid is not None else None,
                     str(obj.get("role", "")), float(bearing) if bearing is not None else None,
                     int(clock) if clock is not None else None)


def load_gt_json(path: str | Path) -> ClipGT:
    """`gt.json` (or its dir) → ClipGT, through the shared validating loader (docs/annotations.md)."""
    p = Path(path)
    if p.is_dir():
        p = p / "gt.json"
    g = load_gt(p)
    frames = {f.frame: f.entities for f in g.frames if f.entities}
    aliases = (g.scenario,) if g.scenario else ()
    return ClipGT(p.parent.name, str(p), g.cls, g.fps, g.num_frames, g.events, g.entities, frames, aliases, True)


def load_view360(path: str | Path) -> list[ClipGT]:
    """A VIEW360 interval list → one ClipGT per video, one event per interval (temporal/direction only)."""
    out = []
    for v in load_intervals(path):
        base = f"{v.cls}_{v.location}_{v.vid}"
        events = tuple(GTEvent(i, v.cls, int(iv.start), int(iv.end), direction=iv.direction)
                       for i, iv in enumerate(v.intervals))
        out.append(ClipGT(base, str(path), v.cls, float(v.fps), None, events, aliases=(v.name,)))
    return out


def load_gt_arg(arg: str | Path) -> list[ClipGT]:
    """One --gt argument: a gt.json, a dir holding one, or a VIEW360 interval list (many clips)."""
    p = Path(arg)
    if p.is_dir() or p.suffix.lower() == ".json":
        return [load_gt_json(p)]
    if not p.exists():
        raise InputError(f"{arg}: no such ground-truth file; pass gt.json, its dir, or a VIEW360 interval list")
    return load_view360(p)


def pair_inputs(pred_dirs: list[str], gt_args: list[str]) -> list[tuple[str, ClipGT]]:
    """Pair replays with ground truth (rule documented in the README (Evaluation)).

    By name first: a replay dir pairs with the GT whose name (gt.json's dir name, its scenario, or the
    VIEW360 video name with or without the direction suffix) equals the replay dir's name.
    Only when names do not pair everything and the GT arguments are exactly one gt.json per replay are
    they paired by position.
    """
    gts: list[ClipGT] = [g for a in gt_args for g in load_gt_arg(a)]
    by_name: dict[str, ClipGT] = {}
    for g in gts:
        for key in (g.name, *g.aliases):
            by_name.setdefault(key, g)
    named = [(p, by_name.get(Path(p).name)) for p in pred_dirs]
    if all(g is not None for _, g in named):
        return [(p, g) for p, g in named if g is not None]
    json_only = all(g.has_masks for g in gts)
    if json_only and len(gts) == len(pred_dirs):
        return list(zip(pred_dirs, gts, strict=True))
    missing = [p for p, g in named if g is None]
    raise InputError(
        f"no ground truth pairs with {', '.join(missing)}; name each replay dir after its scenario/VIEW360 video "
        "or pass one gt.json per replay in the same order"
    )
