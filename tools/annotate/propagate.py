"""Masks for every frame from a few prompted ones: the tracker run forward and backward from the prompts.

Why two passes and re-seeding: a person prompts at 1 fps; between two prompts the mask on a frame is
best taken from the nearer one. The forward pass re-seeds every entity at each of its prompt frames and
carries it to the next; the backward pass does the same over the frames in reverse order (a tracker
only knows "the next frame", so reversed frames get increasing virtual indices). Each frame keeps
the pass whose last seed is closer. Both passes start with a short ping-pong pre-roll so the motion
background is learnt before the first seed (a mover's seed is cut from its moving pixels).
Masks are kept as COCO RLE: a long clip's per-frame masks would not fit in memory decoded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from ego360.core.config import Config
from ego360.core.geometry import Mounting
from ego360.core.packets import FramePacket
from ego360.core.rle import encode_rle
from ego360.tools.annotate.seeds import FramePrompt, seed_mask

PREROLL = 24  # frames fed before a pass starts, so the background exists at the first seed
HOLD_FRAC = 0.5  # a propagated mask below this fraction of its seed's area is replaced by the seed
Tick = Callable[[int], None]


@dataclass(frozen=True)
class EntityPlan:
    """One entity to annotate: prompts by video frame, the frames it exists on, and the frames it is hidden."""

    entity_id: int
    name: str  # the tool's id, e.g. actor0
    role: str
    kind: str
    prompts: dict[int, FramePrompt] = field(repr=False)
    enter: int = 0
    exit: int = 0
    missing: frozenset[int] = frozenset()
    text: str = ""  # the person's note (instances.json), a caption hint

    def alive(self, frame: int) -> bool:
        return self.enter <= frame <= self.exit and frame not in self.missing


class FrameStore:
    """Decoded frames kept JPEG-compressed in memory (q95, ~120 kB at 960×480) for the backward pass."""

    def __init__(self) -> None:
        self._frames: list[np.ndarray] = []
        self.shape: tuple[int, int] = (0, 0)

    def append(self, rgb: np.ndarray) -> None:
        self.shape = (int(rgb.shape[0]), int(rgb.shape[1]))
        ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(rgb[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, 95])
        if not ok:
            raise RuntimeError("JPEG encoding of a frame failed")
        self._frames.append(buf)

    def __len__(self) -> int:
        return len(self._frames)

    def get(self, i: int) -> np.ndarray:
        return np.ascontiguousarray(cv2.imdecode(self._frames[i], cv2.IMREAD_COLOR)[..., ::-1])

    def __iter__(self) -> Iterator[np.ndarray]:
        return (self.get(i) for i in range(len(self)))


@dataclass
class _PassResult:
    masks: dict[int, dict[int, dict[str, Any]]]  # entity → frame → RLE
    seeds: dict[int, dict[int, dict[str, Any]]]  # entity → prompt frame → RLE of the seed it cut


def _run_pass(store: FrameStore, order: list[int], plans: list[EntityPlan], cfg: Config, mounting: Mounting,
              fps: float, tick: Tick) -> _PassResult:
    from ego360.models.motion import MotionAnalyzer
    from ego360.models.registry import create_tracker

    t = cfg.trigger
    motion = MotionAnalyzer(t.work_width, t.fg_threshold, t.camera_height_m)
    tracker = create_tracker(cfg, mounting, motion)
    res = _PassResult({p.entity_id: {} for p in plans}, {p.entity_id: {} for p in plans})
    by_id = {p.entity_id: p for p in plans}
    backward = len(order) > 1 and order[0] > order[-1]
    vi = 0
    for f in order[1:PREROLL + 1][::-1]:
        motion.analyze(FramePacket(vi, vi / fps, 0, store.get(f)))
        vi += 1
    for f in order:
        img = store.get(f)
        pkt = FramePacket(vi, vi / fps, 0, img)
        vi += 1
        mf = motion.analyze(pkt)
        if tracker.entity_ids():
            for tr in tracker.track(pkt):
                plan = by_id[tr.entity_id]
                if plan.alive(f) and f not in plan.prompts and tr.mask.any():
                    res.masks[tr.entity_id][f] = encode_rle(tr.mask)
        for plan in plans:
            fp = plan.prompts.get(f)
            if fp is not None:
                seed = seed_mask(img, fp, motion, mf)
                tracker.add(pkt, plan.entity_id, seed, plan.role, plan.kind)  # type: ignore[arg-type]
                res.seeds[plan.entity_id][f] = encode_rle(seed)
            done = f <= plan.enter if backward else f >= plan.exit
            if done and plan.entity_id in tracker.entity_ids():
                tracker.remove(plan.entity_id)
        tick(1)
    return res


def choose(plan: EntityPlan, frame: int, fwd: _PassResult, bwd: _PassResult, n_frames: int) -> dict[str, Any] | None:
    """The entity's mask on `frame`: the seed on a prompt frame (from the pass that had seen more frames
    there), else the pass whose last seed is nearer; None when it is not there."""
    if not plan.alive(frame):
        return None
    eid = plan.entity_id
    if frame in plan.prompts:
        first, second = (fwd, bwd) if frame >= n_frames - 1 - frame else (bwd, fwd)
        return first.seeds[eid].get(frame) or second.seeds[eid].get(frame)
    prev = max((p for p in plan.prompts if p < frame), default=None)
    nxt = min((p for p in plan.prompts if p > frame), default=None)
    use_fwd = nxt is None or (prev is not None and frame - prev <= nxt - frame)
    first, second = (fwd, bwd) if use_fwd else (bwd, fwd)
    anchor = prev if use_fwd else nxt
    rle = first.masks[eid].get(frame) or second.masks[eid].get(frame)
    seed = first.seeds[eid].get(anchor) if anchor is not None else None
    if seed is not None and rle is not None and _area(rle) < HOLD_FRAC * _area(seed) and _inside(rle, seed):
        # The mask shrank where it was seeded, within half a prompt interval: an entity standing still
        # fades into the motion background; its seed is the better answer there.
        return seed
    return rle


def _inside(rle: dict[str, Any], seed: dict[str, Any]) -> bool:
    """Most of the shrunken mask lies on its seed: the entity did not move, it faded."""
    from pycocotools import mask as mask_utils

    a, b = _coco(rle), _coco(seed)
    inter = mask_utils.area(mask_utils.merge([a, b], intersect=True))
    return bool(inter >= 0.5 * max(1, mask_utils.area(a)))


def _coco(rle: dict[str, Any]) -> dict[str, Any]:
    counts = rle["counts"]
    return {"size": list(rle["size"]), "counts": counts.encode("ascii") if isinstance(counts, str) else counts}


def _area(rle: dict[str, Any]) -> int:
    from pycocotools import mask as mask_utils

    return int(mask_utils.area(_coco(rle)))


def propagate(store: FrameStore, plans: list[EntityPlan], cfg: Config, mounting: Mounting, fps: float,
              tick: Tick = lambda n: None) -> dict[int, dict[int, dict[str, Any]]]:
    """entity id → frame → RLE mask, for every frame each entity exists on (see `choose`)."""
    n = len(store)
    if not plans or n == 0:
        return {p.entity_id: {} for p in plans}
    fwd = _run_pass(store, list(range(n)), plans, cfg, mounting, fps, tick)
    bwd = _run_pass(store, list(range(n - 1, -1, -1)), plans, cfg, mounting, fps, tick)
    out: dict[int, dict[int, dict[str, Any]]] = {}
    for plan in plans:
        per = {}
        for f in range(max(0, plan.enter), min(n - 1, plan.exit) + 1):
            rle = choose(plan, f, fwd, bwd, n)
            if rle is not None:
                per[f] = rle
        out[plan.entity_id] = per
    return out
