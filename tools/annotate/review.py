"""The review file a person corrects (`DIR/review.md` + `DIR/review/<entity>.png`) and `--apply-review`.

Machine captions are drafts: the paper has people verify them. The markdown lists each entity under
a `### <tool id> (id N)` heading with `- role:`, `- kind:`, `- appearance:`, `- motion:` lines
and its preview (follow-view with the entity boxed in red, beside the wide view). Applying it
rewrites gt.json's entities (and events.jsonl); masks, frames and events are left as they are.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from ego360.core.errors import InputError
from ego360.core.packets import ROLES
from ego360.tools.annotate.prompts import entity_name
from ego360.tools.scenario.gt import GroundTruth, load_gt, write_gt

KINDS = ("person", "vehicle", "object")
FIELDS = ("role", "kind", "appearance", "motion")
_HEAD = re.compile(r"^###\s+(\S+)\s+\(id\s+(\d+)\)\s*$")
_FIELD = re.compile(r"^-\s*(\w+)\s*:\s*(.*)$")


def entity_names(gt: GroundTruth) -> dict[int, str]:
    taken: set[str] = set()
    out = {}
    for e in sorted(gt.entities, key=lambda e: e.id):
        name = entity_name(e.id, e.role, taken) or f"entity{e.id}"
        taken.add(name)
        out[e.id] = name
    return out


def write_review(out_dir: Path, gt: GroundTruth, previews: dict[int, np.ndarray], video: str) -> Path:
    """review.md and one PNG per entity; the markdown is written last (it is what a person opens)."""
    pics = out_dir / "review"
    pics.mkdir(parents=True, exist_ok=True)
    names = entity_names(gt)
    parts = [f"# Review: {video}\n",
             "Correct the fields below (one line each; keep the `###` headings), then run\n"
             f"`ego360 annotate --apply-review {out_dir}`. role: {' | '.join(ROLES)}; kind: {' | '.join(KINDS)}.\n"]
    for e in gt.entities:
        name = names[e.id]
        img = previews.get(e.id)
        parts.append(f"\n### {name} (id {e.id})\n")
        if img is not None:
            cv2.imwrite(str(pics / f"{name}.png"), np.ascontiguousarray(img[..., ::-1]))
            parts.append(f"\n![{name}](review/{name}.png)\n\n")
        else:
            parts.append("\n(not visible on any frame: no preview)\n\n")
        parts.append(f"- role: {e.role}\n- kind: {e.kind}\n- appearance: {_one_line(e.appearance)}\n"
                     f"- motion: {_one_line(e.motion)}\n")
    path = out_dir / "review.md"
    tmp = path.with_name(".review.md.tmp")
    tmp.write_text("".join(parts), encoding="utf-8")
    tmp.replace(path)
    return path


def _one_line(s: str) -> str:
    return " ".join(s.split())


def parse_review(text: str, origin: str) -> dict[int, dict[str, str]]:
    """entity id → edited fields; InputError with the line number on anything it cannot read."""
    out: dict[int, dict[str, str]] = {}
    current: int | None = None
    for lineno, line in enumerate(text.splitlines(), start=1):
        where = f"{origin}:{lineno}"
        head = _HEAD.match(line.strip())
        if head:
            current = int(head.group(2))
            out[current] = {}
            continue
        field = _FIELD.match(line.strip())
        if field is None or current is None:
            continue
        key, value = field.group(1).lower(), field.group(2).strip()
        if key not in FIELDS:
            raise InputError(f"{where}: unknown field {key!r}; fields: {', '.join(FIELDS)}")
        if key == "role" and value not in ROLES:
            raise InputError(f"{where}: role {value!r} unknown; valid: {', '.join(ROLES)}")
        if key == "kind" and value not in KINDS:
            raise InputError(f"{where}: kind {value!r} unknown; valid: {', '.join(KINDS)}")
        out[current][key] = value
    return out


def apply_review(out_dir: str | Path) -> tuple[GroundTruth, int]:
    """Fold review.md back into gt.json (and events.jsonl); returns the new truth and the entities changed."""
    from ego360.tools.annotate.build import write_events

    d = Path(out_dir)
    path = d / "review.md"
    if not path.is_file():
        raise InputError(f"{path}: no review file; run `ego360 annotate VIDEO --prompts FILE --out {d}` first")
    gt = load_gt(d / "gt.json")
    edits = parse_review(path.read_text(encoding="utf-8"), str(path))
    known = {e.id for e in gt.entities}
    unknown = sorted(set(edits) - known)
    if unknown:
        raise InputError(f"{path}: entity id(s) {unknown} are not in {d / 'gt.json'}; keep the headings as written")
    changed = 0
    ents = []
    for e in gt.entities:
        new = replace(e, **edits.get(e.id, {}))
        changed += new != e
        ents.append(new)
    gt = replace(gt, entities=tuple(ents))
    write_gt(gt, d / "gt.json")
    write_events(gt, d / "events.jsonl")
    return gt, changed
