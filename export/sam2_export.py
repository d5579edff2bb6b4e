"""`ego360 export sam2`: graphs + glue weights + manifest, then optional verification."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ego360.core.errors import ModelError


@dataclass(frozen=True)
class ExportReport:
    folder: Path
    graphs: dict[str, tuple[float, float]]  # graph -> (max |Δ|, min cosine); empty without --verify
    track_iou: float | None  # min mask IoU ONNX vs PyTorch over the end-to-end track


def export_sam2(config: str, image_size: int, out: Path, checkpoint: str | None = None, seed: int | None = None,
                verify: bool = False, frames: int = 16) -> ExportReport:
    import torch

    from ego360.export.sam2_onnx import export_graphs, verify_graphs
    from ego360.models.sam2.adapters import GLUE, glue_state
    from ego360.models.sam2.build import build_model
    from ego360.models.sam2.manifest import build_manifest, write_manifest

    if (checkpoint is None) == (seed is None):
        raise ModelError("give exactly one of --checkpoint PATH or --random-weights --seed N")
    if seed is not None:
        torch.manual_seed(seed)
    model = build_model(config, checkpoint, image_size)
    out.mkdir(parents=True, exist_ok=True)
    paths = export_graphs(model, image_size, out)
    torch.save(glue_state(model), out / GLUE)
    weights = f"random:{seed}" if seed is not None else str(Path(checkpoint).resolve())
    write_manifest(out, build_manifest(config, image_size, weights, paths))
    if not verify:
        return ExportReport(out, {}, None)
    figures = verify_graphs(model, image_size, out)
    return ExportReport(out, figures, track_iou(model, out, frames))


def synthetic_frames(n: int, hw: tuple[int, int] = (96, 128), seed: int = 0) -> list[np.ndarray]:
    """A textured clip with a moving square (what it shows does not matter: both backends see it)."""
    rng = np.random.default_rng(seed)
    base = (rng.random((*hw, 3)) * 255).astype(np.uint8)
    out = []
    for i in range(n):
        img = base.copy()
        img[20 + i : 50 + i, 10 + 2 * i : 40 + 2 * i] = (230, 40, 40)
        out.append(img)
    return out


def track_iou(model: Any, folder: Path, n: int) -> float:
    """Track one box-prompted object for `n` frames with PyTorch and with ONNX Runtime; min mask IoU."""
    from ego360.models.sam2.backend_onnx import attach_sessions
    from ego360.models.sam2.streaming import SAM2StreamTracker

    ort_model = attach_sessions(copy.deepcopy(model), folder, ["CPUExecutionProvider"])
    frames = synthetic_frames(n)
    ious = []
    trackers = [SAM2StreamTracker(model), SAM2StreamTracker(ort_model)]
    first = [t.add_object(0, frames[0], 1, box=(10, 20, 40, 50)).mask for t in trackers]
    ious.append(_iou(*first))
    for img in frames[1:]:
        a, b = (t.track(img)[1].mask for t in trackers)
        ious.append(_iou(a, b))
    return min(ious)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)
