"""The shipped person detector: MediaPipe's BlazePose detector (`pose_detection.tflite`, Apache-2.0).

Why this one: it is a trained person detector that ships inside the `mediapipe` 0.10.21 wheel, runs in
~10 ms per 224×224 input on one CPU core through the LiteRT interpreter, and so gives every install a
real "is this a person" answer without downloading weights at run time. `scripts/setup.sh` takes the
file out of the wheel into `.models/mediapipe/` and checks its sha256 (`mediapipe_models.sha256`).

The decoding follows the options of MediaPipe's pose-detection graph (SSD anchors: 5 layers, strides
8 16 32 32 32, scales 0.1484375..0.75, one aspect ratio plus the interpolated scale, fixed anchor size;
12 values per anchor: box centre/size then 4 keypoints, x before y, in input pixels; sigmoid scores;
weighted NMS at IoU 0.3). The model's box is the *face*; keypoint 0 is the mid-hip and keypoint 1
sets the radius of the circle around the whole body, which gives the body box and the foot point.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ego360.core.errors import ModelError
from ego360.models.detectors.base import RawDetection, letterbox, nms

INPUT = 224
SETUP_HINT = "run scripts/setup.sh (it extracts the MediaPipe models into .models/mediapipe/)"
MANIFEST = Path(__file__).with_name("mediapipe_models.sha256")


@dataclass(frozen=True)
class AnchorOptions:
    """MediaPipe's SsdAnchorsCalculator options (only the ones the pose detector uses)."""

    num_layers: int = 5
    min_scale: float = 0.1484375
    max_scale: float = 0.75
    input_size: int = INPUT
    strides: tuple[int, ...] = (8, 16, 32, 32, 32)
    offset: float = 0.5
    aspect_ratios: tuple[float, ...] = (1.0,)
    interpolated_scale_aspect_ratio: float = 1.0


@lru_cache(maxsize=4)
def ssd_anchors(opts: AnchorOptions = AnchorOptions()) -> np.ndarray:
    """(n, 2) anchor centres (x, y) in [0, 1], in the model's output order.

    Consecutive layers with the same stride share one feature map; each layer adds one anchor per
    aspect ratio plus one at the interpolated scale. With a fixed anchor size only the centres (and the
    count per cell) matter: widths and heights are all 1.
    """
    out = []
    layer = 0
    n = len(opts.strides)
    while layer < n:
        per_cell = 0
        last = layer
        while last < n and opts.strides[last] == opts.strides[layer]:
            per_cell += len(opts.aspect_ratios) + (1 if opts.interpolated_scale_aspect_ratio > 0 else 0)
            last += 1
        fm = math.ceil(opts.input_size / opts.strides[layer])
        ys, xs = np.meshgrid((np.arange(fm) + opts.offset) / fm, (np.arange(fm) + opts.offset) / fm, indexing="ij")
        cells = np.stack([xs.ravel(), ys.ravel()], axis=1)
        out.append(np.repeat(cells, per_cell, axis=0))
        layer = last
    return np.concatenate(out).astype(np.float64)


def decode(raw: np.ndarray, scores: np.ndarray, anchors: np.ndarray, min_score: float, iou: float = 0.3,
           size: int = INPUT) -> list[tuple[float, np.ndarray, np.ndarray]]:
    """Raw model outputs → [(score, face box x0 y0 x1 y1, keypoints (4, 2))] in input-normalised units.

    raw: (n, 12) = x, y, w, h of the face box, then 4 keypoints (x, y), all in input pixels relative to
    the anchor centre; scores: (n,) logits.
    """
    raw = np.asarray(raw, np.float64).reshape(len(anchors), -1)
    s = 1.0 / (1.0 + np.exp(-np.clip(np.asarray(scores, np.float64).reshape(-1), -100.0, 100.0)))
    keep = np.flatnonzero(s >= min_score)
    if keep.size == 0:
        return []
    r, a = raw[keep] / size, anchors[keep]
    cx, cy = r[:, 0] + a[:, 0], r[:, 1] + a[:, 1]
    boxes = np.stack([cx - r[:, 2] / 2, cy - r[:, 3] / 2, cx + r[:, 2] / 2, cy + r[:, 3] / 2], axis=1)
    kps = r[:, 4:12].reshape(-1, 4, 2) + a[:, None, :]
    merged = nms(boxes, s[keep], iou, weighted=True, extra=kps.reshape(-1, 8))
    return [(float(s[keep][i]), box, ext.reshape(4, 2)) for i, box, ext in merged]


