"""Ground truth of a rendered clip (`ego360-gt/1`, see docs/annotations.md): typed, frozen, and
round-trippable through JSON.

`load_gt` is the stable entry point for evaluation: it validates the format tag, so a file from an
older/foreign writer fails with one line instead of a KeyError deep inside the scorer.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from ego360.core.errors import InputError
from ego360.core.geometry import view360_direction, wrap_deg  # noqa: F401  (wrap_deg re-exported for scene code)
from ego360.core.rle import decode_rle, encode_rle  # noqa: F401  (re-exported: gt callers use these names)

GT_FORMAT = "ego360-gt/1"


def encode_rle_columns(block: np.ndarray, col0: int, width: int) -> dict[str, Any]:
    """COCO RLE of a full-size mask that is empty outside columns [col0, col0 + block width).

    Renders know where an entity is, so runs are computed on that column band only (COCO RLE is
    column-major, so the empty columns before/after are just longer zero runs); this is ~10× cheaper
    than encoding the whole 1920×960 frame per entity.
    """
    from pycocotools import mask as mask_utils

    height = block.shape[0]
    flat = np.ascontiguousarray(block.T).ravel().astype(bool, copy=False)
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    runs = np.diff(np.concatenate([[0], change, [flat.size]]))
    if flat.size and flat[0]:
        runs = np.concatenate([[0], runs])
    runs = runs.tolist() or [0]
    runs[0] += col0 * height
    trailing = (width - col0 - block.shape[1]) * height
    if len(runs) % 2:  # last run is zeros
        runs[-1] += trailing
    elif trailing:
        runs.append(trailing)
    rle = mask_utils.frPyObjects({"size": [height, width], "counts": runs}, height, width)
    return {"size": [height, width], "counts": rle["counts"].decode("ascii")}


# The scenario writer and the evaluator name a bearing's VIEW360 class and wrap angles with the
# runtime's own functions (one convention, core/geometry.py); `direction_of` is kept as the name
# the scenario code has always used.
direction_of = view360_direction


@dataclass(frozen=True)
class GTEvent:
    """One anomalous event; frames inclusive and 0-based; victim is "wearer" or an entity id.

    The one event record of the project: `ego360 scenario` writes it and `ego360 eval` scores it.
    A VIEW360 interval list knows only class, frames and (maybe) a direction, hence the defaults;
    gt.json always carries all fields.
    """

    id: int
    cls: str
    start_frame: int
    end_frame: int
    perpetrator: int | None = None
    victim: str | int | None = None
    direction: str | None = None  # l / c / r of the perpetrator at onset
    # First frame the perpetrator reaches the victim, when the writer knows it (optional in gt.json,
    # written only when set); `ego360 eval` otherwise finds contact from the per-frame distances.
    contact_frame: int | None = None


@dataclass(frozen=True)
class GTEntity:
    """Who is in the clip, with the words a captioner should produce for them."""

    id: int
    kind: str  # person | vehicle | object
    role: str  # perpetrator | victim | target | related | none
    appearance: str
    motion: str


@dataclass(frozen=True)
class EntityFrameGT:
    """One entity on one frame: visible mask (COCO RLE, occlusion applied) and its geometry.

    `bearing_deg` is the wearer-relative yaw of the entity's 3-D centre (not the mask centroid), so
    it stays true when the entity is partly occluded; `distance_m` is horizontal, wearer to centre.
    `box` is (x0, y0, x1, y1) in equirect pixels, x1/y1 exclusive; x1 may exceed width at the seam.
    """

    id: int
    rle: dict[str, Any]
    box: tuple[int, int, int, int]
    bearing_deg: float
    pitch_deg: float
    distance_m: float
    visible_px: int

    def mask(self) -> np.ndarray:
        return decode_rle(self.rle)


@dataclass(frozen=True)
class WearerPoseGT:
    """The camera's pose on one frame of a scene with depth (walking wearer or table camera), so an
    ego-motion estimate can be scored: world ground position (m; x right, z ahead of the wearer at
    t=0), body heading (deg, + right), camera height above the ground (m), head pitch/roll (deg; pitch
    + up, roll + right ear down) and walking speed (m/s). Entity bearings stay wearer-relative and
    level: yaw from the camera centre relative to the body heading, without the head bob."""

    x_m: float
    z_m: float
    heading_deg: float
    height_m: float
    pitch_deg: float
    roll_deg: float
    speed_mps: float


@dataclass(frozen=True)
class GTFrame:
    frame: int
    entities: tuple[EntityFrameGT, ...]
    wearer: WearerPoseGT | None = None  # only in clips rendered with a pose (optional in gt.json)


@dataclass(frozen=True)
class GroundTruth:
    """A whole clip's truth. `frames[i].frame == i` for files written by `render_scenario`."""

    scenario: str
    cls: str
    fps: float
    width: int
    height: int
    num_frames: int
    seed: int
    yaw_offset_deg: float
    ego_yaw_rate_dps: float
    events: tuple[GTEvent, ...]
    entities: tuple[GTEntity, ...]
    frames: tuple[GTFrame, ...] = ()
    clip: str = "clip.mp4"
    format: str = GT_FORMAT
    camera_height_m: float | None = None  # written for scenes with depth; None in older files (1.6 m)
    # The camera's constant mounting tilt (deg; `ego360.core.geometry.Mounting` conventions), written
    # only when non-zero so clips rendered without one keep byte-identical truth files.
    mount_pitch_deg: float = 0.0
    mount_roll_deg: float = 0.0

    def entity(self, entity_id: int) -> GTEntity:
        for ent in self.entities:
            if ent.id == entity_id:
                return ent
        raise KeyError(f"no entity {entity_id} in scenario {self.scenario!r}")

    def entity_frame(self, frame: int, entity_id: int) -> EntityFrameGT | None:
        """The entity's record on `frame`, None when it is not visible there."""
        for rec in self._frame(frame).entities:
            if rec.id == entity_id:
                return rec
        return None

    def mask(self, frame: int, entity_id: int) -> np.ndarray:
        """Bool H×W visible mask of an entity on a frame (all False when it is not visible)."""
        rec = self.entity_frame(frame, entity_id)
        if rec is None:
            return np.zeros((self.height, self.width), dtype=bool)
        return rec.mask()

    def with_frames(self, frames: tuple[GTFrame, ...]) -> GroundTruth:
        return replace(self, frames=frames, num_frames=max(self.num_frames, len(frames)))

    def _frame(self, frame: int) -> GTFrame:
        if 0 <= frame < len(self.frames) and self.frames[frame].frame == frame:
            return self.frames[frame]
        for rec in self.frames:
            if rec.frame == frame:
                return rec
        raise KeyError(f"frame {frame} not in ground truth ({len(self.frames)} frames)")

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format, "clip": self.clip, "scenario": self.scenario, "class": self.cls,
            "fps": self.fps, "width": self.width, "height": self.height, "num_frames": self.num_frames,
            "seed": self.seed, "yaw_offset_deg": self.yaw_offset_deg, "ego_yaw_rate_dps": self.ego_yaw_rate_dps,
            "events": [_event_to_dict(e) for e in self.events],
            "entities": [
                {"id": e.id, "kind": e.kind, "role": e.role, "appearance": e.appearance, "motion": e.motion}
                for e in self.entities
            ],
            "frames": [_frame_to_dict(f) for f in self.frames],
        } | ({} if self.camera_height_m is None else {"camera_height_m": self.camera_height_m}) | (
            {} if not (self.mount_pitch_deg or self.mount_roll_deg)
            else {"mount_pitch_deg": self.mount_pitch_deg, "mount_roll_deg": self.mount_roll_deg})


