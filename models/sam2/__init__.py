"""SAM 2 / SAM 2.1 as the ego360 tracker: PyTorch, ONNX Runtime and TensorRT backends.

Importing this package is light; torch, sam2, onnxruntime and tensorrt load inside the factories.
Tracker backends (for `models.registry`): sam2-torch, sam2-onnx, sam2-trt → `create_tracker(cfg)`.
"""

from __future__ import annotations

from typing import Any

from runtime.config import TrackerConfig
from runtime.errors import ConfigError

BACKENDS = ("sam2-torch", "sam2-onnx", "sam2-trt")


def create_tracker(cfg: TrackerConfig, yaw_offset_deg: float = 0.0) -> Any:
    """A `FollowViewTracker` whose streams run on the backend named by `cfg.backend`."""
    from models.sam2.follow import FollowViewTracker

    if cfg.backend == "sam2-torch":
        from models.sam2.backend_torch import stream_factory
    elif cfg.backend == "sam2-onnx":
        from models.sam2.backend_onnx import stream_factory
    elif cfg.backend == "sam2-trt":
        from models.sam2.backend_trt import stream_factory
    else:
        raise ConfigError(f"tracker.backend={cfg.backend!r} is not a SAM2 backend; valid: {', '.join(BACKENDS)}")
    return FollowViewTracker(stream_factory(cfg), view_size=cfg.view_size, fov_deg=cfg.view_fov_deg,
                             yaw_offset_deg=yaw_offset_deg)
