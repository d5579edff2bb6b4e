"""INT8 / FP16 accuracy report: mask IoU of each precision against the FP32 engines on held-out views.

Why IoU of masks and not logits: what the wearer gets is a mask (its bearing and box); a precision is
good enough when the mask does not move. The figures code takes plain per-precision mask lists so it is
tested on CPU; `view_masks` produces those lists from a model (`tracker_masks`: a TensorRT engine folder).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ego360.core.errors import InputError


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two boolean masks; two empty masks agree perfectly (1.0)."""
    a, b = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    if a.shape != b.shape:
        raise InputError(f"masks of different shapes {a.shape} and {b.shape}; compare masks of the same view")
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


@dataclass(frozen=True)
class PrecisionIoU:
    precision: str
    n: int
    mean: float
    median: float
    p05: float  # 5th percentile: the bad tail matters more than the mean
    min: float


@dataclass(frozen=True)
class AccuracyReport:
    reference: str
    rows: tuple[PrecisionIoU, ...]

    def table(self) -> str:
        head = f"mask IoU vs {self.reference} | {'views':>5} {'mean':>7} {'median':>7} {'p05':>7} {'min':>7}"
        lines = [head, "-" * len(head)]
        for r in self.rows:
            lines.append(f"{r.precision:>18} | {r.n:5d} {r.mean:7.4f} {r.median:7.4f} {r.p05:7.4f} {r.min:7.4f}")
        return "\n".join(lines)

    def row(self, precision: str) -> PrecisionIoU:
        return next(r for r in self.rows if r.precision == precision)


def accuracy_report(masks: Mapping[str, Sequence[np.ndarray]], reference: str = "fp32") -> AccuracyReport:
    """IoU of every other precision's masks with the reference's, view by view (same order)."""
    if reference not in masks:
        raise InputError(f"no {reference} masks to compare with; have {', '.join(masks) or 'none'}")
    ref = masks[reference]
    if not ref:
        raise InputError(f"no held-out views in the {reference} masks")
    rows = []
    for precision, got in masks.items():
        if precision == reference:
            continue
        if len(got) != len(ref):
            raise InputError(f"{precision} has {len(got)} masks, {reference} has {len(ref)}; "
                             "run both on the same views")
        ious = np.array([mask_iou(a, b) for a, b in zip(got, ref, strict=True)])
        rows.append(PrecisionIoU(precision, len(ious), float(ious.mean()), float(np.median(ious)),
                                 float(np.percentile(ious, 5)), float(ious.min())))
    return AccuracyReport(reference, tuple(rows))


def view_masks(model: Any, views: Sequence[np.ndarray], box_frac: float = 0.25) -> list[np.ndarray]:
    """One mask per held-out view from a fresh tracker on `model` (any backend), prompted with a centred
    box (`box_frac` of the view per side; the views are aimed at entities, so the entity is there)."""
    from ego360.models.sam2.streaming import SAM2StreamTracker

    out = []
    for view in views:
        h, w = view.shape[:2]
        half_w, half_h = w * box_frac / 2, h * box_frac / 2
        box = (w / 2 - half_w, h / 2 - half_h, w / 2 + half_w, h / 2 + half_h)
        out.append(SAM2StreamTracker(model).add_object(0, view, 1, box=box).mask)
    return out


def tracker_masks(engine_dir: Path, views: Sequence[np.ndarray], box_frac: float = 0.25) -> list[np.ndarray]:
    """GPU: `view_masks` of the TensorRT tracker in `engine_dir`."""
    from ego360.models.sam2.backend_trt import load_trt_model

    return view_masks(load_trt_model(engine_dir), views, box_frac)
