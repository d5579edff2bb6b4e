"""The padded, fixed-length memory ring TensorRT needs for memory attention.

Shared by the exporter (which traces the ring graph) and the TensorRT loader (which packs the live
variable-length memory into it each frame), so both sides agree on the layout by construction.
"""

from __future__ import annotations

from typing import Any

from ego360.core.errors import ModelError
from ego360.models.sam2 import names as N


def ring_valid(image_size: int, fills: list[tuple[int, int]]) -> Any:
    """(B, L) validity of the ring for per-object fills (spatial memory frames, pointer tokens)."""
    import torch

    hw = (image_size // 16) ** 2
    valid = torch.zeros(len(fills), N.ring_length(image_size))
    for b, (frames, ptr_tokens) in enumerate(fills):
        valid[b, : frames * hw] = 1.0
        valid[b, N.RING_FRAMES * hw : N.RING_FRAMES * hw + ptr_tokens] = 1.0
    return valid


def pack_ring(memory: Any, memory_pos: Any, num_obj_ptr_tokens: int, image_size: int) -> tuple[Any, Any, Any]:
    """Variable-length memory (M, B, C) with its pointer tokens last → the padded ring (L, B, C), zero
    padding, and `memory_valid` (B, L). A memory longer than the ring is a ModelError (the stream must
    cap its conditioning frames at `names.RING_COND_FRAMES`)."""
    hw = (image_size // 16) ** 2
    n_ptr = int(num_obj_ptr_tokens)
    spatial = memory.shape[0] - n_ptr
    frames = spatial // hw
    if spatial % hw or frames > N.RING_FRAMES or n_ptr > N.RING_POINTERS * N.PTR_TOKENS:
        raise ModelError(f"memory of {frames} frames + {n_ptr} pointer tokens does not fit the TensorRT ring "
                         f"({N.RING_FRAMES} frames, {N.RING_POINTERS * N.PTR_TOKENS} tokens); "
                         f"cap conditioning frames at {N.RING_COND_FRAMES}")
    length, base = N.ring_length(image_size), N.RING_FRAMES * hw
    out = []
    for x in (memory, memory_pos):
        ring = x.new_zeros((length, *x.shape[1:]))
        ring[:spatial] = x[:spatial]
        ring[base : base + n_ptr] = x[spatial:]
        out.append(ring)
    valid = ring_valid(image_size, [(frames, n_ptr)] * memory.shape[1]).to(memory.device)
    return out[0], out[1], valid
