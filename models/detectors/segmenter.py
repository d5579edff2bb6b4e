"""Person masks from the shipped MediaPipe selfie segmenter (`selfie_segmentation.tflite`, Apache-2.0).

Why: a detector box is not a mask. Tracking a person who stands still, scoring it against a mask and
finding its ground contact all need the person's pixels; SAM2 gives them when configured, and this
small model (3 ms per 256² view on one CPU core) gives them everywhere else. It segments a perspective
view centred on the detection, and the view's inverse map carries the mask back to the equirect.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ego360.core.packets import Box
from ego360.core.projection import PerspectiveView
from ego360.models.detectors.blazepose import check_models, litert_interpreter

SIZE = 256


class SelfieSegmenter:
    """Person probability per pixel of an RGB image; `person_mask` does the equirect round trip."""

    name = "selfie"

    def __init__(self, model_dir: str | Path, threads: int = 1, threshold: float = 0.5):
        path = check_models(model_dir, ("selfie_segmentation.tflite",))["selfie_segmentation.tflite"]
        self._it = litert_interpreter(path, threads)
        self._in = self._it.get_input_details()[0]["index"]
        self._out = self._it.get_output_details()[0]["index"]
        self.threshold = float(threshold)

    def probability(self, image: np.ndarray) -> np.ndarray:
        """float32 (h, w) person probability of an RGB uint8 image (resized to 256², no letterbox, as upstream)."""
        h, w = image.shape[:2]
        x = cv2.resize(image, (SIZE, SIZE), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
        self._it.set_tensor(self._in, x[None])
        self._it.invoke()
        p = self._it.get_tensor(self._out)[0, :, :, 0]
        return cv2.resize(p, (w, h), interpolation=cv2.INTER_LINEAR)

    def person_mask(self, equirect: np.ndarray, box: Box, margin: float = 0.15) -> np.ndarray:
        """bool (H, W) equirect mask of the person inside `box` (equirect pixels, x1 may exceed W).

        The view looks at the box centre with a field of view 1.6× the box's larger angular side, so the
        whole person and some background are in it; pixels outside the box (grown by `margin`) are
        dropped, so a neighbour in the same view is not taken along.
        """
        H, W = equirect.shape[:2]
        cx, cy = (box.x0 + box.x1) / 2 % W, (box.y0 + box.y1) / 2
        yaw, pitch = cx / W * 360.0 - 180.0, 90.0 - cy / H * 180.0
        ang = max((box.x1 - box.x0) / W * 360.0, (box.y1 - box.y0) / H * 180.0)
        view = PerspectiveView(yaw, float(np.clip(pitch, -89.0, 89.0)), float(np.clip(1.6 * ang, 15.0, 150.0)),
                               (SIZE, SIZE), (H, W))
        m = self.probability(view.render(equirect)) > self.threshold
        bw, bh = box.x1 - box.x0, box.y1 - box.y0
        grown = Box(box.x0 - margin * bw, box.y0 - margin * bh, box.x1 + margin * bw, box.y1 + margin * bh)
        return view.mask_to_equirect(m) & box_mask(grown, H, W)


def box_mask(box: Box, h: int, w: int) -> np.ndarray:
    """bool (h, w) mask of an equirect box whose x range may run past W (or below 0) across the seam."""
    m = np.zeros((h, w), bool)
    y0, y1 = max(0, int(np.floor(box.y0))), min(h, int(np.ceil(box.y1)))
    x0, x1 = int(np.floor(box.x0)), int(np.ceil(box.x1))
    if y1 <= y0 or x1 <= x0:
        return m
    m[y0:y1, np.arange(x0, min(x1, x0 + w)) % w] = True
    return m
