"""SAM 2 / SAM 2.1 as the ego360 tracker: PyTorch, ONNX Runtime and TensorRT backends.

Importing this package is light; torch, sam2, onnxruntime and tensorrt load inside the backends.
The backends are chosen by name in `ego360.models.registry` (sam2-torch, sam2-onnx, sam2-trt); each
`backend_*` module exposes `stream_factory(cfg)` for the follow-view tracker in `follow.py`.
"""