def _frame_to_dict(f: GTFrame) -> dict[str, Any]:
    out: dict[str, Any] = {"frame": f.frame, "entities": [_rec_to_dict(r) for r in f.entities]}
    if f.wearer is not None:
        w = f.wearer
        out["wearer"] = {"x_m": round(w.x_m, 4), "z_m": round(w.z_m, 4), "heading_deg": round(w.heading_deg, 4),
                         "height_m": round(w.height_m, 4), "pitch_deg": round(w.pitch_deg, 4),
                         "roll_deg": round(w.roll_deg, 4), "speed_mps": round(w.speed_mps, 4)}
    return out


def _wearer_from_dict(w: dict[str, Any] | None) -> WearerPoseGT | None:
    if w is None:
        return None
    return WearerPoseGT(float(w["x_m"]), float(w["z_m"]), float(w["heading_deg"]), float(w["height_m"]),
                        float(w["pitch_deg"]), float(w["roll_deg"]), float(w.get("speed_mps", 0.0)))


def _event_to_dict(e: GTEvent) -> dict[str, Any]:
    out = {"id": e.id, "class": e.cls, "start_frame": e.start_frame, "end_frame": e.end_frame,
           "perpetrator": e.perpetrator, "victim": e.victim, "direction": e.direction}
    if e.contact_frame is not None:
        out["contact_frame"] = e.contact_frame
    return out


