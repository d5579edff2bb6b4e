"""Export SAM2's components to ONNX (one graph per network, the streaming glue stays in Python).

Why per network: the memory bank's bookkeeping (which frames, which pointers, temporal encodings) is
Python control flow that changes per frame; the heavy, fixed-topology parts are what an inference
engine should run. Names and shapes come from `export.names`, which the loaders also read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from export import names as N


def _wrappers(model: Any) -> dict[str, Any]:
    """nn.Modules with plain tensor signatures, one per graph in `names.GRAPHS`."""
    import torch

    class Wrapper(torch.nn.Module):
        """Registers the model so its weights export as initializers, not traced constants."""

        def __init__(self):
            super().__init__()
            self.model = model

    class ImageEncoder(Wrapper):
        def forward(self, image):
            out = model.forward_image(image)
            return (*out["backbone_fpn"], *out["vision_pos_enc"])

    class MemoryAttention(Wrapper):
        def forward(self, curr, curr_pos, memory, memory_pos, num_obj_ptr_tokens):
            return model.memory_attention(curr=[curr], memory=memory, curr_pos=[curr_pos], memory_pos=memory_pos,
                                          num_obj_ptr_tokens=num_obj_ptr_tokens)

    class MemoryEncoder(Wrapper):
        def forward(self, pix_feat, mask_for_mem):
            out = model.memory_encoder(pix_feat, mask_for_mem, skip_mask_sigmoid=True)
            return out["vision_features"], out["vision_pos_enc"][0]

    class PromptEncoder(Wrapper):
        """`has_mask_input` selects the mask embedding or `no_mask_embed` (as SAM's own ONNX export)."""

        def forward(self, point_coords, point_labels, mask_input, has_mask_input):
            pe = model.sam_prompt_encoder
            sparse = pe._embed_points(point_coords, point_labels, pad=True)
            no_mask = pe.no_mask_embed.weight.reshape(1, -1, 1, 1).expand(1, -1, *pe.image_embedding_size)
            has = has_mask_input.reshape(1, 1, 1, 1)
            dense = has * pe._embed_masks(mask_input) + (1 - has) * no_mask
            return sparse, dense, pe.get_dense_pe()

    def decoder(multimask: bool):
        class MaskDecoder(Wrapper):
            def forward(self, image_embeddings, image_pe, sparse, dense, hr0, hr1):
                return model.sam_mask_decoder(image_embeddings=image_embeddings, image_pe=image_pe,
                                              sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense,
                                              multimask_output=multimask, repeat_image=False,
                                              high_res_features=[hr0, hr1])
        return MaskDecoder()

    mods = {"image_encoder": ImageEncoder(), "memory_attention": MemoryAttention(),
            "memory_encoder": MemoryEncoder(), "prompt_encoder": PromptEncoder(),
            "mask_decoder_multi": decoder(True), "mask_decoder_single": decoder(False)}
    # eval wrappers: exporting restores the wrapper's mode recursively, which must leave the model in eval
    return {k: m.eval() for k, m in mods.items()}


def example_inputs(image_size: int, seed: int = 0, memory_frames: int = 3, ptr_tokens: int = 8,
                   points: int = 2) -> dict:
    """Random inputs per graph with the shapes of `names.shapes` (symbolic dims filled in)."""
    import torch

    g = torch.Generator().manual_seed(seed)
    sh = N.shapes(image_size)
    s = image_size // 16
    fill = {"M": memory_frames * s * s + ptr_tokens, "P": points, "T": points + 1}

    def rnd(shape):
        return torch.randn(tuple(fill.get(d, d) for d in shape), generator=g)

    out: dict[str, dict[str, Any]] = {}
    for spec in N.GRAPHS:
        out[spec.name] = {k: rnd(sh[spec.name][k]) for k in spec.inputs}
    out["memory_attention"]["num_obj_ptr_tokens"] = torch.tensor(ptr_tokens, dtype=torch.int64)
    out["prompt_encoder"]["point_coords"] = torch.rand(1, points, 2, generator=g) * image_size
    out["prompt_encoder"]["point_labels"] = torch.tensor([[1, 0, 2, 3][:points]], dtype=torch.int32)
    out["prompt_encoder"]["has_mask_input"] = torch.ones(1)
    return out


def export_graphs(model: Any, image_size: int, out_dir: Path) -> dict[str, Path]:
    """Write every graph of `names.GRAPHS` as `<name>.onnx` in `out_dir` (real-valued RoPE inside)."""
    import torch

    from models.sam2.rope import real_rope

    out_dir.mkdir(parents=True, exist_ok=True)
    inputs = example_inputs(image_size)
    wrappers = _wrappers(model)
    paths = {}
    tokens = (image_size // 16) ** 2
    with real_rope(model, tokens), torch.no_grad():
        for spec in N.GRAPHS:
            path = out_dir / f"{spec.name}.onnx"
            args = tuple(inputs[spec.name][k] for k in spec.inputs)
            torch.onnx.export(
                wrappers[spec.name], args, str(path), input_names=list(spec.inputs), output_names=list(spec.outputs),
                dynamic_axes=N.DYNAMIC.get(spec.name) or None, opset_version=N.OPSET, dynamo=False,
            )
            paths[spec.name] = path
    return paths


def reference_outputs(model: Any, image_size: int, inputs: dict) -> dict[str, list]:
    """PyTorch outputs (upstream complex RoPE, not the patched one) for `verify`."""
    import torch

    wrappers = _wrappers(model)
    with torch.no_grad():
        out = {}
        for spec in N.GRAPHS:
            result = wrappers[spec.name](*[inputs[spec.name][k] for k in spec.inputs])
            out[spec.name] = [t.numpy() for t in _as_tuple(result)]
        return out


def _as_tuple(x: Any) -> tuple:
    return tuple(x) if isinstance(x, list | tuple) else (x,)


def verify_graphs(model: Any, image_size: int, out_dir: Path, providers: tuple[str, ...] = ("CPUExecutionProvider",),
                  seed: int = 1) -> dict[str, tuple[float, float]]:
    """Every graph vs PyTorch on fresh random inputs (another memory length and point count than at
    export, so the dynamic axes are exercised): {graph: (max |Δ|, min cosine)} over its outputs."""
    import numpy as np
    import onnxruntime as ort

    inputs = example_inputs(image_size, seed=seed, memory_frames=5, ptr_tokens=16, points=3)
    ref = reference_outputs(model, image_size, inputs)
    figures = {}
    for spec in N.GRAPHS:
        sess = ort.InferenceSession(str(out_dir / f"{spec.name}.onnx"), providers=list(providers))
        got = sess.run(list(spec.outputs), {k: inputs[spec.name][k].numpy() for k in spec.inputs})
        worst, cos = 0.0, 1.0
        for a, b in zip(got, ref[spec.name], strict=True):
            a64, b64 = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
            worst = max(worst, float(np.abs(a64 - b64).max()))
            denom = np.linalg.norm(a64) * np.linalg.norm(b64)
            cos = min(cos, float(a64 @ b64 / denom) if denom > 0 else float(np.array_equal(a64, b64)))
        figures[spec.name] = (worst, cos)
    return figures
