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

from export import names as N
from runtime.config import TrackerConfig
from runtime.errors import ConfigError, ModelError

GLUE = "glue.pt"
NETWORKS = ("image_encoder", "memory_attention", "memory_encoder", "sam_prompt_encoder", "sam_mask_decoder")
PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider", "tensorrt": "TensorrtExecutionProvider"}


def providers_from_names(names: str) -> list[str]:
    """'tensorrt,cuda,cpu' → ORT provider names, in order of preference."""
    out = []
    for name in (n.strip().lower() for n in names.split(",") if n.strip()):
        if name not in PROVIDERS:
            raise ConfigError(f"tracker.providers: unknown provider {name!r}; valid: {', '.join(PROVIDERS)}")
        out.append(PROVIDERS[name])
    return out or [PROVIDERS["cpu"]]


def glue_state(model: Any) -> dict:
    return {k: v for k, v in model.state_dict().items() if not k.startswith(NETWORKS)}


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

    enc, att, mem = session("image_encoder"), session("memory_attention"), session("memory_encoder")
    pe, dec_multi, dec_single = session("prompt_encoder"), session("mask_decoder_multi"), session("mask_decoder_single")
    size, s = model.image_size, model.image_size // 16
    dense_pe = pe(torch.zeros(1, 1, 2), -torch.ones(1, 1, dtype=torch.int32), torch.zeros(1, 1, 4 * s, 4 * s),
                  torch.zeros(1))[2]

    class MemoryAttention(torch.nn.Module):
        def forward(self, curr, memory, curr_pos, memory_pos, num_obj_ptr_tokens=0):
            return att(curr[0], curr_pos[0], memory, memory_pos, torch.tensor(num_obj_ptr_tokens, dtype=torch.int64))[0]

    class MemoryEncoder(torch.nn.Module):
        def forward(self, pix_feat, masks, skip_mask_sigmoid=False):
            feats, pos = mem(pix_feat, masks)
            return {"vision_features": feats, "vision_pos_enc": [pos]}

    class PromptEncoder(torch.nn.Module):
        mask_input_size = (4 * s, 4 * s)

        def get_dense_pe(self):
            return dense_pe

        def forward(self, points, boxes=None, masks=None):
            has = torch.ones(1) if masks is not None else torch.zeros(1)
            m = masks if masks is not None else torch.zeros(1, 1, 4 * s, 4 * s)
            sparse, dense, _ = pe(points[0], points[1].int(), m, has)
            return sparse, dense

    class MaskDecoder(torch.nn.Module):
        def forward(self, image_embeddings, image_pe, sparse_prompt_embeddings, dense_prompt_embeddings,
                    multimask_output, repeat_image, high_res_features=None):
            run = dec_multi if multimask_output else dec_single
            return tuple(run(image_embeddings, image_pe, sparse_prompt_embeddings, dense_prompt_embeddings,
                             *high_res_features))

    def forward_image(img):
        f0, f1, f2, p0, p1, p2 = enc(img)
        return {"backbone_fpn": [f0, f1, f2], "vision_pos_enc": [p0, p1, p2]}

    model.memory_attention, model.memory_encoder = MemoryAttention(), MemoryEncoder()
    model.sam_prompt_encoder, model.sam_mask_decoder = PromptEncoder(), MaskDecoder()
    model.image_encoder = torch.nn.Identity()
    model.forward_image = forward_image
    assert size == model.image_size
    return model.eval()


def load_onnx_model(folder: str | Path, providers: list[str], image_size: int | None = None) -> Any:
    """Architecture from the manifest, glue weights from `glue.pt`, networks from the ONNX graphs."""
    import torch

    from export.manifest import load_manifest
    from models.sam2.build import build_model

    folder = Path(folder)
    man = load_manifest(folder, image_size)
    model = build_model(man["config"], None, man["image_size"])
    glue_path = folder / GLUE
    if not glue_path.is_file():
        raise ModelError(f"{glue_path} not found; re-export with `ego360 export sam2 ... --out {folder}`")
    glue = torch.load(glue_path, map_location="cpu", weights_only=True)
    own = glue_state(model)
    if set(glue) != set(own) or any(glue[k].shape != own[k].shape for k in own):
        raise ModelError(f"{glue_path} does not match config {man['config']}; re-export")
    model.load_state_dict(glue, strict=False)
    return attach_sessions(model, folder, providers)


def stream_factory(cfg: TrackerConfig) -> Callable[[], Any]:
    from models.sam2.streaming import SAM2StreamTracker

    if not cfg.onnx_dir:
        raise ModelError("tracker.onnx_dir is empty; export with `ego360 export sam2 --out DIR` "
                         "and set tracker.onnx_dir=DIR")
    model = load_onnx_model(cfg.onnx_dir, providers_from_names(cfg.providers), cfg.image_size)
    return lambda: SAM2StreamTracker(model, non_overlap_masks=False, max_cond_frames=8)
