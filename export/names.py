"""THE tensor names and shapes of the SAM2 ONNX graphs, shared by the exporter and every loader.

Symbolic dims: "M" memory tokens (spatial memories + pointer tokens), "P" prompt points, "T" sparse
prompt tokens. Fixed dims are given as functions of the image size S (feature map side s = S/16).
"""

from __future__ import annotations

from dataclasses import dataclass

OPSET = 18


@dataclass(frozen=True)
class GraphSpec:
    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


IMAGE_ENCODER = GraphSpec("image_encoder", ("image",), ("fpn0", "fpn1", "fpn2", "pos0", "pos1", "pos2"))
MEMORY_ATTENTION = GraphSpec(
    "memory_attention", ("curr", "curr_pos", "memory", "memory_pos", "num_obj_ptr_tokens"), ("pix_feat_with_mem",)
)
MEMORY_ENCODER = GraphSpec("memory_encoder", ("pix_feat", "mask_for_mem"), ("maskmem_features", "maskmem_pos_enc"))
PROMPT_ENCODER = GraphSpec(
    "prompt_encoder", ("point_coords", "point_labels", "mask_input", "has_mask_input"), ("sparse", "dense", "image_pe")
)
MASK_DECODER_MULTI = GraphSpec(
    "mask_decoder_multi", ("image_embeddings", "image_pe", "sparse", "dense", "hr0", "hr1"),
    ("masks", "iou_pred", "sam_tokens", "object_score_logits"),
)
MASK_DECODER_SINGLE = GraphSpec("mask_decoder_single", MASK_DECODER_MULTI.inputs, MASK_DECODER_MULTI.outputs)
GRAPHS: tuple[GraphSpec, ...] = (
    IMAGE_ENCODER, MEMORY_ATTENTION, MEMORY_ENCODER, PROMPT_ENCODER, MASK_DECODER_MULTI, MASK_DECODER_SINGLE,
)
DYNAMIC: dict[str, dict[str, dict[int, str]]] = {
    "memory_attention": {"memory": {0: "M"}, "memory_pos": {0: "M"}},
    "prompt_encoder": {"point_coords": {1: "P"}, "point_labels": {1: "P"}, "sparse": {1: "T"}},
    "mask_decoder_multi": {"sparse": {1: "T"}},
    "mask_decoder_single": {"sparse": {1: "T"}},
}


def shapes(image_size: int, hidden: int = 256, mem_dim: int = 64) -> dict[str, dict[str, tuple]]:
    """Per graph, the shape of every input and output (batch 1 = one object; symbolic dims as str)."""
    s = image_size // 16
    hw = s * s
    dec_in = {"image_embeddings": (1, hidden, s, s), "image_pe": (1, hidden, s, s), "sparse": (1, "T", hidden),
              "dense": (1, hidden, s, s), "hr0": (1, hidden // 8, 4 * s, 4 * s), "hr1": (1, hidden // 4, 2 * s, 2 * s)}
    dec = {"masks": (1, "K", 4 * s, 4 * s), "iou_pred": (1, "K"), "sam_tokens": (1, "K", hidden),
           "object_score_logits": (1, 1)}
    return {
        "image_encoder": {"image": (1, 3, image_size, image_size), "fpn0": dec_in["hr0"], "fpn1": dec_in["hr1"],
                          "fpn2": (1, hidden, s, s), "pos0": (1, hidden, 4 * s, 4 * s),
                          "pos1": (1, hidden, 2 * s, 2 * s), "pos2": (1, hidden, s, s)},
        "memory_attention": {"curr": (hw, 1, hidden), "curr_pos": (hw, 1, hidden), "memory": ("M", 1, mem_dim),
                             "memory_pos": ("M", 1, mem_dim), "num_obj_ptr_tokens": (),
                             "pix_feat_with_mem": (hw, 1, hidden)},
        "memory_encoder": {"pix_feat": (1, hidden, s, s), "mask_for_mem": (1, 1, image_size, image_size),
                           "maskmem_features": (1, mem_dim, s, s), "maskmem_pos_enc": (1, mem_dim, s, s)},
        "prompt_encoder": {"point_coords": (1, "P", 2), "point_labels": (1, "P"), "mask_input": (1, 1, 4 * s, 4 * s),
                           "has_mask_input": (1,), "sparse": (1, "T", hidden), "dense": (1, hidden, s, s),
                           "image_pe": (1, hidden, s, s)},
        "mask_decoder_multi": {**dec_in, **dec},
        "mask_decoder_single": {**dec_in, **dec},
    }
