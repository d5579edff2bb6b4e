"""Export SAM2's components to ONNX (one graph per network, the streaming glue stays in Python).

Why per network: the memory bank's bookkeeping (which frames, which pointers, temporal encodings) is
Python control flow that changes per frame; the heavy, fixed-topology parts are what an inference
engine should run. Names and shapes come from `ego360.models.sam2.names`, which the loaders also read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ego360.models.sam2 import names as N
from ego360.models.sam2.ring import pack_ring, ring_valid  # noqa: F401 (pack_ring re-used by tests)


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

    class MemoryAttentionRing(Wrapper):
        def forward(self, curr, curr_pos, memory, memory_pos, memory_valid):
            return ring_memory_attention(model.memory_attention, curr, curr_pos, memory, memory_pos, memory_valid)

    mods = {"image_encoder": ImageEncoder(), "memory_attention": MemoryAttention(),
            "memory_encoder": MemoryEncoder(), "prompt_encoder": PromptEncoder(),
            "mask_decoder_multi": decoder(True), "mask_decoder_single": decoder(False),
            "memory_attention_ring": MemoryAttentionRing()}
    # eval wrappers: exporting restores the wrapper's mode recursively, which must leave the model in eval
    return {k: m.eval() for k, m in mods.items()}


# ---------------------------------------------------------------- padded ring (fixed memory length)
def _masked_rope_attention(attn: Any, q: Any, k: Any, v: Any, num_k_exclude_rope: int, bias: Any) -> Any:
    """`RoPEAttention` (real RoPE, see `models.sam2.rope`) with an additive key bias: the padded slots get
    `RING_MASK_BIAS`, so their softmax weight underflows to exactly 0 and they contribute nothing."""
    import torch
    import torch.nn.functional as F

    from ego360.models.sam2.rope import apply_rotary_enc_real

    q = attn._separate_heads(attn.q_proj(q), attn.num_heads)
    k = attn._separate_heads(attn.k_proj(k), attn.num_heads)
    v = attn._separate_heads(attn.v_proj(v), attn.num_heads)
    num_k_rope = k.shape[-2] - num_k_exclude_rope
    k_rope, k_rest = k[:, :, :num_k_rope], k[:, :, num_k_rope:]
    q, k_rope = apply_rotary_enc_real(q, k_rope, attn.rope_cos, attn.rope_sin, repeat_freqs_k=attn.rope_k_repeat)
    k = torch.cat([k_rope, k_rest], dim=-2)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=0.0)
    return attn.out_proj(attn._recombine_heads(out))


def ring_memory_attention(ma: Any, curr: Any, curr_pos: Any, memory: Any, memory_pos: Any, valid: Any) -> Any:
    """`MemoryAttention.forward` on the padded ring (seq-first tensors, `valid` (B, L) 1/0); must run inside
    `real_rope(...)`. Layer by layer as upstream, only the cross-attention gets the padding bias."""
    import torch

    if not ma.batch_first:
        raise NotImplementedError("the padded ring assumes batch_first memory attention (every SAM2 config)")
    ptr_tokens = N.RING_POINTERS * N.PTR_TOKENS
    output = curr + 0.1 * curr_pos if ma.pos_enc_at_input else curr
    output, curr_pos = output.transpose(0, 1), curr_pos.transpose(0, 1)
    memory, memory_pos = memory.transpose(0, 1), memory_pos.transpose(0, 1)
    bias = torch.where(valid > 0.5, 0.0, N.RING_MASK_BIAS)[:, None, None, :].to(memory.dtype)
    for layer in ma.layers:
        tgt = layer._forward_sa(output, curr_pos)
        tgt2 = layer.norm2(tgt)
        q = tgt2 + curr_pos if layer.pos_enc_at_cross_attn_queries else tgt2
        k = memory + memory_pos if layer.pos_enc_at_cross_attn_keys else memory
        tgt = tgt + layer.dropout2(_masked_rope_attention(layer.cross_attn_image, q, k, memory, ptr_tokens, bias))
        tgt2 = layer.linear2(layer.dropout(layer.activation(layer.linear1(layer.norm3(tgt)))))
        output = tgt + layer.dropout3(tgt2)
    return ma.norm(output).transpose(0, 1)


RING_FILLS = ((1, 4), (3, 20), (N.RING_FRAMES, N.RING_POINTERS * N.PTR_TOKENS))  # verify: low, mid, full


def example_inputs(image_size: int, seed: int = 0, memory_frames: int = 3, ptr_tokens: int = 8,
                   points: int = 2, ring_fills: tuple[tuple[int, int], ...] = RING_FILLS[:2]) -> dict:
    """Random inputs per graph with the shapes of `names.shapes` (symbolic dims filled in). The ring's
    padded slots hold random values too, so verification proves they are ignored."""
    import torch

    g = torch.Generator().manual_seed(seed)
    sh = N.shapes(image_size)
    s = image_size // 16
    fill = {"M": memory_frames * s * s + ptr_tokens, "P": points, "T": points + 1, "B": len(ring_fills)}

    def rnd(shape):
        return torch.randn(tuple(fill.get(d, d) for d in shape), generator=g)

    out: dict[str, dict[str, Any]] = {}
    for spec in N.GRAPHS:
        out[spec.name] = {k: rnd(sh[spec.name][k]) for k in spec.inputs}
    out["memory_attention"]["num_obj_ptr_tokens"] = torch.tensor(ptr_tokens, dtype=torch.int64)
    out["prompt_encoder"]["point_coords"] = torch.rand(1, points, 2, generator=g) * image_size
    out["prompt_encoder"]["point_labels"] = torch.tensor([[1, 0, 2, 3][:points]], dtype=torch.int32)
    out["prompt_encoder"]["has_mask_input"] = torch.ones(1)
    out["memory_attention_ring"]["memory_valid"] = ring_valid(image_size, list(ring_fills))
    out["memory_attention_ring"]["fills"] = list(ring_fills)
    return out


def export_graphs(model: Any, image_size: int, out_dir: Path, only: tuple[str, ...] | None = None) -> dict[str, Path]:
    """Write every graph of `names.GRAPHS` (or those named in `only`) as `<name>.onnx` in `out_dir`
    (real-valued RoPE inside)."""
    import torch

    from ego360.models.sam2.rope import real_rope

    out_dir.mkdir(parents=True, exist_ok=True)
    inputs = example_inputs(image_size)
    wrappers = _wrappers(model)
    paths = {}
    tokens = (image_size // 16) ** 2
    with real_rope(model, tokens), torch.no_grad():
        for spec in N.GRAPHS:
            if only is not None and spec.name not in only:
                continue
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
            if spec.name == "memory_attention_ring":
                out[spec.name] = [ring_reference(model, image_size, inputs[spec.name]).numpy()]
                continue
            result = wrappers[spec.name](*[inputs[spec.name][k] for k in spec.inputs])
            out[spec.name] = [t.numpy() for t in _as_tuple(result)]
        return out


def ring_reference(model: Any, image_size: int, ring_inputs: dict) -> Any:
    """What the ring must equal: upstream variable-length memory attention on each object's valid slots."""
    import torch

    hw = (image_size // 16) ** 2
    base = N.RING_FRAMES * hw
    outs = []
    for b, (frames, n_ptr) in enumerate(ring_inputs["fills"]):
        def valid(x, b=b, frames=frames, n_ptr=n_ptr):
            return torch.cat([x[: frames * hw, b : b + 1], x[base : base + n_ptr, b : b + 1]])

        outs.append(model.memory_attention(
            curr=[ring_inputs["curr"][:, b : b + 1]], curr_pos=[ring_inputs["curr_pos"][:, b : b + 1]],
            memory=valid(ring_inputs["memory"]), memory_pos=valid(ring_inputs["memory_pos"]),
            num_obj_ptr_tokens=n_ptr))
    return torch.cat(outs, dim=1)


def _as_tuple(x: Any) -> tuple:
    return tuple(x) if isinstance(x, list | tuple) else (x,)


def verify_graphs(model: Any, image_size: int, out_dir: Path, providers: tuple[str, ...] = ("CPUExecutionProvider",),
                  seed: int = 1) -> dict[str, tuple[float, float]]:
    """Every graph vs PyTorch on fresh random inputs (another memory length and point count than at
    export, so the dynamic axes are exercised): {graph: (max |Δ|, min cosine)} over its outputs."""
    import numpy as np
    import onnxruntime as ort

    inputs = example_inputs(image_size, seed=seed, memory_frames=5, ptr_tokens=16, points=3, ring_fills=RING_FILLS)
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
