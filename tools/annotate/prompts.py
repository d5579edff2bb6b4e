"""The VIEW360+ annotation tool's files: the prompt text file and `*.instances.json` (docs/annotations.md).

Prompt file, one prompt a line: `frame, entity_id, type, coords…`. `entity_id` is `actor|subject|related`
plus one digit; `type` is `bbox` (x, y, w, h), `pos_point` / `neg_point` (x, y), all relative to the
frame in [0, 1] written with six decimals, or `text` (the rest of the line, commas included, is a
note; frame −1 holds metadata). A box across the ±180° seam has x + w > 1. Reading is strict (a bad
line names its line number and the reason) because a silently skipped prompt is a silently wrong mask.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ego360.core.errors import InputError

ENTITY_RE = re.compile(r"^(actor|subject|related)[0-9]$")
PREFIX_ROLE = {"actor": "perpetrator", "subject": "victim", "related": "related"}
ROLE_PREFIX = {"perpetrator": "actor", "victim": "subject", "target": "subject", "related": "related"}
_PREFIX_BASE = {"actor": 10, "subject": 20, "related": 30}
KINDS = ("bbox", "pos_point", "neg_point", "text")
_NCOORDS = {"bbox": 4, "pos_point": 2, "neg_point": 2}
FORMAT_HINT = "expected `frame, entity_id, type, coords…` (docs/annotations.md)"


@dataclass(frozen=True)
class PromptLine:
    """One prompt. `frame` is in the prompt file's own numbering (see `FrameMap`)."""

    frame: int
    entity: str
    kind: str  # bbox | pos_point | neg_point | text
    coords: tuple[float, ...] = ()
    text: str = ""
    lineno: int = 0


@dataclass(frozen=True)
class Instance:
    text: str
    enter_frame: int
    exit_frame: int
    missing_frames: tuple[int, ...] = ()


@dataclass(frozen=True)
class Instances:
    instances: dict[str, Instance] = field(default_factory=dict)
    video_caption: str = ""


def role_of(entity: str) -> str:
    """actor → perpetrator, subject → victim, related → related."""
    return PREFIX_ROLE[entity[:-1]]


def entity_number(entity: str) -> int:
    """Stable integer id of a tool id: actor3 → 13, subject0 → 20, related7 → 37 (gt.json ids are ints)."""
    return _PREFIX_BASE[entity[:-1]] + int(entity[-1])


def entity_name(entity_id: int, role: str, taken: set[str]) -> str | None:
    """The tool id of a gt.json entity: decoded from `entity_number` when it fits the role, else the next
    free digit of the role's prefix; None for roles the tool has no prefix for (`none`) or no free digit."""
    prefix = ROLE_PREFIX.get(role)
    if prefix is None:
        return None
    base = _PREFIX_BASE[prefix]
    if base <= entity_id <= base + 9 and f"{prefix}{entity_id - base}" not in taken:
        return f"{prefix}{entity_id - base}"
    return next((f"{prefix}{d}" for d in range(10) if f"{prefix}{d}" not in taken), None)


def _number(token: str, where: str, what: str) -> float:
    try:
        v = float(token)
    except ValueError:
        raise InputError(f"{where}: {what} {token.strip()!r} is not a number; {FORMAT_HINT}") from None
    if not math.isfinite(v):
        raise InputError(f"{where}: {what} {token.strip()!r} is not finite")
    return v


def parse_line(line: str, where: str, lineno: int = 0) -> PromptLine:
    """One line → PromptLine; InputError names `where` (file:line) and what is wrong."""
    head = line.split(",", 3)
    if len(head) < 4:
        raise InputError(f"{where}: {len(head)} field(s); {FORMAT_HINT}")
    frame_s, entity, kind = head[0].strip(), head[1].strip(), head[2].strip()
    try:
        frame = int(frame_s)
    except ValueError:
        raise InputError(f"{where}: frame {frame_s!r} is not an integer; {FORMAT_HINT}") from None
    if kind not in KINDS:
        raise InputError(f"{where}: type {kind!r} unknown; valid: {', '.join(KINDS)}")
    if kind == "text":
        if frame < -1:
            raise InputError(f"{where}: frame {frame} must be ≥ 0 (or −1 for metadata)")
        if frame >= 0 and not ENTITY_RE.match(entity):
            raise InputError(f"{where}: entity id {entity!r} must match actor|subject|related + one digit, e.g. actor0")
        return PromptLine(frame, entity, kind, (), head[3].strip(), lineno)
    if frame < 0:
        raise InputError(f"{where}: frame {frame} must be ≥ 0 for a {kind} prompt")
    if not ENTITY_RE.match(entity):
        raise InputError(f"{where}: entity id {entity!r} must match actor|subject|related + one digit, e.g. actor0")
    tokens = head[3].split(",")
    n = _NCOORDS[kind]
    if len(tokens) != n:
        raise InputError(f"{where}: {kind} needs {n} coordinates, got {len(tokens)}")
    names = ("x", "y", "w", "h") if kind == "bbox" else ("x", "y")
    coords = tuple(_number(t, where, name) for t, name in zip(tokens, names, strict=True))
    for name, v in zip(names, coords, strict=True):
        if not 0.0 <= v <= 1.0:
            raise InputError(f"{where}: {name} = {v} is outside [0, 1] (coordinates are relative to the frame)")
    if kind == "bbox":
        x, y, w, h = coords
        if w <= 0 or h <= 0:
            raise InputError(f"{where}: bbox width and height must be > 0, got w={w}, h={h}")
        if y + h > 1.0 + 1e-6:
            raise InputError(f"{where}: bbox bottom y + h = {y + h:.6f} is below the frame (must be ≤ 1)")
    return PromptLine(frame, entity, kind, coords, "", lineno)


