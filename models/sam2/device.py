"""Where the SAM2 tracker's tensors live: device preprocessing, pinned uploads, autocast, lazy masks.

Why a module of its own: on a GPU the tracker was bound by host work (a PIL resize and float64 scaling
of every view on the CPU, full-resolution logits copied back per object), not by the network. Here an
image goes up once as uint8 through a reused pinned buffer and is normalised on the device with the
same arithmetic as sam2's frame loader (so results stay bit-identical), and masks stay low-resolution on
the device until a consumer asks, when every pending mask of a frame comes back in one copy.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any

import numpy as np

DTYPES = ("fp32", "bf16", "fp16")
_IMG_MEAN = (0.485, 0.456, 0.406)
_IMG_STD = (0.229, 0.224, 0.225)


def torch_dtype(name: str) -> Any:
    import torch

    from ego360.core.errors import ConfigError

    table = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
    if name not in table:
        raise ConfigError(f"tracker.dtype {name!r}; valid: {', '.join(DTYPES)}")
    return table[name]


def autocast(device: Any, dtype: str) -> contextlib.AbstractContextManager:
    """Reduced precision the way upstream runs it (`torch.autocast`, weights stay fp32); fp32 runs plain."""
    import torch

    if torch_dtype(dtype) == torch.float32 or device.type not in ("cuda", "cpu"):
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch_dtype(dtype))


class Uploader:
    """uint8 H×W×3 images → device, through one reused pinned buffer per shape on CUDA (asynchronous copy;
    an event keeps the host from overwriting the buffer while its previous copy is still in flight)."""

    def __init__(self, device: Any) -> None:
        self.device = device
        self._pinned: dict[tuple, Any] = {}
        self._events: dict[tuple, Any] = {}

    def __call__(self, image: np.ndarray) -> Any:
        import torch

        host = torch.from_numpy(np.ascontiguousarray(image))
        if self.device.type != "cuda":
            return host.to(self.device)
        key = tuple(image.shape)
        if key not in self._pinned:
            self._pinned[key] = torch.empty(key, dtype=torch.uint8).pin_memory()
            self._events[key] = torch.cuda.Event()
        else:
            self._events[key].synchronize()
        buf = self._pinned[key]
        buf.copy_(host)
        out = buf.to(self.device, non_blocking=True)
        self._events[key].record()
        return out


def normalise(images: Any, size: int, device: Any) -> Any:
    """N×H×W×3 uint8 (on `device`) → N×3×S×S float32 normalised as sam2's loader: values scaled in float64,
    cast to float32, then mean/std in float32 (bit-identical to the PIL path when H = W = S). Other sizes
    are resized on the device (bicubic, antialiased: close to PIL's, not bit-identical)."""
    import torch
    import torch.nn.functional as F

    x = images.permute(0, 3, 1, 2)
    if tuple(x.shape[-2:]) != (size, size):
        x = F.interpolate(x.float(), size=(size, size), mode="bicubic", antialias=True, align_corners=False)
        x = x.round().clamp(0, 255)
    x = (x.to(torch.float64) / 255.0).float()
    mean = torch.tensor(_IMG_MEAN, dtype=torch.float32, device=device)[:, None, None]
    std = torch.tensor(_IMG_STD, dtype=torch.float32, device=device)[:, None, None]
    return (x - mean) / std


def preprocess_pil(image: np.ndarray, size: int) -> Any:
    """The exact sam2 frame-loader path (PIL bicubic resize, float64 scaling): 1×3×S×S float32 on the CPU."""
    import torch
    from PIL import Image

    arr = np.array(Image.fromarray(image).resize((size, size))) / 255.0
    img = torch.from_numpy(arr).permute(2, 0, 1).float()
    mean = torch.tensor(_IMG_MEAN, dtype=torch.float32)[:, None, None]
    std = torch.tensor(_IMG_STD, dtype=torch.float32)[:, None, None]
    return ((img - mean) / std)[None]


def check_image(image: np.ndarray) -> None:
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 H×W×3 image, got {image.dtype} {image.shape}")


class LazyMask:
    """One object's mask: low-res logits on the device; `logits`/`mask` at image resolution on first use.

    Same attributes as `streaming.MaskOut`. `fetch([...])` resolves many at once with one device→host copy.
    """

    __slots__ = ("low_res", "hw", "_logits", "_mask")

    def __init__(self, low_res: Any, hw: tuple[int, int]) -> None:
        self.low_res, self.hw = low_res, (int(hw[0]), int(hw[1]))
        self._logits: np.ndarray | None = None
        self._mask: np.ndarray | None = None

    @property
    def logits(self) -> np.ndarray:
        if self._logits is None:
            fetch([self])
        return self._logits  # type: ignore[return-value]

    @property
    def mask(self) -> np.ndarray:
        if self._mask is None:
            self._mask = self.logits > 0.0
        return self._mask


def upsample(low_res: Any, hw: tuple[int, int]) -> Any:
    import torch.nn.functional as F

    return F.interpolate(low_res, size=tuple(hw), mode="bilinear", align_corners=False)


def fetch(masks: Iterable[LazyMask]) -> None:
    """Bring every unresolved mask to the host: one upsample and one copy per (size, device) group."""
    import torch

    groups: dict[tuple, list[LazyMask]] = {}
    for m in masks:
        if m._logits is None:
            groups.setdefault((m.hw, m.low_res.device), []).append(m)
    for (hw, _), items in groups.items():
        full = upsample(torch.cat([m.low_res for m in items], dim=0), hw)
        host = full[:, 0].float().cpu().numpy()
        for m, lg in zip(items, host, strict=True):
            m._logits = lg
