"""Input checks at the source boundary, so every stage downstream can assume RGB uint8 H×W×3, W = 2H.

Cameras, clips and image folders disagree on channel order, bit depth and size; normalising them
here (once, with a one-line error naming the fix) keeps those cases out of every stage.
"""

from __future__ import annotations

import cv2
import numpy as np

from ego360.core.errors import InputError

# A tolerance for the 2:1 check: a few encoders pad or crop a row or two (e.g. 3840×1922);
# such frames are resized to exactly 2:1. Anything further off is not an equirect image.
ASPECT_TOLERANCE = 0.01


def _to_three_channels(img: np.ndarray, source_name: str, order: str) -> np.ndarray:
    """Channel layout → RGB. Returns a new or the same array; never modifies the caller's."""
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    if img.ndim == 2:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
    if img.ndim != 3 or img.shape[2] not in (3, 4):
        raise InputError(
            f"{source_name}: frame has shape {img.shape}, expected H×W, H×W×1, H×W×3 or H×W×4; "
            "use a grayscale, RGB or RGBA image"
        )
    if img.shape[2] == 4:
        code = cv2.COLOR_BGRA2RGB if order == "bgr" else cv2.COLOR_RGBA2RGB
        return cv2.cvtColor(img, code)
    if order == "bgr":
        return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    return img


def _to_uint8(img: np.ndarray, source_name: str) -> np.ndarray:
    if img.dtype == np.uint8:
        return img
    if img.dtype == np.uint16:
        return (img >> 8).astype(np.uint8)
    kind = "floating-point" if np.issubdtype(img.dtype, np.floating) else str(img.dtype)
    raise InputError(
        f"{source_name}: frame is {kind} ({img.dtype}), expected 8-bit or 16-bit integers; "
        "export the frames as 8-bit PNG/JPEG or an 8-bit video"
    )


def _check_aspect(img: np.ndarray, source_name: str) -> np.ndarray:
    h, w = img.shape[:2]
    if h == 0 or w == 0:
        raise InputError(f"{source_name}: frame is empty ({w}×{h}); check the file or camera")
    if w == 2 * h:
        return img
    if abs(w / h - 2.0) > 2.0 * ASPECT_TOLERANCE:
        raise InputError(
            f"{source_name}: frame is {w}×{h}, not an equirectangular 2:1 image; "
            "use the camera's stitched 360° (equirectangular) export, not a fisheye or flat view"
        )
    w2 = w - (w % 2)
    return cv2.resize(img, (w2, w2 // 2), interpolation=cv2.INTER_AREA)


def check_frame(
    img: np.ndarray | None,
    source_name: str,
    *,
    order: str = "bgr",
    max_width: int | None = None,
) -> np.ndarray:
    """Validate and normalise one frame to contiguous RGB uint8 H×W×3 with W = 2H.

    `order` says how 3/4-channel input is laid out: "bgr" (OpenCV's imread/VideoCapture, the
    default) or "rgb" (PyAV, PIL).

    Conversions (documented, because each one is a choice):
    - grayscale (H×W or H×W×1) → RGB by replicating the channel (R = G = B = gray);
    - 4 channels (BGRA/RGBA) → alpha dropped, not composited (360° frames have no transparency);
    - 16-bit → 8-bit by `>> 8` (keeps the top byte, i.e. a linear rescale of 0..65535 to 0..255);
    - floating-point → InputError (its range, 0..1 or 0..255, cannot be told from the data);
    - width within 1 % of 2×height → resized to exactly 2:1; further off → InputError;
    - wider than `max_width` → downscaled with cv2.INTER_AREA (the alias-free choice for
      shrinking) to max_width × max_width/2 (max_width rounded down to even), keeping 2:1.

    Empty or None → InputError. Everything raises a one-line InputError naming the fix.
    """
    if order not in ("bgr", "rgb"):
        raise ValueError(f"order must be 'bgr' or 'rgb', not {order!r}")
    if img is None or not isinstance(img, np.ndarray) or img.size == 0:
        raise InputError(f"{source_name}: got an empty frame; check that the file or camera delivers images")
    img = _to_uint8(img, source_name)
    img = _to_three_channels(img, source_name, order)
    img = _check_aspect(img, source_name)
    if max_width and img.shape[1] > max_width:
        w2 = max(2, max_width - (max_width % 2))
        img = cv2.resize(img, (w2, w2 // 2), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(img)