def body_box(face: np.ndarray, kps: np.ndarray) -> tuple[tuple[float, float, float, float], tuple[float, float]]:
    """Body box and foot point from the face box and the hip/body-circle keypoints.

    The circle centred on the mid-hip through keypoint 1 circumscribes the whole body, so the body
    runs from the circle's top to its bottom (the feet, for an upright person); its width is a third of
    that height (an upright adult), widened to hold the face box.
    """
    hip = kps[0]
    r = float(np.hypot(*(kps[1] - kps[0])))
    y0, y1 = min(hip[1] - r, face[1]), max(hip[1] + r, face[3])
    half_w = max(r / 3.0, (face[2] - face[0]) / 2.0)
    x0, x1 = min(hip[0] - half_w, face[0]), max(hip[0] + half_w, face[2])
    return (float(x0), float(y0), float(x1), float(y1)), (float(hip[0]), float(hip[1] + r))


def check_models(model_dir: str | Path, names: tuple[str, ...]) -> dict[str, Path]:
    """The model files, checked against the manifest's sha256; a missing or changed file → ModelError."""
    d = Path(model_dir)
    sums = {}
    for line in MANIFEST.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            digest, name = line.split()
            sums[Path(name).name] = digest
    out = {}
    for name in names:
        p = d / name
        if not p.is_file():
            raise ModelError(f"detector model {p} is missing; {SETUP_HINT} or set detector.model_dir")
        if _sha256(p) != sums[name]:
            raise ModelError(f"detector model {p} does not match its sha256 in {MANIFEST.name}; {SETUP_HINT}")
        out[name] = p
    return out


@lru_cache(maxsize=8)
def _sha256_cached(path: str, mtime: float, size: int) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _sha256(p: Path) -> str:
    st = p.stat()
    return _sha256_cached(str(p), st.st_mtime, st.st_size)


def litert_interpreter(path: Path, threads: int) -> Any:
    """A LiteRT interpreter for a .tflite file (ai-edge-litert; imported only when a model is used)."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        raise ModelError("the tflite detector needs ai-edge-litert; pip install 'ego360[detect]' "
                         "(scripts/setup.sh installs it)") from None
    it = Interpreter(model_path=str(path), num_threads=max(1, int(threads)))
    it.allocate_tensors()
    return it


class BlazePoseDetector:
    """`ImageDetector` for people: letterbox to 224², run, decode with SSD anchors, weighted NMS.

    Not thread-safe (one interpreter); the detection service calls it from its one worker thread.
    """

    name = "blazepose"

    def __init__(self, model_dir: str | Path, min_score: float = 0.5, threads: int = 1):
        path = check_models(model_dir, ("pose_detection.tflite",))["pose_detection.tflite"]
        self.min_score = float(min_score)
        self._it = litert_interpreter(path, threads)
        inp = self._it.get_input_details()[0]
        if tuple(inp["shape"]) != (1, INPUT, INPUT, 3):
            raise ModelError(f"{path} takes input {tuple(inp['shape'])}, expected (1, 224, 224, 3); {SETUP_HINT}")
        self._in = inp["index"]
        outs = sorted(self._it.get_output_details(), key=lambda d: -int(d["shape"][-1]))
        self._boxes, self._scores = outs[0]["index"], outs[1]["index"]
        self._anchors = ssd_anchors()

    def run(self, tensor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Raw outputs for a (224, 224, 3) float32 input in [-1, 1]: ((2254, 12), (2254,))."""
        self._it.set_tensor(self._in, tensor[None].astype(np.float32))
        self._it.invoke()
        return self._it.get_tensor(self._boxes)[0], self._it.get_tensor(self._scores)[0, :, 0]

    def detect(self, image: np.ndarray) -> list[RawDetection]:
        h, w = image.shape[:2]
        boxed, lb = letterbox(image, INPUT)
        raw, scores = self.run(boxed.astype(np.float32) / 127.5 - 1.0)
        out = []
        for score, face, kps in decode(raw, scores, self._anchors, self.min_score):
            (x0, y0, x1, y1), (fx, fy) = body_box(face * INPUT, kps * INPUT)
            xs, ys = lb.to_image(np.array([x0, x1, fx]), np.array([y0, y1, fy]), w, h)
            out.append(RawDetection(float(xs[0]), float(ys[0]), float(xs[1]), float(ys[1]), score, "person",
                                    (float(xs[2]), float(ys[2]))))
        return out
