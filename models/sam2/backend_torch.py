"""PyTorch backend: one model shared by every follow-view stream."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from ego360.core.config import TrackerConfig
from ego360.core.errors import ModelError

log = logging.getLogger(__name__)
_RANDOM = re.compile(r"^random(?::(\d+))?$")


def load_model(cfg: TrackerConfig, device: str | None = None) -> Any:
    """The model named by `tracker.sam2_config` with `tracker.checkpoint`; `random[:SEED]` gives random
    weights for smoke tests (masks are then meaningless, and a warning says so)."""
    import torch

    from ego360.models.sam2.build import CONFIGS, build_model, config_path

    config_path(cfg.sam2_config)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    match = _RANDOM.match(cfg.checkpoint)
    if match:
        log.warning("SAM2 with RANDOM weights (tracker.checkpoint=%s): masks are meaningless", cfg.checkpoint)
        torch.manual_seed(int(match.group(1) or 0))
        return build_model(cfg.sam2_config, None, cfg.image_size, device)
    if not cfg.checkpoint:
        official = CONFIGS[cfg.sam2_config][1]
        raise ModelError(f"tracker.checkpoint is empty; set --set tracker.checkpoint=PATH/{official} "
                         "(or tracker.checkpoint=random for a smoke test)")
    return build_model(cfg.sam2_config, cfg.checkpoint, cfg.image_size, device)


def compile_model(model: Any) -> Any:
    """`torch.compile` the networks whose input shapes are fixed per view size (the image encoder, whose
    batch is the number of follow-views, and the memory encoder); memory attention's length varies
    frame to frame and stays eager. Compilation happens on the first frames (seconds to a minute)."""
    import torch

    model.image_encoder = torch.compile(model.image_encoder, dynamic=False)
    model.memory_encoder = torch.compile(model.memory_encoder, dynamic=False)
    return model


def stream_factory(cfg: TrackerConfig) -> Callable[[], Any]:
    from ego360.models.sam2.device import torch_dtype
    from ego360.models.sam2.streaming import SAM2StreamTracker

    torch_dtype(cfg.dtype)  # a bad tracker.dtype fails before the model is built
    model = load_model(cfg)
    if cfg.compile:
        compile_model(model)
    return lambda: SAM2StreamTracker(model, non_overlap_masks=False, max_cond_frames=8, dtype=cfg.dtype)
