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


def provider_options(text: str, providers: list[str]) -> list[dict[str, str]]:
    """'cuda:device_id=0,arena_extend_strategy=kSameAsRequested;tensorrt:trt_fp16_enable=1' → one options
    dict per provider of `providers` (in their order; providers not named get none)."""
    by_name: dict[str, dict[str, str]] = {}
    for part in (p.strip() for p in text.split(";") if p.strip()):
        name, _, body = part.partition(":")
        name = name.strip().lower()
        if name not in PROVIDERS or not body.strip():
            raise ConfigError(f"tracker.provider_options: {part!r} is not PROVIDER:key=value,...; "
                              f"PROVIDER one of {', '.join(PROVIDERS)}")
        opts = {}
        for item in (i.strip() for i in body.split(",") if i.strip()):
            key, eq, value = item.partition("=")
            if not eq or not key.strip():
                raise ConfigError(f"tracker.provider_options: {item!r} in {name} is not key=value")
            opts[key.strip()] = value.strip()
        by_name[PROVIDERS[name]] = opts
    unused = set(by_name) - set(providers)
    if unused:
        raise ConfigError(f"tracker.provider_options names {', '.join(sorted(unused))}, which tracker.providers "
                          "does not list")
    return [by_name.get(p, {}) for p in providers]


def check_providers(providers: list[str], available: list[str]) -> None:
    """A requested GPU provider that this onnxruntime cannot load is a one-line error, not a silent CPU run."""
    missing = [p for p in providers if p not in available]
    if missing:
        hint = ("install onnxruntime-gpu (pip install onnxruntime-gpu; it replaces onnxruntime) with a CUDA and "
                "cuDNN matching its build" if "CUDAExecutionProvider" in missing else
                "install onnxruntime-gpu built with TensorRT and the TensorRT libraries")
        raise ModelError(f"ONNX Runtime here offers {', '.join(available)}, not {', '.join(missing)}; {hint}, "
                         "or set tracker.providers=cpu")


def attach_sessions(model: Any, folder: Path, providers: list[str], options: list[dict] | None = None) -> Any:
    """Replace the networks of `model` (in place) by ORT sessions on the graphs in `folder`."""
    import onnxruntime as ort
    import torch

    check_providers(providers, ort.get_available_providers())

    def session(name: str) -> Callable[..., list]:
        spec = next(g for g in N.GRAPHS if g.name == name)
        sess = ort.InferenceSession(str(folder / f"{name}.onnx"), providers=providers, provider_options=options)
        if providers[0] != PROVIDERS["cpu"] and sess.get_providers()[0] != providers[0]:
            raise ModelError(f"ONNX Runtime could not load {providers[0]} for {name}.onnx (it fell back to "
                             f"{sess.get_providers()[0]}); check the CUDA/cuDNN libraries onnxruntime-gpu needs, "
                             "or set tracker.providers=cpu")

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


def load_onnx_model(folder: str | Path, providers: list[str], image_size: int | None = None,
                    options: list[dict] | None = None) -> Any:
    """Architecture from the manifest, glue weights from `glue.pt`, networks from the ONNX graphs."""
    from ego360.models.sam2.manifest import load_manifest

    folder = Path(folder)
    man = load_manifest(folder, image_size)
    model = build_glued_model(folder, man, f"re-export with `ego360 export sam2 ... --out {folder}`", "re-export")
    return attach_sessions(model, folder, providers, options)


def stream_factory(cfg: TrackerConfig) -> Callable[[], Any]:
    from ego360.models.sam2.streaming import SAM2StreamTracker

    if not cfg.onnx_dir:
        raise ModelError("tracker.onnx_dir is empty; export with `ego360 export sam2 --out DIR` "
                         "and set tracker.onnx_dir=DIR")
    providers = providers_from_names(cfg.providers)
    model = load_onnx_model(cfg.onnx_dir, providers, cfg.image_size, provider_options(cfg.provider_options, providers))
    return lambda: SAM2StreamTracker(model, non_overlap_masks=False, max_cond_frames=8)
