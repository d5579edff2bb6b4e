"""The real-valued RoPE equals sam2's complex RoPE (it replaces it in every exported graph)."""

from __future__ import annotations

import pytest


def test_real_rope_equals_complex_rope(require_sam2):
    torch = pytest.importorskip("torch")
    from sam2.modeling.position_encoding import apply_rotary_enc, compute_axial_cis

    from ego360.models.sam2.rope import apply_rotary_enc_real, cos_sin

    torch.manual_seed(0)
    freqs = compute_axial_cis(dim=256, end_x=16, end_y=16)
    cos, sin = cos_sin(freqs)
    q = torch.randn(1, 1, 256, 256)
    for k_len in (256, 256 * 7):
        k = torch.randn(1, 1, k_len, 256)
        q_ref, k_ref = apply_rotary_enc(q, k, freqs, repeat_freqs_k=k_len > 256)
        q_out, k_out = apply_rotary_enc_real(q, k, cos, sin, repeat_freqs_k=k_len > 256)
        assert (q_out - q_ref).abs().max().item() <= 1e-6
        assert (k_out - k_ref).abs().max().item() <= 1e-6
        print(f"k_len={k_len}: max |dq|={(q_out - q_ref).abs().max().item():.3g} "
              f"max |dk|={(k_out - k_ref).abs().max().item():.3g}")


def test_memory_attention_with_real_rope_matches_upstream(random_sam2):
    torch = pytest.importorskip("torch")
    from ego360.models.sam2.rope import real_rope

    model = random_sam2()
    torch.manual_seed(1)
    curr, pos = torch.randn(256, 1, 256), torch.randn(256, 1, 256)
    mem, mem_pos = torch.randn(256 * 3 + 16, 1, 64), torch.randn(256 * 3 + 16, 1, 64)
    def run():
        return model.memory_attention(curr=[curr], memory=mem.clone(), curr_pos=[pos], memory_pos=mem_pos,
                                      num_obj_ptr_tokens=16)

    with torch.inference_mode():
        ref = run()
        with real_rope(model.memory_attention, 256):
            ours = run()
        again = run()
    assert (ours - ref).abs().max().item() <= 1e-4
    assert torch.equal(again, ref)  # the patch is undone
