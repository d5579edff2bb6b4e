"""TensorRT backend (not implemented yet: engine builder, INT8 calibration and runtime are pending).

Until then `tracker.backend=sam2-trt` fails early with one line pointing at the working alternative.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from runtime.config import TrackerConfig
from runtime.errors import ModelError


def stream_factory(cfg: TrackerConfig) -> Callable[[], Any]:
    raise ModelError("tracker.backend=sam2-trt is not available yet; use sam2-onnx with "
                     "tracker.providers=tensorrt,cuda,cpu (ONNX Runtime's TensorRT provider) instead")
