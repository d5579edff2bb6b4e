"""User detectors as ONNX, in the three common open layouts: YOLOX, YOLOv8-style, RT-DETR / D-FINE.

Why layouts, not models: a user with a GPU brings their own Apache-2.0 weights; what differs between
releases is only how the output tensor is laid out and how the input is prepared, so each layout is a
pure decoding function (tested exactly on graphs built with known boxes) plus its preprocessing.
All decoders answer (boxes x0 y0 x1 y1 in model-input pixels, scores, class ids).

- `onnx-yolox`: (1, N, 5 + C) raw head output of the YOLOX export (decode_in_inference off): per
  anchor of the stride-8/16/32 grids, x y offsets and log w h in stride units, then objectness and
  class probabilities (already sigmoid); input BGR 0..255, letterboxed at the top left on 114.
- `onnx-yolo`: (1, 4 + C, N) of the YOLOv8-style anchor-free heads: centre x y, w h in input pixels,
  then class probabilities; input RGB 0..1, letterboxed in the centre on 114.
- `onnx-detr`: two outputs, boxes (1, Q, 4) centre x y w h normalised to [0, 1] and class logits
  (1, Q, C) (sigmoid, no NMS needed: one query per object); input RGB 0..1 resized to the input size.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ego360.core.errors import ModelError
from ego360.models.detectors.base import COCO80, RawDetection, nms

LAYOUTS = ("yolox", "yolo", "detr")
Decoded = tuple[np.ndarray, np.ndarray, np.ndarray]


def _cxcywh(b: np.ndarray) -> np.ndarray:
    return np.stack([b[:, 0] - b[:, 2] / 2, b[:, 1] - b[:, 3] / 2, b[:, 0] + b[:, 2] / 2, b[:, 1] + b[:, 3] / 2], 1)


def yolox_grids(size: int, strides: tuple[int, ...] = (8, 16, 32)) -> tuple[np.ndarray, np.ndarray]:
    """(n, 2) grid cell (x, y) and (n,) stride for every YOLOX anchor, in its output order (row-major per stride)."""
    cells, strd = [], []
    for s in strides:
        n = size // s
        ys, xs = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        cells.append(np.stack([xs.ravel(), ys.ravel()], 1))
        strd.append(np.full(n * n, s))
    return np.concatenate(cells).astype(np.float64), np.concatenate(strd).astype(np.float64)


def decode_yolox(out: np.ndarray, size: int, min_score: float) -> Decoded:
    p = np.asarray(out, np.float64).reshape(-1, out.shape[-1])
    grid, stride = yolox_grids(size)
    if len(grid) != len(p):
        raise ModelError(f"YOLOX output has {len(p)} anchors but a {size}² input has {len(grid)} "
                         "(strides 8/16/32); export with decode_in_inference off, or choose another layout")
    cls = p[:, 5:]
    ids = np.argmax(cls, 1)
    scores = p[:, 4] * cls[np.arange(len(p)), ids]
    keep = scores >= min_score
    xy = (p[keep, :2] + grid[keep]) * stride[keep, None]
    wh = np.exp(np.clip(p[keep, 2:4], -20, 20)) * stride[keep, None]
    return _cxcywh(np.concatenate([xy, wh], 1)), scores[keep], ids[keep]


def decode_yolo(out: np.ndarray, size: int, min_score: float) -> Decoded:
    p = np.asarray(out, np.float64)[0].T  # (N, 4 + C)
    cls = p[:, 4:]
    ids = np.argmax(cls, 1)
    scores = cls[np.arange(len(p)), ids]
    keep = scores >= min_score
    return _cxcywh(p[keep, :4]), scores[keep], ids[keep]


def decode_detr(boxes: np.ndarray, logits: np.ndarray, size: int, min_score: float) -> Decoded:
    b = np.asarray(boxes, np.float64)[0]
    prob = 1.0 / (1.0 + np.exp(-np.clip(np.asarray(logits, np.float64)[0], -50, 50)))
    ids = np.argmax(prob, 1)
    scores = prob[np.arange(len(prob)), ids]
    keep = scores >= min_score
    return _cxcywh(b[keep]) * size, scores[keep], ids[keep]


def class_names(spec: str) -> tuple[str, ...]:
    """`detector.classes`: comma-separated names in class-id order; empty → COCO-80."""
    names = tuple(n.strip() for n in spec.split(",") if n.strip())
    return names or COCO80


def prepare(image: np.ndarray, layout: str, size: int) -> tuple[np.ndarray, float, float, float]:
    """(NCHW float32 input, scale, pad_x, pad_y) for one RGB uint8 image."""
    h, w = image.shape[:2]
    if layout == "detr":
        x = cv2.resize(image, (size, size), interpolation=cv2.INTER_LINEAR).astype(np.float32) / 255.0
        return x.transpose(2, 0, 1)[None], -1.0, 0.0, 0.0  # scale < 0: stretched, not letterboxed
    s = size / max(h, w)
    nw, nh = max(1, round(w * s)), max(1, round(h * s))
    small = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    px, py = (0, 0) if layout == "yolox" else ((size - nw) // 2, (size - nh) // 2)
    canvas = np.full((size, size, 3), 114, np.uint8)
    canvas[py:py + nh, px:px + nw] = small
    if layout == "yolox":
        x = canvas[..., ::-1].astype(np.float32)  # BGR, 0..255
    else:
        x = canvas.astype(np.float32) / 255.0
    return np.ascontiguousarray(x.transpose(2, 0, 1))[None], s, float(px), float(py)


def to_raw(decoded: Decoded, names: tuple[str, ...], size: int, w: int, h: int, scale: float, px: float, py: float,
           iou: float, nms_needed: bool) -> list[RawDetection]:
    """Model-input boxes → normalised image boxes with class names, after per-class NMS."""
    boxes, scores, ids = decoded
    out = []
    for c in np.unique(ids):
        sel = np.flatnonzero(ids == c)
        kept = nms(boxes[sel], scores[sel], iou) if nms_needed else [(i, boxes[sel][i], None) for i in range(len(sel))]
        for i, b, _ in kept:
            if scale < 0:
                x0, x1, y0, y1 = b[0] / size, b[2] / size, b[1] / size, b[3] / size
            else:
                x0, x1 = (b[0] - px) / scale / w, (b[2] - px) / scale / w
                y0, y1 = (b[1] - py) / scale / h, (b[3] - py) / scale / h
            name = names[int(c)] if int(c) < len(names) else f"class{int(c)}"
            out.append(RawDetection(float(x0), float(y0), float(x1), float(y1), float(scores[sel][i]), name))
    return sorted(out, key=lambda r: -r.score)


class OnnxDetector:
    """`ImageDetector` for an ONNX detector in one of LAYOUTS, on ONNX Runtime."""

    def __init__(self, path: str | Path, layout: str, classes: str = "", min_score: float = 0.5, iou: float = 0.45,
                 providers: str = "cpu"):
        if layout not in LAYOUTS:
            raise ModelError(f"unknown ONNX detector layout {layout!r}; choose one of {', '.join(LAYOUTS)}")
        p = Path(path)
        if not path or not p.is_file():
            raise ModelError(f"detector ONNX file {str(path)!r} not found; set detector.onnx_path to your model")
        import onnxruntime as ort

        want = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider", "tensorrt": "TensorrtExecutionProvider"}
        provs = [want.get(x.strip(), x.strip()) for x in providers.split(",") if x.strip()] or ["CPUExecutionProvider"]
        try:
            self._sess: Any = ort.InferenceSession(str(p), providers=provs)
        except Exception as exc:  # onnxruntime raises its own types for bad files
            raise ModelError(f"cannot load detector {p}: {str(exc).splitlines()[0]}; check the file") from None
        inp = self._sess.get_inputs()[0]
        dims = [d for d in inp.shape[2:] if isinstance(d, int)]
        self.size = int(dims[0]) if dims else 640
        self._input = inp.name
        self.layout, self.names = layout, class_names(classes)
        self.min_score, self.iou = float(min_score), float(iou)
        self.name = f"onnx-{layout}"
        outs = self._sess.get_outputs()
        if layout == "detr":
            if len(outs) < 2:
                raise ModelError(f"{p}: the detr layout needs two outputs (boxes, logits); it has {len(outs)}")
            boxes = next((o.name for o in outs if o.shape and o.shape[-1] == 4), outs[0].name)
            self._outputs = [boxes, next(o.name for o in outs if o.name != boxes)]
        else:
            self._outputs = [outs[0].name]

    def decode(self, outputs: list[np.ndarray]) -> Decoded:
        if self.layout == "yolox":
            return decode_yolox(outputs[0], self.size, self.min_score)
        if self.layout == "yolo":
            return decode_yolo(outputs[0], self.size, self.min_score)
        return decode_detr(outputs[0], outputs[1], self.size, self.min_score)

    def detect(self, image: np.ndarray) -> list[RawDetection]:
        h, w = image.shape[:2]
        x, scale, px, py = prepare(image, self.layout, self.size)
        outputs = self._sess.run(self._outputs, {self._input: x})
        return to_raw(self.decode(outputs), self.names, self.size, w, h, scale, px, py, self.iou,
                      nms_needed=self.layout != "detr")
