"""The engine builder's TensorRT 10 / 11 dispatch, driven by fake `tensorrt` modules that record what the
builder asks for: strongly typed networks on both (the STRONGLY_TYPED creation flag on 10.x, the default
on 11.x) with no FP16/INT8 builder flags and no calibrator; the weakly-typed calibrator path on 10.x only;
one-line errors naming the installed version and what to install where something is missing."""

from __future__ import annotations

import types

import pytest

from ego360.core.errors import ModelError
from ego360.export import trt_build as B

STRONGLY_TYPED = 5


def fake_trt(version: str, weak: bool = True, strongly_typed_flag: bool = True):
    calls: list[tuple] = []

    class Config:
        def __setattr__(self, name, value):
            calls.append(("config." + name, value))
            object.__setattr__(self, name, value)

        def set_flag(self, flag):
            calls.append(("set_flag", flag))

        def clear_flag(self, flag):
            calls.append(("clear_flag", flag))

        def set_memory_pool_limit(self, pool, size):
            pass

        def create_timing_cache(self, data):
            return object()

        def set_timing_cache(self, cache, ignore_mismatch):
            pass

        def get_timing_cache(self):
            return types.SimpleNamespace(serialize=lambda: b"cache")

        def add_optimization_profile(self, prof):
            calls.append(("profile", dict(prof.shapes)))

        def set_calibration_profile(self, prof):
            calls.append(("set_calibration_profile",))

    class Profile:
        def __init__(self):
            self.shapes = {}

        def set_shape(self, name, lo, opt, hi):
            self.shapes[name] = (lo, opt, hi)

    class Network:
        num_layers = 0

    class Builder:
        def __init__(self, logger):
            pass

        def create_network(self, flags):
            calls.append(("create_network", flags))
            return Network()

        def create_builder_config(self):
            return Config()

        def create_optimization_profile(self):
            return Profile()

        def build_serialized_network(self, network, config):
            return b"engine"

    class OnnxParser:
        def __init__(self, network, logger):
            self.num_errors = 0

        def parse_from_file(self, path):
            calls.append(("parse", path.rsplit("/", 1)[-1]))
            return True

    flags = {"TF32": 7}
    if weak:
        flags.update(FP16=0, INT8=1, OBEY_PRECISION_CONSTRAINTS=2)
    trt = types.SimpleNamespace(
        __version__=version, Builder=Builder, OnnxParser=OnnxParser, BuilderFlag=types.SimpleNamespace(**flags),
        float32="float32", float16="float16",
        Logger=type("Logger", (), {"WARNING": 2, "__init__": lambda self, level: None}),
        MemoryPoolType=types.SimpleNamespace(WORKSPACE=0),
        NetworkDefinitionCreationFlag=types.SimpleNamespace(
            **({"STRONGLY_TYPED": STRONGLY_TYPED} if strongly_typed_flag else {})),
    )
    if weak:
        trt.IInt8EntropyCalibrator2 = object
    return trt, calls


@pytest.fixture
def graphs(tmp_path):
    """A plain graph and a Q/DQ graph (what `export sam2 --precision int8` writes), tiny."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    plain = helper.make_model(helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y]))
    scale = helper.make_tensor("s", TensorProto.FLOAT, [], [0.1])
    zero = helper.make_tensor("z", TensorProto.INT8, [], [0])
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"]),
             helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"])]
    qdq = helper.make_model(helper.make_graph(nodes, "g", [x], [y], initializer=[scale, zero]))
    onnx.save(plain, tmp_path / "image_encoder.onnx")
    onnx.save(qdq, tmp_path / "image_encoder.int8.onnx")
    return tmp_path


def _build(trt, path, precision, **kw):
    return B.build_engine(path, path.parent / "out.engine", precision, [{"x": ((1, 4), (1, 4), (1, 4))}], trt=trt, **kw)


@pytest.mark.parametrize("version,flags", [("10.3.0", 1 << STRONGLY_TYPED), ("10.16.1", 1 << STRONGLY_TYPED),
                                           ("11.4.1", 0)])
@pytest.mark.parametrize("precision,graph", [("fp16", "image_encoder.onnx"), ("int8", "image_encoder.int8.onnx")])
def test_typed_build_asks_for_no_precision_flags_and_no_calibrator(graphs, version, flags, precision, graph):
    trt, calls = fake_trt(version, weak=version.startswith("10"), strongly_typed_flag=version.startswith("10"))
    built = _build(trt, graphs / graph, precision)
    assert ("create_network", flags) in calls
    assert not [c for c in calls if c[0] in ("set_flag", "config.int8_calibrator", "set_calibration_profile")]
    assert ("parse", graph) in calls
    assert built.precision == precision and (graphs / "out.engine").read_bytes() == b"engine"


def test_fp32_reference_clears_tf32_on_both_versions(graphs):
    for version in ("10.3.0", "11.4.1"):
        trt, calls = fake_trt(version, weak=version.startswith("10"))
        _build(trt, graphs / "image_encoder.onnx", "fp32")
        assert ("clear_flag", 7) in calls and not [c for c in calls if c[0] == "set_flag"]


def test_weakly_typed_int8_with_calibrator_on_tensorrt_10(graphs):
    trt, calls = fake_trt("10.3.0")
    calibrator = object()
    built = _build(trt, graphs / "image_encoder.onnx", "int8", calibrator=calibrator)
    assert ("create_network", 0) in calls
    assert [c[1] for c in calls if c[0] == "set_flag"] == [0, 1, 2]  # FP16, INT8, OBEY_PRECISION_CONSTRAINTS
    assert ("config.int8_calibrator", calibrator) in calls and ("set_calibration_profile",) in calls
    assert built.precision == "int8"


def test_weakly_typed_path_on_tensorrt_11_names_version_and_fix(graphs):
    trt, calls = fake_trt("11.4.1", weak=False, strongly_typed_flag=False)
    fix = r"TensorRT 11\.4\.1 has no weakly-typed.*--precision fp16\|int8.*tensorrt>=10,<11"
    with pytest.raises(ModelError, match=fix):
        _build(trt, graphs / "image_encoder.onnx", "int8", calibrator=object())
    assert calls == []  # refused before anything was built


def test_unsupported_or_incomplete_tensorrt_is_one_line(graphs):
    trt, _ = fake_trt("8.6.1")
    with pytest.raises(ModelError, match=r"TensorRT 8\.6\.1 is installed; .*pip install 'tensorrt>=10,<12'"):
        _build(trt, graphs / "image_encoder.onnx", "fp16")
    trt, _ = fake_trt("10.0.1", strongly_typed_flag=False)
    with pytest.raises(ModelError, match=r"TensorRT 10\.0\.1 lacks NetworkDefinitionCreationFlag\.STRONGLY_TYPED"):
        _build(trt, graphs / "image_encoder.onnx", "fp16")


def test_typed_int8_needs_a_qdq_graph(graphs):
    trt, calls = fake_trt("11.4.1", weak=False)
    with pytest.raises(ModelError, match="--precision int8 --calibration DIR"):
        _build(trt, graphs / "image_encoder.onnx", "int8")
    assert calls == []


def test_engines_take_the_graph_that_carries_their_precision(graphs):
    assert B.typed_graph(graphs, "image_encoder", "int8").name == "image_encoder.int8.onnx"
    assert B.typed_graph(graphs, "image_encoder", "fp32").name == "image_encoder.onnx"
    assert B.typed_graph(graphs, "image_encoder", "fp16") is None  # → weakly typed, TensorRT 10 only