def parse_prompts_text(text: str, origin: str = "<prompts>") -> tuple[PromptLine, ...]:
    """Every prompt of a file; blank lines are skipped. The first bad line raises (with the count of
    further bad lines), so one run shows where to start fixing."""
    out: list[PromptLine] = []
    errors: list[InputError] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            out.append(parse_line(line, f"{origin}:{lineno}", lineno))
        except InputError as exc:
            errors.append(exc)
    if errors:
        more = f" (and {len(errors) - 1} more bad line(s))" if len(errors) > 1 else ""
        raise InputError(f"{errors[0]}{more}")
    if not any(p.kind != "text" for p in out):
        raise InputError(f"{origin}: no bbox or point prompts; {FORMAT_HINT}")
    return tuple(out)


def read_prompts(path: str | Path) -> tuple[PromptLine, ...]:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{p}: prompt file not found") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{p}: not a UTF-8 text file ({exc.reason})") from None
    return parse_prompts_text(text, str(p))


def format_line(p: PromptLine) -> str:
    """The tool's own line: six decimals for every coordinate."""
    if p.kind == "text":
        return f"{p.frame}, {p.entity}, text, {p.text}"
    return ", ".join([str(p.frame), p.entity, p.kind, *(f"{v:.6f}" for v in p.coords)])


def format_prompts(lines: tuple[PromptLine, ...] | list[PromptLine]) -> str:
    return "".join(format_line(p) + "\n" for p in lines)


def entity_order(lines: tuple[PromptLine, ...]) -> list[str]:
    """Entities with at least one box or point, in order of first appearance."""
    seen: dict[str, None] = {}
    for p in lines:
        if p.kind != "text" and p.frame >= 0:
            seen.setdefault(p.entity, None)
    return list(seen)


# ---------------------------------------------------------------- *.instances.json
def _int(v: Any, where: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise InputError(f"{where} must be an integer, got {v!r}")
    return v


def parse_instances(data: Any, origin: str = "<instances>") -> Instances:
    if not isinstance(data, dict):
        raise InputError(f"{origin}: expected a JSON object with 'instances'")
    if str(data.get("schema_version", "1.0")) != "1.0":
        raise InputError(f"{origin}: schema_version {data.get('schema_version')!r} unsupported (expected '1.0')")
    if data.get("frame_indexing", "0-based") != "0-based":
        raise InputError(f"{origin}: frame_indexing {data.get('frame_indexing')!r} unsupported (expected '0-based')")
    raw = data.get("instances")
    if not isinstance(raw, dict):
        raise InputError(f"{origin}: 'instances' must be an object {{entity_id: {{...}}}}")
    out: dict[str, Instance] = {}
    for name, obj in raw.items():
        where = f"{origin}: instances.{name}"
        if not ENTITY_RE.match(name):
            raise InputError(f"{where}: entity id must match actor|subject|related + one digit, e.g. actor0")
        if not isinstance(obj, dict):
            raise InputError(f"{where}: expected an object")
        enter = _int(obj.get("enter_frame"), f"{where}.enter_frame")
        exit_ = _int(obj.get("exit_frame"), f"{where}.exit_frame")
        if enter < 0 or exit_ < enter:
            raise InputError(f"{where}: needs 0 ≤ enter_frame ≤ exit_frame, got {enter}, {exit_}")
        missing = obj.get("missing_frames", []) or []
        if not isinstance(missing, list):
            raise InputError(f"{where}.missing_frames must be a list of frame numbers")
        miss = tuple(sorted({_int(m, f"{where}.missing_frames[]") for m in missing}))
        out[name] = Instance(str(obj.get("text", "") or ""), enter, exit_, miss)
    return Instances(out, str(data.get("video_caption", "") or ""))


def read_instances(path: str | Path) -> Instances:
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{p}: instances file not found") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{p}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    return parse_instances(data, str(p))


def instances_to_dict(inst: Instances) -> dict[str, Any]:
    return {
        "schema_version": "1.0", "frame_indexing": "0-based",
        "instances": {k: {"text": v.text, "enter_frame": v.enter_frame, "exit_frame": v.exit_frame,
                          "missing_frames": list(v.missing_frames)} for k, v in inst.instances.items()},
        "video_caption": inst.video_caption,
    }


# ---------------------------------------------------------------- frame numbers
@dataclass(frozen=True)
class FrameMap:
    """Prompt-file frame numbers ↔ video frames. Prompts made on an N fps copy of a video at F fps:
    prompt frame k is video frame round(k·F/N), and stands for the video frames nearest to it
    (`span`), which is how enter/exit/missing frames of the copy become video frames."""

    video_fps: float
    prompt_fps: float

    @property
    def ratio(self) -> float:
        return self.video_fps / self.prompt_fps

    def to_video(self, k: int) -> int:
        return int(round(k * self.ratio))

    def span(self, k: int) -> tuple[int, int]:
        """Inclusive video frames whose nearest prompt-rate frame is k."""
        if self.ratio == 1.0:
            return k, k
        return max(0, math.ceil((k - 0.5) * self.ratio)), max(0, math.ceil((k + 0.5) * self.ratio) - 1)

    def to_prompt(self, video_frame: int) -> int | None:
        """The prompt frame that lands exactly on `video_frame`, None when none does."""
        k = int(round(video_frame / self.ratio))
        return k if self.to_video(k) == video_frame else None
