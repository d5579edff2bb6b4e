"""gt.json → the annotation tool's files (`ego360 annotate --export-prompts`): the round trip back.

One box per entity every `every_s` seconds (what a person prompting a 1 fps copy would have drawn),
taken from the ground truth's boxes; the instances file gets each entity's visible span and the
sampled frames on which it is hidden. Only the roles the tool has (actor, subject, related) are
written; `none` entities are bystanders the tool does not annotate.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ego360.core.errors import InputError
from ego360.tools.annotate.prompts import (
    FrameMap,
    Instance,
    Instances,
    PromptLine,
    entity_name,
    format_prompts,
    instances_to_dict,
)
from ego360.tools.scenario.gt import GroundTruth


def prompts_from_gt(gt: GroundTruth, every_s: float = 1.0, prompt_fps: float | None = None
                    ) -> tuple[list[PromptLine], Instances]:
    """Boxes at every `every_s` seconds; frame numbers in `prompt_fps` frames (default: video frames)."""
    if every_s <= 0:
        raise InputError(f"--every-s {every_s}: must be > 0")
    fmap = FrameMap(gt.fps, prompt_fps or gt.fps)
    step = every_s * gt.fps
    sampled = sorted({int(round(i * step)) for i in range(int(gt.num_frames / step) + 1)} & set(range(gt.num_frames)))
    taken: set[str] = set()
    names: dict[int, str] = {}
    for ent in sorted(gt.entities, key=lambda e: e.id):
        name = entity_name(ent.id, ent.role, taken)
        if name is not None:
            names[ent.id] = name
            taken.add(name)
    lines: list[PromptLine] = []
    seen: dict[int, list[int]] = {eid: [] for eid in names}
    for f in sampled:
        k = fmap.to_prompt(f)
        if k is None:
            raise InputError(f"--every-s {every_s} samples frame {f}, which no frame of a {fmap.prompt_fps:g} fps "
                             "copy lands on; use a multiple of 1/prompt-fps")
        for rec in sorted(gt._frame(f).entities, key=lambda r: r.id) if gt.frames else ():
            if rec.id not in names:
                continue
            x0, y0, x1, y1 = rec.box
            lines.append(PromptLine(k, names[rec.id], "bbox", (x0 / gt.width, y0 / gt.height,
                                                                (x1 - x0) / gt.width, (y1 - y0) / gt.height)))
            seen[rec.id].append(f)
    lines.sort(key=lambda p: (p.frame, list(names.values()).index(p.entity)))
    inst: dict[str, Instance] = {}
    for eid, frames in seen.items():
        if not frames:
            continue
        ent = gt.entity(eid)
        hidden = [fmap.to_prompt(f) for f in sampled if frames[0] < f < frames[-1] and f not in frames]
        inst[names[eid]] = Instance(ent.appearance, fmap.to_prompt(frames[0]) or 0, fmap.to_prompt(frames[-1]) or 0,
                                    tuple(k for k in hidden if k is not None))
    caption = "; ".join(f"{names[e.id]}: {e.appearance}, {e.motion}" for e in gt.entities if e.id in names)
    return lines, Instances(inst, caption)


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def instances_path(prompts_path: str | Path) -> Path:
    """`clip.txt` → `clip.instances.json` (the tool's naming)."""
    p = Path(prompts_path)
    return p.with_name(p.stem + ".instances.json")


def write_prompt_files(path: str | Path, lines: list[PromptLine], instances: Instances) -> tuple[Path, Path]:
    p = Path(path)
    if p.is_dir():
        raise InputError(f"{p} is a folder; pass the prompt file to write, e.g. {p / 'clip.txt'}")
    p.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(p, format_prompts(lines))
    ip = instances_path(p)
    _atomic_write(ip, json.dumps(instances_to_dict(instances), indent=1) + "\n")
    return p, ip
