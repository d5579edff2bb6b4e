"""What every detector backend returns, and the pieces they share: kinds, letterbox, NMS.

Backends see one perspective image (a cube face or a follow view) and answer in *normalised image
coordinates* ([0, 1] × [0, 1] of that image), so the cube geometry lives in one place (`cube.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

KINDS: tuple[str, ...] = ("person", "vehicle", "bicycle", "animal", "object")

# COCO-80 class names → the kinds the runtime speaks about. Anything not listed is an "object".
_COCO_KIND = {
    "person": "person", "bicycle": "bicycle", "motorcycle": "bicycle", "car": "vehicle", "bus": "vehicle",
    "truck": "vehicle", "train": "vehicle", "boat": "vehicle", "airplane": "vehicle",
    **dict.fromkeys(("bird", "cat", "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe"),
                    "animal"),
}
COCO80: tuple[str, ...] = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
    "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
    "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
    "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
    "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors", "teddy bear",
    "hair drier", "toothbrush",
)


def kind_of_label(label: str) -> str:
    """A detector's class name → one of KINDS (a kind name is its own kind)."""
    name = label.strip().lower()
    if name in KINDS:
        return name
    return _COCO_KIND.get(name, "object")


@dataclass(frozen=True)
class RawDetection:
    """One box on one perspective image, normalised to [0, 1]; `foot` is the ground-contact point
    (x, y) when the model knows it better than the box bottom (BlazePose's body circle)."""

    x0: float
    y0: float
    x1: float
    y1: float
    score: float
    label: str
    foot: tuple[float, float] | None = None

    @property
    def kind(self) -> str:
        return kind_of_label(self.label)


class ImageDetector(Protocol):
    """A trained detector for square-ish perspective images (RGB uint8)."""

    name: str

    def detect(self, image: np.ndarray) -> list[RawDetection]:
        """Detections on one image, after the backend's own NMS."""


@dataclass(frozen=True)
class Letterbox:
    """Where an image sits inside the square model input: scale and padding in input pixels."""

    scale: float
    pad_x: float
    pad_y: float
    size: int

    def to_image(self, x: np.ndarray, y: np.ndarray, w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
        """Model-input pixel coordinates → normalised image coordinates."""
        return (x - self.pad_x) / self.scale / w, (y - self.pad_y) / self.scale / h


def letterbox(image: np.ndarray, size: int) -> tuple[np.ndarray, Letterbox]:
    """Resize keeping the aspect ratio, centred on a zero border (as MediaPipe's ImageToTensor FIT)."""
    h, w = image.shape[:2]
    s = size / max(h, w)
    nw, nh = max(1, round(w * s)), max(1, round(h * s))
    interp = cv2.INTER_AREA if s < 1.0 else cv2.INTER_LINEAR
    small = cv2.resize(image, (nw, nh), interpolation=interp)
    px, py = (size - nw) // 2, (size - nh) // 2
    out = np.zeros((size, size, 3), np.uint8)
    out[py:py + nh, px:px + nw] = small
    return out, Letterbox(s, float(px), float(py), size)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of one box (4,) against boxes (n, 4), all as x0 y0 x1 y1."""
    ix = np.clip(np.minimum(a[2], b[:, 2]) - np.maximum(a[0], b[:, 0]), 0, None)
    iy = np.clip(np.minimum(a[3], b[:, 3]) - np.maximum(a[1], b[:, 1]), 0, None)
    inter = ix * iy
    area = lambda r: np.clip(r[..., 2] - r[..., 0], 0, None) * np.clip(r[..., 3] - r[..., 1], 0, None)  # noqa: E731
    union = area(a) + area(b) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_thresh: float, weighted: bool = False,
        extra: np.ndarray | None = None) -> list[tuple[int, np.ndarray, np.ndarray | None]]:
    """Non-maximum suppression, highest score first: (index of the kept box, box, extra values).

    `weighted` averages every suppressed box (and its `extra` values, e.g. keypoints) into the kept
    one by score, as MediaPipe's WEIGHTED algorithm does; the kept score stays the top score.
    """
    order = list(np.argsort(-scores, kind="stable"))
    out = []
    while order:
        top = order[0]
        idx = np.asarray(order)
        ious = box_iou(boxes[top], boxes[idx])
        group = idx[ious > iou_thresh]
        if top not in group:
            group = np.concatenate([[top], group])
        if weighted and group.size > 1:
            wts = scores[group] / scores[group].sum()
            box = (boxes[group] * wts[:, None]).sum(axis=0)
            ext = None if extra is None else (extra[group] * wts[:, None]).sum(axis=0)
        else:
            box, ext = boxes[top].copy(), None if extra is None else extra[top].copy()
        out.append((int(top), box, ext))
        gone = set(group.tolist())
        order = [i for i in order if i not in gone]
    return out
