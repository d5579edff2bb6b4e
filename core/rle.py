"""COCO RLE for equirect masks, JSON-ready: the one encoder/decoder for events.jsonl and gt.json."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np


def encode_rle(mask: np.ndarray) -> dict[str, Any]:
    """COCO RLE of a bool H×W mask, with `counts` as an ASCII string so it is JSON-ready."""
    from pycocotools import mask as mask_utils

    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8, copy=False)))
    return {"size": [int(rle["size"][0]), int(rle["size"][1])], "counts": rle["counts"].decode("ascii")}


def decode_rle(rle: dict[str, Any]) -> np.ndarray:
    """Inverse of `encode_rle`: bool H×W array."""
    from pycocotools import mask as mask_utils

    counts = rle["counts"]
    raw = {"size": list(rle["size"]), "counts": counts.encode("ascii") if isinstance(counts, str) else counts}
    with warnings.catch_warnings():  # pycocotools' own NumPy-2 `copy=` deprecation, not ours
        warnings.simplefilter("ignore", DeprecationWarning)
        return mask_utils.decode(raw).astype(bool)
