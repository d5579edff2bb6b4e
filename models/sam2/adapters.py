"""Adapters that let exported SAM2 networks (ONNX Runtime sessions, TensorRT engines) stand in for the
PyTorch modules of a `SAM2Base`, plus the glue weights that stay in PyTorch.

Why one place: both backends swap exactly the same networks and keep the same glue, and differ only in
how memory attention is called (variable-length graph vs padded ring); sharing the adapters keeps the
two backends provably identical everywhere else.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ego360.core.errors import ModelError

GLUE = "glue.pt"
NETWORKS = ("image_encoder", "memory_attention", "memory_encoder", "sam_prompt_encoder", "sam_mask_decoder")


def glue_state(model: Any) -> dict:
    return {k: v for k, v in model.state_dict().items() if not k.startswith(NETWORKS)}


def build_glued_model(folder: Path, manifest: Mapping[str, Any], fix: str, redo: str) -> Any:
    """Architecture from the manifest, glue weights from `folder/glue.pt`; a missing or mismatching glue
    file is a one-line ModelError ending in `fix` (missing) or `redo` (mismatch)."""
    import torch

    from ego360.models.sam2.build import build_model

    model = build_model(manifest["config"], None, manifest["image_size"])
    glue_path = Path(folder) / GLUE
    if not glue_path.is_file():
        raise ModelError(f"{glue_path} not found; {fix}")
    glue = torch.load(glue_path, map_location="cpu", weights_only=True)
    own = glue_state(model)
    if set(glue) != set(own) or any(glue[k].shape != own[k].shape for k in own):
        raise ModelError(f"{glue_path} does not match config {manifest['config']}; {redo}")
    model.load_state_dict(glue, strict=False)
    return model


def attach_networks(model: Any, runners: Mapping[str, Callable[..., list]],
                    memory_attention: Callable[..., Any]) -> Any:
    """Replace the networks of `model` (in place) by `runners` (graph name → callable taking the graph's
    inputs in order, returning its outputs in order). `memory_attention(curr, curr_pos, memory, memory_pos,
    num_obj_ptr_tokens)` returns the attended features; it is the only call the backends do differently."""
    import torch

    enc, mem, pe = runners["image_encoder"], runners["memory_encoder"], runners["prompt_encoder"]
    dec_multi, dec_single = runners["mask_decoder_multi"], runners["mask_decoder_single"]
    s = model.image_size // 16
    dev = next(model.parameters()).device
    dense_pe = pe(torch.zeros(1, 1, 2), -torch.ones(1, 1, dtype=torch.int32), torch.zeros(1, 1, 4 * s, 4 * s),
                  torch.zeros(1))[2]

    class MemoryAttention(torch.nn.Module):
        def forward(self, curr, memory, curr_pos, memory_pos, num_obj_ptr_tokens=0):
            return memory_attention(curr[0], curr_pos[0], memory, memory_pos, num_obj_ptr_tokens)

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
            m = masks if masks is not None else torch.zeros(1, 1, 4 * s, 4 * s, device=dev)
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
    model.batch_images = False  # the exported image encoder takes one image: `streaming.encode` loops
    return model.eval()
