"""THE tensor names and shapes of the SAM2 ONNX graphs, shared by the exporter and every loader.

Symbolic dims: "M" memory tokens (spatial memories + pointer tokens), "P" prompt points, "T" sparse
prompt tokens, "B" objects (only the padded ring graph batches objects). Fixed dims are given as
functions of the image size S (feature map side s = S/16).

The padded ring (`memory_attention_ring`) is memory attention with a FIXED memory length, for
TensorRT (one static memory shape tunes better than a range and needs no per-length profile):
`RING_FRAMES` spatial memories (`num_maskmem - 1` recent frames + `RING_COND_FRAMES` conditioning
frames) then `RING_POINTERS` object pointers (4 tokens each), with `memory_valid` (1 valid, 0 padding)
so padded slots get zero attention weight.
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
MEMORY_ATTENTION_RING = GraphSpec(
    "memory_attention_ring", ("curr", "curr_pos", "memory", "memory_pos", "memory_valid"), ("pix_feat_with_mem",)
)
GRAPHS: tuple[GraphSpec, ...] = (
    IMAGE_ENCODER, MEMORY_ATTENTION, MEMORY_ENCODER, PROMPT_ENCODER, MASK_DECODER_MULTI, MASK_DECODER_SINGLE,
    MEMORY_ATTENTION_RING,
)

# SAM 2 / 2.1 defaults (every official config): num_maskmem = 7, max_obj_ptrs_in_encoder = 16
# graphs that become engines: the variable-length memory attention is replaced by the padded ring
ENGINE_GRAPHS: tuple[str, ...] = ("image_encoder", "memory_attention_ring", "memory_encoder", "prompt_encoder",
                                  "mask_decoder_multi", "mask_decoder_single")
NUM_MASKMEM = 7
MAX_OBJ_PTRS = 16
RING_COND_FRAMES = 2  # the first seed and the newest re-seed (`SAM2StreamTracker(max_cond_frames=2)`)
RING_FRAMES = NUM_MASKMEM - 1 + RING_COND_FRAMES
RING_POINTERS = MAX_OBJ_PTRS - 1 + RING_COND_FRAMES
PTR_TOKENS = 4  # hidden 256 / mem_dim 64: one pointer is split into 4 memory tokens
RING_MASK_BIAS = -30000.0  # attention bias of a padded slot: exp(-3e4) is 0 in fp32 and fp16, finite in fp16
MAX_OBJECTS = 8  # upper end of the object-count profile of batched graphs
MAX_POINTS = 8  # upper end of the prompt-point profile (box corners + clicks)


def ring_length(image_size: int) -> int:
    """Fixed memory length of the padded ring: spatial slots then pointer-token slots."""
    s = image_size // 16
    return RING_FRAMES * s * s + RING_POINTERS * PTR_TOKENS
DYNAMIC: dict[str, dict[str, dict[int, str]]] = {
    "memory_attention": {"memory": {0: "M"}, "memory_pos": {0: "M"}},
    "prompt_encoder": {"point_coords": {1: "P"}, "point_labels": {1: "P"}, "sparse": {1: "T"}},
    "mask_decoder_multi": {"sparse": {1: "T"}},
    "mask_decoder_single": {"sparse": {1: "T"}},
    "memory_attention_ring": {"curr": {1: "B"}, "curr_pos": {1: "B"}, "memory": {1: "B"}, "memory_pos": {1: "B"},
                              "memory_valid": {0: "B"}, "pix_feat_with_mem": {1: "B"}},
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
        "memory_attention_ring": {"curr": (hw, "B", hidden), "curr_pos": (hw, "B", hidden),
                                  "memory": (ring_length(image_size), "B", mem_dim),
                                  "memory_pos": (ring_length(image_size), "B", mem_dim),
                                  "memory_valid": ("B", ring_length(image_size)),
                                  "pix_feat_with_mem": (hw, "B", hidden)},
    }
