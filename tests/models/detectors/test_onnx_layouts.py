"""User ONNX detectors in the three layouts: graphs built with the `onnx` helper API whose outputs hold
boxes placed at known anchors among random-weight noise, decoded back exactly (in image coordinates,
through the layout's letterbox), then merged across a cube edge."""

from __future__ import annotations

import numpy as np
import pytest

from ego360.core.errors import ModelError

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from ego360.models.detectors.onnx_layouts import OnnxDetector, yolox_grids  # noqa: E402

SIZE = 64
RNG = np.random.default_rng(0)


def _graph(path, outputs: dict[str, np.ndarray]) -> str:
    """image (1, 3, 64, 64) → each named constant output (+ 0 · mean(image), so the input is used)."""
    nodes = [helper.make_node("ReduceMean", ["images"], ["m"], keepdims=1),
             helper.make_node("Mul", ["m", "zero"], ["z"])]
    inits = [numpy_helper.from_array(np.zeros((1, 1, 1, 1), np.float32), "zero")]
    outs = []
    for name, value in outputs.items():
        inits.append(numpy_helper.from_array(value.astype(np.float32), f"{name}_c"))
        nodes.append(helper.make_node("Reshape", ["z", f"{name}_s"], [f"{name}_z"]))
        inits.append(numpy_helper.from_array(np.array([1] * value.ndim, np.int64), f"{name}_s"))
        nodes.append(helper.make_node("Add", [f"{name}_c", f"{name}_z"], [name]))
        outs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(value.shape)))
    g = helper.make_graph(nodes, "det", [helper.make_tensor_value_info("images", TensorProto.FLOAT,
                                                                       [1, 3, SIZE, SIZE])], outs, inits)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    p = str(path / "det.onnx")
    onnx.save(model, p)
    return p


# Two known boxes in model-input pixels (x0 y0 x1 y1) and their classes (COCO ids: 0 person, 2 car).
KNOWN = [(np.array([10.0, 8.0, 26.0, 50.0]), 0, 0.9), (np.array([30.0, 20.0, 62.0, 40.0]), 2, 0.8)]


def _yolox(tmp_path) -> str:
    grid, stride = yolox_grids(SIZE)
    out = np.zeros((1, len(grid), 85))
    out[0, :, :4] = RNG.uniform(-1, 1, (len(grid), 4))
    out[0, :, 4] = RNG.uniform(0, 0.2, len(grid))  # random low objectness everywhere
    out[0, :, 5:] = RNG.uniform(0, 1, (len(grid), 80))
    for (b, c, s), k in zip(KNOWN, (5, 70), strict=True):  # a stride-8 and a stride-16 anchor
        cx, cy, w, h = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2, b[2] - b[0], b[3] - b[1]
        out[0, k, :4] = [cx / stride[k] - grid[k, 0], cy / stride[k] - grid[k, 1], np.log(w / stride[k]),
                         np.log(h / stride[k])]
        out[0, k, 4], out[0, k, 5:] = 1.0, 0.0
        out[0, k, 5 + c] = s
    return _graph(tmp_path, {"output": out})


def _yolo(tmp_path) -> str:
    n = 50
    out = np.zeros((1, 84, n))
    out[0, :4] = RNG.uniform(0, SIZE, (4, n))
    out[0, 4:] = RNG.uniform(0, 0.3, (80, n))
    for (b, c, s), k in zip(KNOWN, (3, 41), strict=True):
        out[0, :4, k] = [(b[0] + b[2]) / 2, (b[1] + b[3]) / 2, b[2] - b[0], b[3] - b[1]]
        out[0, 4:, k] = 0.0
        out[0, 4 + c, k] = s
    return _graph(tmp_path, {"output0": out})


def _detr(tmp_path) -> str:
    q = 30
    boxes = RNG.uniform(0.2, 0.5, (1, q, 4))
    logits = RNG.uniform(-9, -3, (1, q, 80))
    for (b, c, s), k in zip(KNOWN, (7, 19), strict=True):
        boxes[0, k] = [(b[0] + b[2]) / 2 / SIZE, (b[1] + b[3]) / 2 / SIZE, (b[2] - b[0]) / SIZE, (b[3] - b[1]) / SIZE]
        logits[0, k, c] = np.log(s / (1 - s))
    return _graph(tmp_path, {"logits": logits, "boxes": boxes})


@pytest.mark.parametrize("layout,build", [("yolox", _yolox), ("yolo", _yolo), ("detr", _detr)])
def test_known_boxes_decode_exactly_in_image_coordinates(tmp_path, layout, build):
    det = OnnxDetector(build(tmp_path), layout, min_score=0.5)
    assert det.size == SIZE
    img = np.full((96, 96, 3), 128, np.uint8)  # square: the letterbox is a pure scale
    found = sorted(det.detect(img), key=lambda r: r.label)
    assert [(r.label, r.kind) for r in found] == [("car", "vehicle"), ("person", "person")]
    for r in found:
        b, _c, s = KNOWN[0] if r.label == "person" else KNOWN[1]
        assert np.allclose([r.x0, r.y0, r.x1, r.y1], b / SIZE, atol=1e-4), (layout, r)
        assert r.score == pytest.approx(s, abs=1e-4)


def test_class_map_from_config_and_letterboxed_non_square_input(tmp_path):
    det = OnnxDetector(_yolo(tmp_path), "yolo", classes="pedestrian,bike,dog", min_score=0.5)
    img = np.zeros((48, 96, 3), np.uint8)  # 2:1 → scale 64/96, centred with 16 px bands top and bottom
    r = next(r for r in det.detect(img) if r.label == "pedestrian")
    b = KNOWN[0][0]
    assert np.allclose([r.x0, r.y0, r.x1, r.y1], [b[0] / SIZE, (b[1] - 16) / 32, b[2] / SIZE, (b[3] - 16) / 32],
                       atol=1e-4)
    assert next(x for x in det.detect(img) if x.label == "dog").kind == "animal"


def test_boxes_at_a_face_edge_merge_into_one_detection_per_edge(tmp_path):
    """The same graph answers on every face; a box on each face's right edge and one on its left edge
    (same rows) meet at the four side-face edges: four detections at ±45°, ±135°."""
    from ego360.models.detectors.cube import CubeFaceDetector

    out = np.zeros((1, 84, 2))
    out[0, :4, 0] = [58.0, 32.0, 12.0, 40.0]  # x 52..64: the right edge
    out[0, :4, 1] = [6.0, 32.0, 12.0, 40.0]  # x 0..12: the left edge
    out[0, 4, :] = 0.9
    det = OnnxDetector(_graph(tmp_path, {"output0": out}), "yolo", min_score=0.5)
    cube = CubeFaceDetector(det, (240, 480), SIZE)
    ds = cube.detect(np.zeros((240, 480, 3), np.uint8), 0)
    assert len(ds) == 4 and all(len(d.faces) == 2 for d in ds)
    assert sorted(round(d.bearing_deg) for d in ds) == [-135, -45, 45, 135]


def test_bad_files_and_layouts_are_one_line_model_errors(tmp_path):
    with pytest.raises(ModelError, match="detector.onnx_path"):
        OnnxDetector(str(tmp_path / "missing.onnx"), "yolo")
    with pytest.raises(ModelError, match="layout"):
        OnnxDetector(_yolo(tmp_path), "ssd")
    (tmp_path / "junk.onnx").write_bytes(b"not onnx")
    with pytest.raises(ModelError, match="cannot load") as e:
        OnnxDetector(str(tmp_path / "junk.onnx"), "yolo")
    assert "\n" not in str(e.value)
