"""TensorRT backend: SAM2's networks run as TensorRT engines, the streaming glue is unchanged.

Structured like `backend_onnx` (engines replace the ONNX Runtime sessions, same `adapters`), with one
difference: memory attention runs on the padded fixed-length ring (`memory_attention_ring`), so each
call packs the variable-length memory into the ring and streams cap conditioning frames at
`names.RING_COND_FRAMES` to stay inside it. Engines are built by `ego360 export trt` and checked
against this machine (TensorRT version, GPU) by `ego360.models.sam2.trt_manifest` before they are deserialized.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ego360.core.config import TrackerConfig
from ego360.core.errors import ModelError
from ego360.models.sam2 import names as N
from ego360.models.sam2.adapters import attach_networks, build_glued_model


class TrtEngine:
    """One engine and its execution context; called with torch tensors in the graph's input order,
    returns CUDA torch tensors in its output order (on torch's current stream, so no extra sync)."""

    def __init__(self, runtime: Any, path: Path, graph: str) -> None:
        import tensorrt as trt
        import torch

        self.spec = next(g for g in N.GRAPHS if g.name == graph)
        self.engine = runtime.deserialize_cuda_engine(Path(path).read_bytes())
        if self.engine is None:
            raise ModelError(f"TensorRT cannot deserialize {path}; rebuild with `ego360 export trt`")
        names = {self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)}
        if names != set(self.spec.inputs) | set(self.spec.outputs):
            raise ModelError(f"{path} has tensors {sorted(names)}, expected those of {graph}; rebuild it")
        self.context = self.engine.create_execution_context()
        to_torch = {trt.float32: torch.float32, trt.float16: torch.float16, trt.int32: torch.int32,
                    trt.int64: torch.int64, trt.bool: torch.bool}
        self.dtypes = {n: to_torch[self.engine.get_tensor_dtype(n)] for n in names}

    def __call__(self, *args: Any) -> list[Any]:
        import torch

        keep = []
        for name, arg in zip(self.spec.inputs, args, strict=True):
            t = torch.as_tensor(arg).to(device="cuda", dtype=self.dtypes[name]).contiguous()
            keep.append(t)
            self.context.set_input_shape(name, tuple(t.shape))
            self.context.set_tensor_address(name, t.data_ptr())
        outs = []
        for name in self.spec.outputs:
            out = torch.empty(tuple(self.context.get_tensor_shape(name)), dtype=self.dtypes[name], device="cuda")
            self.context.set_tensor_address(name, out.data_ptr())
            outs.append(out)
        if not self.context.execute_async_v3(torch.cuda.current_stream().cuda_stream):
            raise ModelError(f"TensorRT failed to run {self.spec.name}")
        return [o.float() for o in outs]


def attach_engines(model: Any, engines: Mapping[str, Callable[..., list]]) -> Any:
    """Replace the networks of `model` (in place) by engine calls (see `adapters.attach_networks`). Any
    callables with the graphs' signatures work: CPU tests pass ONNX Runtime sessions of the same graphs."""
    from ego360.models.sam2.ring import pack_ring

    ring, size = engines["memory_attention_ring"], model.image_size

    def memory_attention(curr, curr_pos, memory, memory_pos, num_obj_ptr_tokens):
        rmem, rpos, valid = pack_ring(memory, memory_pos, num_obj_ptr_tokens, size)
        return ring(curr, curr_pos, rmem, rpos, valid)[0]

    return attach_networks(model, engines, memory_attention)


def load_trt_model(folder: str | Path, image_size: int | None = None, env: Mapping[str, str] | None = None) -> Any:
    """Architecture and glue weights from the engine folder, networks from its engines (GPU only)."""
    import tensorrt as trt

    from ego360.models.sam2.trt_manifest import current_environment, load_trt_manifest

    folder = Path(folder)
    man = load_trt_manifest(folder, env or current_environment(), image_size)
    model = build_glued_model(folder, man, f"rebuild with `ego360 export trt --out {folder}`", "rebuild")
    runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
    engines = {g: TrtEngine(runtime, folder / e["file"], g) for g, e in man["engines"].items()}
    return attach_engines(model.to("cuda"), engines)


def stream_factory(cfg: TrackerConfig) -> Callable[[], Any]:
    from ego360.models.sam2.streaming import SAM2StreamTracker

    if not cfg.engine_dir:
        raise ModelError("tracker.engine_dir is empty; build engines with `ego360 export trt --onnx DIR --out DIR` "
                         "and set tracker.engine_dir=DIR")
    try:
        import tensorrt  # noqa: F401
    except ImportError as exc:
        raise ModelError("tracker.backend=sam2-trt needs the tensorrt package (pip install tensorrt on a CUDA "
                         "machine); elsewhere use tracker.backend=sam2-onnx") from exc
    model = load_trt_model(cfg.engine_dir, cfg.image_size)
    return lambda: SAM2StreamTracker(model, non_overlap_masks=False, max_cond_frames=N.RING_COND_FRAMES)
