"""Real-valued rotary position encoding for SAM2's memory attention.

Why: upstream RoPE multiplies `torch.view_as_complex` tensors, which ONNX cannot express. A complex
product (x0 + i·x1)(cos + i·sin) is the pair (x0·cos − x1·sin, x0·sin + x1·cos); with cos/sin precomputed
from the same `freqs_cis` the graph needs only Mul/Sub/Add, and equals the complex version (tested).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any


def cos_sin(freqs_cis: Any) -> tuple[Any, Any]:
    """(N, D/2) complex → two (N, D/2) float tensors."""
    return freqs_cis.real.float().contiguous(), freqs_cis.imag.float().contiguous()


def _rotate(x: Any, cos: Any, sin: Any) -> Any:
    """Rotate consecutive channel pairs of x (..., N, D) by angles given as cos/sin (N, D/2)."""
    pairs = x.float().reshape(*x.shape[:-1], -1, 2)
    x0, x1 = pairs[..., 0], pairs[..., 1]
    out = (x0 * cos - x1 * sin, x0 * sin + x1 * cos)
    return __import__("torch").stack(out, dim=-1).flatten(-2).type_as(x)


def apply_rotary_enc_real(xq: Any, xk: Any, cos: Any, sin: Any, repeat_freqs_k: bool = False) -> tuple[Any, Any]:
    """Drop-in for `sam2.modeling.position_encoding.apply_rotary_enc` (q: (B, h, N, D), k: (B, h, r·N, D))."""
    q_out = _rotate(xq, cos, sin)
    if xk.shape[-2] == 0:
        return q_out, xk
    if repeat_freqs_k:
        r = xk.shape[-2] // xq.shape[-2]
        cos, sin = cos.repeat(r, 1), sin.repeat(r, 1)
    return q_out, _rotate(xk, cos, sin)


def _real_forward(self: Any, q: Any, k: Any, v: Any, num_k_exclude_rope: Any = 0) -> Any:
    """`RoPEAttention.forward` with real RoPE and a k split that tolerates a tensor exclude count."""
    import torch
    import torch.nn.functional as F

    q = self._separate_heads(self.q_proj(q), self.num_heads)
    k = self._separate_heads(self.k_proj(k), self.num_heads)
    v = self._separate_heads(self.v_proj(v), self.num_heads)
    num_k_rope = k.size(-2) - num_k_exclude_rope
    k_rope, k_rest = k[:, :, :num_k_rope], k[:, :, num_k_rope:]
    q, k_rope = apply_rotary_enc_real(q, k_rope, self.rope_cos, self.rope_sin, repeat_freqs_k=self.rope_k_repeat)
    k = torch.cat([k_rope, k_rest], dim=-2)
    out = F.scaled_dot_product_attention(q, k, v, dropout_p=0.0)
    return self.out_proj(self._recombine_heads(out))


@contextlib.contextmanager
def real_rope(model: Any, tokens: int) -> Iterator[None]:
    """Within the block every RoPEAttention of `model` uses real RoPE for a `tokens`-long query grid."""
    from sam2.modeling.sam.transformer import RoPEAttention

    side = int(math.isqrt(tokens))
    patched = []
    for mod in model.modules():
        if isinstance(mod, RoPEAttention):
            freqs = mod.freqs_cis if mod.freqs_cis.shape[0] == tokens else mod.compute_cis(end_x=side, end_y=side)
            mod.rope_cos, mod.rope_sin = cos_sin(freqs.to(next(mod.parameters()).device))
            mod.forward = _real_forward.__get__(mod)
            patched.append(mod)
    try:
        yield
    finally:
        for mod in patched:
            del mod.forward, mod.rope_cos, mod.rope_sin
