"""Tiny hand-made ground truth and replays for the eval tests, built with the scenario generator's own
GT records (tools/scenario/gt.py) so the files are exactly what `ego360 scenario` writes."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from ego360.core.rle import encode_rle
from ego360.tools.scenario.gt import EntityFrameGT, GroundTruth, GTEntity, GTEvent, GTFrame, write_gt

H, W = 4, 8
_MASK = encode_rle(np.ones((H, W), dtype=bool))


@dataclass
class TinyClip:
    """Writes `root/gt/NAME/gt.json` and `root/pred/NAME/events.jsonl` for one fabricated clip."""

    root: Path
    name: str = "clip"
    fps: float = 10.0

    def gt(self, events: list[GTEvent], tracks: dict[int, dict[int, tuple[float, float]]], num_frames: int,
           cls: str = "Collide") -> Path:
        """`tracks[entity][frame] = (bearing_deg, distance_m)`; every entity is a person."""
        frames = tuple(
            GTFrame(f, tuple(EntityFrameGT(e, _MASK, (0, 0, W, H), b, 0.0, d, H * W)
                             for e, per in sorted(tracks.items()) if f in per for b, d in [per[f]]))
            for f in range(num_frames))
        roles = {ev.perpetrator: "perpetrator" for ev in events}
        roles.update({ev.victim: "victim" for ev in events if isinstance(ev.victim, int)})
        entities = tuple(GTEntity(e, "person", roles.get(e, "related"), "", "") for e in sorted(tracks))
        gt = GroundTruth(self.name, cls, self.fps, W, H, num_frames, 0, 0.0, 0.0, tuple(events), entities, frames)
        out = self.root / "gt" / self.name
        out.mkdir(parents=True, exist_ok=True)
        return write_gt(gt, out / "gt.json")

    def replay(self, num_frames: int, alerts: list[tuple[int, float | None, int | None]]) -> Path:
        """A replay that processed every frame (score 0) and spoke `alerts` = [(frame, bearing, clock)]."""
        out = self.root / "pred" / self.name
        out.mkdir(parents=True, exist_ok=True)
        lines = [{"type": "frame", "frame": f, "video_t": f / self.fps, "score": 0.0} for f in range(num_frames)]
        lines += [{"type": "alert", "frame": f, "video_t": f / self.fps, "entity_id": 10, "role": "perpetrator",
                   "bearing_deg": b, "clock": c, "priority": 2, "text": "alert"} for f, b, c in alerts]
        (out / "events.jsonl").write_text("".join(json.dumps(obj) + "\n" for obj in lines), encoding="utf-8")
        return out


@pytest.fixture
def tiny_clip(tmp_path: Path) -> Callable[..., TinyClip]:
    def make(name: str = "clip", fps: float = 10.0) -> TinyClip:
        return TinyClip(tmp_path, name, fps)

    return make
