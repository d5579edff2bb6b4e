"""Entity-level mask IoU and the Hungarian assignment of predicted to ground-truth entities.

IoU is computed on COCO RLE directly (pycocotools) so full-resolution equirect masks are never
decoded unless a replay ran at another resolution than the ground truth.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ego360.tools.evaluation.io import ClipGT, Predictions

MATCH_IOU = 0.5  # a predicted entity matches a GT entity only with mean IoU ≥ this (the README (Evaluation))


@dataclass(frozen=True)
class IoUTable:
    gt_ids: tuple[int, ...]
    pred_ids: tuple[int, ...]
    iou: np.ndarray  # G×P mean IoU over each GT entity's evaluated frames
    n_frames: tuple[int, ...]  # evaluated frames per GT entity


@dataclass(frozen=True)
class Assignment:
    gt_index: int
    pred_index: int | None  # None: no predicted entity left for this GT entity
    iou: float  # mean IoU with the assigned prediction, 0 when unassigned
    matched: bool  # assigned and iou ≥ threshold


def _rle(obj: dict[str, Any], size: tuple[int, int]) -> dict[str, Any]:
    """JSON RLE → pycocotools RLE of the GT's size (resampled when the replay ran at another size)."""
    counts = obj["counts"]
    rle = {"size": [int(obj["size"][0]), int(obj["size"][1])],
           "counts": counts.encode("ascii") if isinstance(counts, str) else counts}
    if tuple(rle["size"]) == tuple(size):
        return rle
    import cv2
    from pycocotools import mask as mask_utils

    dense = mask_utils.decode(rle)
    dense = cv2.resize(dense, (size[1], size[0]), interpolation=cv2.INTER_NEAREST)
    return mask_utils.encode(np.asfortranarray(dense.astype(np.uint8)))


def eval_frames(gt: ClipGT, entity_id: int, processed: set[int],
                windows: Iterable[tuple[int, int]] | None) -> list[int]:
    """The GT frames of an entity that are scored: where it is visible, that the replay processed,
    and (with windows) inside an event window."""
    frames = [f for f, obs in gt.frames.items() if any(o.id == entity_id for o in obs)]
    if processed:
        frames = [f for f in frames if f in processed]
    if windows is not None:
        spans = list(windows)
        frames = [f for f in frames if any(s <= f <= e for s, e in spans)]
    return sorted(frames)


def iou_table(gt: ClipGT, pred: Predictions, gt_ids: list[int],
              windows: Iterable[tuple[int, int]] | None = None) -> IoUTable:
    """Mean IoU of every (GT entity, predicted entity) pair over the GT entity's scored frames;
    a frame where the prediction has no mask contributes 0."""
    from pycocotools import mask as mask_utils

    processed = pred.processed_frames
    spans = list(windows) if windows is not None else None
    pred_ids = sorted(pred.tracks)
    frames_of = {g: eval_frames(gt, g, processed, spans) for g in gt_ids}
    sums = np.zeros((len(gt_ids), len(pred_ids)))
    row = {g: i for i, g in enumerate(gt_ids)}
    for f in sorted({f for fs in frames_of.values() for f in fs}):
        gobs = [o for o in gt.frames[f] if o.id in row and f in frames_of[o.id]]
        pcols = [j for j, p in enumerate(pred_ids) if f in pred.tracks[p]]
        if not gobs or not pcols:
            continue
        size = (int(gobs[0].rle["size"][0]), int(gobs[0].rle["size"][1]))
        g_rles = [_rle(o.rle, size) for o in gobs]
        p_rles = [_rle(pred.tracks[pred_ids[j]][f], size) for j in pcols]
        ious = np.asarray(mask_utils.iou(p_rles, g_rles, [0] * len(g_rles))).reshape(len(p_rles), len(g_rles))
        for gi, o in enumerate(gobs):
            for pj, j in enumerate(pcols):
                sums[row[o.id], j] += ious[pj, gi]
    counts = np.array([len(frames_of[g]) for g in gt_ids], dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(counts[:, None] > 0, sums / np.maximum(counts[:, None], 1), 0.0)
    return IoUTable(tuple(gt_ids), tuple(pred_ids), mean, tuple(int(c) for c in counts))


def assign(iou: np.ndarray, threshold: float = MATCH_IOU) -> list[Assignment]:
    """Hungarian assignment maximising total mean IoU; one Assignment per GT row.

    Assignment is by IoU alone and the threshold applies afterwards, so a GT entity keeps its best
    one-to-one partner's IoU for the IoU metric even when that partner is too poor to count as a match.
    """
    from scipy.optimize import linear_sum_assignment

    n_gt = iou.shape[0]
    partner: dict[int, int] = {}
    if iou.size:
        rows, cols = linear_sum_assignment(iou, maximize=True)
        partner = {int(r): int(c) for r, c in zip(rows, cols, strict=True)}
    out = []
    for g in range(n_gt):
        p = partner.get(g)
        value = float(iou[g, p]) if p is not None else 0.0
        out.append(Assignment(g, p, value, p is not None and value >= threshold))
    return out
