"""ONNX Runtime backend: SAM2's networks run as ONNX graphs, the streaming glue is unchanged.

Why swap modules instead of re-writing the tracker: `SAM2StreamTracker` drives `SAM2Base` methods whose
bookkeeping is proven equal to Meta's predictor; replacing only the five networks by ORT sessions keeps
that proof and makes the backends differ in exactly the exported graphs. The small glue parameters
(pointer projections, temporal encodings, no-object embeddings) travel in `glue.pt` of the export.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ego360.core.config import TrackerConfig
from ego360.core.errors import ConfigError, ModelError
from ego360.models.sam2 import names as N
from ego360.models.sam2.adapters import attach_networks, build_glued_model

PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider", "tensorrt": "TensorrtExecutionProvider"}


def providers_from_names(names: str) -> list[str]:
    """'tensorrt,cuda,cpu' → ORT provider names, in order of preference."""
    out = []
    for name in (n.strip().lower() for n in names.split(",") if n.strip()):
        if name not in PROVIDERS:
            raise ConfigError(f"tracker.providers: unknown provider {name!r}; valid: {', '.join(PROVIDERS)}")
        out.append(PROVIDERS[name])
    return out or [PROVIDERS["cpu"]]


def attach_sessions(model: Any, folder: Path, providers: list[str]) -> Any:
    """Replace the networks of `model` (in place) by ORT sessions on the graphs in `folder`."""
    import onnxruntime as ort
    import torch

    def session(name: str) -> Callable[..., list]:
        spec = next(g for g in N.GRAPHS if g.name == name)
        sess = ort.InferenceSession(str(folder / f"{name}.onnx"), providers=providers)

        def run(*args: Any) -> list:
            feed = {k: (a.detach().cpu().numpy() if hasattr(a, "numpy") else a)
                    for k, a in zip(spec.inputs, args, strict=True)}
            return [torch.from_numpy(o) for o in sess.run(list(spec.outputs), feed)]
        return run

    names = ("image_encoder", "memory_attention", "memory_encoder", "prompt_encoder", "mask_decoder_multi",
             "mask_decoder_single")
    runners = {name: session(name) for name in names}
    att = runners["memory_attention"]

    def memory_attention(curr, curr_pos, memory, memory_pos, num_obj_ptr_tokens):
        return att(curr, curr_pos, memory, memory_pos, torch.tensor(num_obj_ptr_tokens, dtype=torch.int64))[0]

    return attach_networks(model, runners, memory_attention)


def load_onnx_model(folder: str | Path, providers: list[str], image_size: int | None = None) -> Any:
    """Architecture from the manifest, glue weights from `glue.pt`, networks from the ONNX graphs."""
    from ego360.models.sam2.manifest import load_manifest

    folder = Path(folder)
    man = load_manifest(folder, image_size)
    model = build_glued_model(folder, man, f"re-export with `ego360 export sam2 ... --out {folder}`", "re-export")
    return attach_sessions(model, folder, providers)


def stream_factory(cfg: TrackerConfig) -> Callable[[], Any]:
    from ego360.models.sam2.streaming import SAM2StreamTracker

    if not cfg.onnx_dir:
        raise ModelError("tracker.onnx_dir is empty; export with `ego360 export sam2 --out DIR` "
                         "and set tracker.onnx_dir=DIR")
    model = load_onnx_model(cfg.onnx_dir, providers_from_names(cfg.providers), cfg.image_size)
    return lambda: SAM2StreamTracker(model, non_overlap_masks=False, max_cond_frames=8)