def _rec_to_dict(r: EntityFrameGT) -> dict[str, Any]:
    return {"id": r.id, "rle": r.rle, "box": list(r.box), "bearing_deg": round(r.bearing_deg, 3),
            "pitch_deg": round(r.pitch_deg, 3), "distance_m": round(r.distance_m, 4), "visible_px": r.visible_px}


def gt_from_dict(data: dict[str, Any], origin: str = "<dict>") -> GroundTruth:
    """Build a GroundTruth from the parsed JSON; InputError names the missing or bad key."""
    if data.get("format") != GT_FORMAT:
        raise InputError(f"{origin}: format is {data.get('format')!r}, expected {GT_FORMAT!r} (re-render the clip)")
    try:
        events = tuple(
            GTEvent(int(e["id"]), str(e["class"]), int(e["start_frame"]), int(e["end_frame"]),
                    None if e.get("perpetrator") is None else int(e["perpetrator"]),
                    e.get("victim") if e.get("victim") in ("wearer", None) else int(e["victim"]),
                    None if e.get("direction") is None else str(e["direction"]),
                    int(e["contact_frame"]) if e.get("contact_frame") is not None else None)
            for e in data["events"]
        )
        entities = tuple(
            GTEntity(int(e["id"]), str(e["kind"]), str(e["role"]), str(e["appearance"]), str(e["motion"]))
            for e in data["entities"]
        )
        frames = tuple(
            GTFrame(int(f["frame"]), tuple(
                EntityFrameGT(int(r["id"]), {"size": list(r["rle"]["size"]), "counts": r["rle"]["counts"]},
                              tuple(int(v) for v in r["box"]), float(r["bearing_deg"]), float(r["pitch_deg"]),
                              float(r["distance_m"]), int(r["visible_px"]))
                for r in f["entities"]), _wearer_from_dict(f.get("wearer")))
            for f in data["frames"]
        )
        return GroundTruth(
            scenario=str(data["scenario"]), cls=str(data["class"]), fps=float(data["fps"]), width=int(data["width"]),
            height=int(data["height"]), num_frames=int(data["num_frames"]), seed=int(data["seed"]),
            yaw_offset_deg=float(data["yaw_offset_deg"]), ego_yaw_rate_dps=float(data["ego_yaw_rate_dps"]),
            events=events, entities=entities, frames=frames, clip=str(data.get("clip", "clip.mp4")),
            camera_height_m=None if data.get("camera_height_m") is None else float(data["camera_height_m"]),
            mount_pitch_deg=float(data.get("mount_pitch_deg", 0.0)),
            mount_roll_deg=float(data.get("mount_roll_deg", 0.0)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{origin}: malformed ground truth ({type(exc).__name__}: {exc}); re-render the clip") from exc


def load_gt(path: str | Path) -> GroundTruth:
    """Read `gt.json` (or a directory holding it) written by `ego360 scenario`.

    Returns frozen dataclasses: `events`, `entities`, `frames`; `gt.mask(frame, id)` decodes a mask.
    """
    p = Path(path)
    if p.is_dir():
        p = p / "gt.json"
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InputError(f"{p}: ground truth not found (render one with `ego360 scenario NAME --out DIR`)") from exc
    except json.JSONDecodeError as exc:
        raise InputError(f"{p}:{exc.lineno}: not valid JSON ({exc.msg})") from exc
    return gt_from_dict(data, origin=str(p))


def write_gt(gt: GroundTruth, path: str | Path) -> Path:
    """Write atomically (temp file in the same folder, then rename) so a reader never sees half a file."""
    p = Path(path)
    tmp = p.with_name(f".{p.name}.tmp{os.getpid()}")
    try:
        with tmp.open("w", encoding="utf-8") as fh:
            json.dump(gt.to_dict(), fh, separators=(",", ":"))
        os.replace(tmp, p)
    finally:
        tmp.unlink(missing_ok=True)
    return p
