"""Build SAM 2 / SAM 2.1 models by short name, at any image size, with strict checkpoint loading.

Why a wrapper around `sam2.build_sam`: upstream raises a bare RuntimeError on a bad checkpoint and
cannot change the image size without also patching the memory-attention RoPE grid; here both are
one call and a bad file becomes a one-line ModelError naming the file and the expected config.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ego360.core.errors import ConfigError, ModelError

# short name -> (hydra config inside the sam2 package, official checkpoint file name)
CONFIGS: dict[str, tuple[str, str]] = {
    "sam2_hiera_t": ("configs/sam2/sam2_hiera_t.yaml", "sam2_hiera_tiny.pt"),
    "sam2_hiera_s": ("configs/sam2/sam2_hiera_s.yaml", "sam2_hiera_small.pt"),
    "sam2_hiera_b+": ("configs/sam2/sam2_hiera_b+.yaml", "sam2_hiera_base_plus.pt"),
    "sam2_hiera_l": ("configs/sam2/sam2_hiera_l.yaml", "sam2_hiera_large.pt"),
    "sam2.1_hiera_t": ("configs/sam2.1/sam2.1_hiera_t.yaml", "sam2.1_hiera_tiny.pt"),
    "sam2.1_hiera_s": ("configs/sam2.1/sam2.1_hiera_s.yaml", "sam2.1_hiera_small.pt"),
    "sam2.1_hiera_b+": ("configs/sam2.1/sam2.1_hiera_b+.yaml", "sam2.1_hiera_base_plus.pt"),
    "sam2.1_hiera_l": ("configs/sam2.1/sam2.1_hiera_l.yaml", "sam2.1_hiera_large.pt"),
}
BACKBONE_STRIDE = 16


def config_path(name: str) -> str:
    """Hydra config path for a short name; unknown names list the valid ones."""
    if name not in CONFIGS:
        raise ConfigError(f"unknown SAM2 config {name!r}; valid: {', '.join(CONFIGS)}")
    return CONFIGS[name][0]


def size_overrides(image_size: int) -> list[str]:
    """Hydra overrides for a reduced input size: the memory-attention RoPE grid follows the stride-16
    feature map, so `feat_sizes` must change with `image_size` (RoPE would otherwise be recomputed
    lazily on the first call, which export cannot trace)."""
    if image_size % (BACKBONE_STRIDE * 2) != 0 or image_size < 64:
        raise ConfigError(f"SAM2 image size {image_size} must be a multiple of 32 and >= 64, e.g. 256, 512 or 1024")
    side = image_size // BACKBONE_STRIDE
    layer = "++model.memory_attention.layer"
    return [
        f"++model.image_size={image_size}",
        f"{layer}.self_attention.feat_sizes=[{side},{side}]",
        f"{layer}.cross_attention.feat_sizes=[{side},{side}]",
    ]


def build_model(
    name: str,
    checkpoint: str | Path | None = None,
    image_size: int = 1024,
    device: str = "cpu",
    extra_overrides: tuple[str, ...] = (),
) -> Any:
    """A `SAM2VideoPredictor` (a SAM2Base with the video post-processing flags) in eval mode.

    `checkpoint=None` keeps the random initialisation (seed torch beforehand for reproducibility).
    `fill_hole_area=0` because the hole filler needs sam2's optional CUDA extension.
    """
    from sam2.build_sam import build_sam2_video_predictor

    overrides = size_overrides(image_size) + ["++model.fill_hole_area=0", *extra_overrides]
    model = build_sam2_video_predictor(config_path(name), ckpt_path=None, device="cpu", hydra_overrides_extra=overrides)
    if checkpoint is not None:
        load_checkpoint(model, checkpoint, name)
    return model.to(device).eval()


def load_checkpoint(model: Any, checkpoint: str | Path, name: str) -> None:
    """Strictly load an official checkpoint (`{"model": state_dict}`) or a bare state dict."""
    import torch

    path = Path(checkpoint)
    expected = f"expected the checkpoint for config {name} (official file {CONFIGS[name][1]})"
    if not path.is_file():
        raise ModelError(f"SAM2 checkpoint {path} not found; {expected}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # unpickling errors have many types; all mean "not a checkpoint"
        raise ModelError(f"SAM2 checkpoint {path} is unreadable ({type(exc).__name__}); {expected}") from exc
    state = obj.get("model", obj) if isinstance(obj, dict) else None
    if not isinstance(state, dict):
        raise ModelError(f"SAM2 checkpoint {path} holds no state dict; {expected}")
    problem = _state_mismatch(model.state_dict(), state)
    if problem:
        raise ModelError(f"SAM2 checkpoint {path} does not match config {name} ({problem}); {expected}")
    model.load_state_dict(state, strict=True)


def _state_mismatch(own: dict, other: dict) -> str:
    """'' when `other` fits `own` exactly, else a short count of what differs."""
    missing = [k for k in own if k not in other]
    unexpected = [k for k in other if k not in own]
    shapes = [k for k in own if k in other and tuple(own[k].shape) != tuple(getattr(other[k], "shape", ()))]
    parts = []
    if missing:
        parts.append(f"{len(missing)} missing keys, e.g. {missing[0]}")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected keys, e.g. {unexpected[0]}")
    if shapes:
        parts.append(f"{len(shapes)} shape mismatches, e.g. {shapes[0]}")
    return "; ".join(parts)
