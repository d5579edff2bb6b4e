"""Engine building without a GPU: profile shapes from `ego360.models.sam2.names`, the FP16-pinned layer selection,
and the engine manifest's checks against (fake) current environments. The build itself is `gpu`."""

from __future__ import annotations

import json
import shutil

import pytest

from ego360.core.errors import ConfigError, ModelError
from ego360.export import trt_build as B
from ego360.models.sam2 import names as N


def test_profile_shapes_cover_objects_and_memory_length():
    hw = 16 * 16
    ring = B.profile_shapes("memory_attention_ring", 256, max_objects=4)
    L = N.ring_length(256)
    assert L == 8 * hw + 17 * 4
    assert ring == {
        "curr": ((hw, 1, 256), (hw, 1, 256), (hw, 4, 256)),
        "curr_pos": ((hw, 1, 256), (hw, 1, 256), (hw, 4, 256)),
        "memory": ((L, 1, 64), (L, 1, 64), (L, 4, 64)),
        "memory_pos": ((L, 1, 64), (L, 1, 64), (L, 4, 64)),
        "memory_valid": ((1, L), (1, L), (4, L)),
    }
    var = B.profile_shapes("memory_attention", 256)
    assert var["memory"] == ((hw, 1, 64), (7 * hw + 64, 1, 64), (L, 1, 64))
    assert "curr" not in var and "num_obj_ptr_tokens" not in var  # static inputs need no profile
    pe = B.profile_shapes("prompt_encoder", 256, max_points=5)
    assert pe == {"point_coords": ((1, 1, 2), (1, 2, 2), (1, 5, 2)), "point_labels": ((1, 1), (1, 2), (1, 5))}
    assert B.profile_shapes("mask_decoder_single", 256, max_points=5)["sparse"] == (
        (1, 2, 256), (1, 3, 256), (1, 6, 256))
    assert B.profile_shapes("image_encoder", 256) == {}


def test_profile_min_opt_max_are_ordered_for_every_engine_graph():
    for size in (64, 256, 1024):
        for graph in B.ENGINE_GRAPHS:
            for name, (lo, opt, hi) in B.profile_shapes(graph, size).items():
                assert all(a <= b <= c for a, b, c in zip(lo, opt, hi, strict=True)), (graph, name)


def test_profile_errors():
    with pytest.raises(ConfigError, match="unknown graph 'decoder'"):
        B.profile_shapes("decoder", 256)
    with pytest.raises(ConfigError, match="max_objects"):
        B.profile_shapes("memory_attention_ring", 256, max_objects=0)


# layer names as TensorRT's ONNX parser gives them (node names of the exported graphs) and layer types
LAYERS = [
    ("/image_encoder/trunk/blocks.0/norm1/LayerNormalization", "NORMALIZATION"),
    ("/image_encoder/trunk/blocks.0/attn/Softmax", "SOFTMAX"),
    ("/image_encoder/trunk/blocks.0/Add", "ELEMENTWISE"),  # residual
    ("/image_encoder/trunk/blocks.0/Add_1", "ELEMENTWISE"),  # residual
    ("/image_encoder/trunk/blocks.0/attn/qkv/Add", "ELEMENTWISE"),  # Linear bias: stays INT8-fusable
    ("/image_encoder/trunk/Add", "ELEMENTWISE"),  # position embedding, not residual
    ("/image_encoder/trunk/blocks.0/attn/qkv/MatMul", "MATRIX_MULTIPLY"),
    ("/sam_mask_decoder/transformer/layers.1/Add_3", "ELEMENTWISE"),
    ("/Add_12", "ELEMENTWISE"),  # ring graph: top-level residual
    ("/self_attn_1/Softmax", "SOFTMAX"),
    ("/norm2_1/LayerNormalization", "NORMALIZATION"),
    ("/self_attn/Mul_3", "ELEMENTWISE"),
    ("/memory_encoder/fuser/layers.0/norm/ReduceMean", "REDUCE"),  # LayerNorm2d, decomposed
    ("/memory_encoder/fuser/layers.0/norm/Sqrt", "UNARY"),
    # LayerNorm2d in an unnamed Sequential slot: not recognisable by name (its Adds are not residual)
    ("/sam_mask_decoder/output_upscaling.1/ReduceMean", "REDUCE"),
    ("/memory_encoder/fuser/layers.0/dwconv/Conv", "CONVOLUTION"),
]


def test_layer_precision_selection_by_type_and_name():
    chosen = B.select_layer_precisions(LAYERS, B.rules_for(B.KEEP_FP16_DEFAULT))
    assert chosen == {name: "fp16" for name in (
        "/image_encoder/trunk/blocks.0/norm1/LayerNormalization", "/image_encoder/trunk/blocks.0/attn/Softmax",
        "/image_encoder/trunk/blocks.0/Add", "/image_encoder/trunk/blocks.0/Add_1",
        "/sam_mask_decoder/transformer/layers.1/Add_3", "/Add_12", "/self_attn_1/Softmax",
        "/norm2_1/LayerNormalization", "/memory_encoder/fuser/layers.0/norm/ReduceMean",
        "/memory_encoder/fuser/layers.0/norm/Sqrt")}
    only_softmax = B.select_layer_precisions(LAYERS, B.rules_for(["Softmax"]))
    assert list(only_softmax) == ["/image_encoder/trunk/blocks.0/attn/Softmax", "/self_attn_1/Softmax"]
    assert B.select_layer_precisions(LAYERS, ()) == {}
    with pytest.raises(ConfigError, match="valid: LayerNorm, Softmax, residual Add"):
        B.rules_for(["GELU"])


def test_custom_rule_first_match_wins():
    rules = (B.PrecisionRule("keep qkv fp32", frozenset({"MATRIX_MULTIPLY"}), r"attn/qkv", "fp32"),
             B.PrecisionRule("all", frozenset(), "", "fp16"))
    chosen = B.select_layer_precisions(LAYERS[:8], rules)
    assert chosen["/image_encoder/trunk/blocks.0/attn/qkv/MatMul"] == "fp32"
    assert set(chosen.values()) == {"fp16", "fp32"} and len(chosen) == 8


# ----------------------------------------------------------------- engine manifest
ENV = {"tensorrt": "10.3.0", "gpu": "NVIDIA H100 80GB HBM3", "compute_capability": "9.0"}


@pytest.fixture
def engine_dir(tmp_path):
    from ego360.models.sam2.trt_manifest import engine_entry, write_trt_manifest

    onnx_dir, eng = tmp_path / "onnx", tmp_path / "engines"
    onnx_dir.mkdir()
    eng.mkdir()
    entries = {}
    for graph in B.ENGINE_GRAPHS:
        (onnx_dir / f"{graph}.onnx").write_bytes(f"onnx {graph}".encode())
        (eng / f"{graph}.fp16.engine").write_bytes(f"engine {graph}".encode())
        profiles = (B.profile_shapes(graph, 64),) if B.profile_shapes(graph, 64) else ()
        entries[graph] = engine_entry(eng / f"{graph}.fp16.engine", onnx_dir / f"{graph}.onnx", "fp16", profiles)
    onnx_man = {"config": "sam2.1_hiera_t", "image_size": 64, "weights": "random:0"}
    write_trt_manifest(eng, onnx_man, entries, ENV, "fp16")
    return eng, onnx_dir


def test_manifest_round_trip(engine_dir):
    from ego360.models.sam2.trt_manifest import load_trt_manifest

    eng, _ = engine_dir
    man = load_trt_manifest(eng, dict(ENV), image_size=64)
    assert man["precision"] == "fp16" and man["environment"] == ENV
    assert man["engines"]["memory_attention_ring"]["profiles"][0]["memory_valid"][2] == [N.MAX_OBJECTS, 196]
    assert man["ring"] == {"frames": 8, "pointers": 17, "length": 196}


@pytest.mark.parametrize("key,value,msg", [
    ("tensorrt", "10.7.0", r"built for tensorrt '10.3.0', this machine has '10.7.0'"),
    ("gpu", "NVIDIA H200", r"built for gpu 'NVIDIA H100 80GB HBM3', this machine has 'NVIDIA H200'"),
    ("compute_capability", "8.7", r"built for compute_capability '9.0', this machine has '8.7'"),
])
def test_manifest_refuses_another_environment(engine_dir, key, value, msg):
    from ego360.models.sam2.trt_manifest import load_trt_manifest

    with pytest.raises(ModelError, match=msg) as err:
        load_trt_manifest(engine_dir[0], {**ENV, key: value})
    assert "\n" not in str(err.value) and "ego360 export trt" in str(err.value)


def test_manifest_refuses_changed_files_and_sizes(engine_dir, tmp_path):
    from ego360.models.sam2.trt_manifest import TRT_MANIFEST, load_trt_manifest

    eng, onnx_dir = engine_dir
    with pytest.raises(ModelError, match="image size 64, not 256"):
        load_trt_manifest(eng, ENV, image_size=256)
    (onnx_dir / "memory_encoder.onnx").write_bytes(b"re-exported")
    with pytest.raises(ModelError, match="memory_encoder.onnx changed since memory_encoder.fp16.engine was built"):
        load_trt_manifest(eng, ENV)
    load_trt_manifest(eng, ENV, check_onnx=False)
    (eng / "image_encoder.fp16.engine").write_bytes(b"truncated")
    with pytest.raises(ModelError, match="image_encoder.fp16.engine is missing or changed"):
        load_trt_manifest(eng, ENV, check_onnx=False)
    copy = tmp_path / "copy"
    shutil.copytree(eng, copy)
    data = json.loads((copy / TRT_MANIFEST).read_text())
    del data["engines"]["prompt_encoder"]
    data["ring"]["length"] = 999
    (copy / TRT_MANIFEST).write_text(json.dumps(data))
    with pytest.raises(ModelError, match="memory ring of 999 tokens, this code uses 196"):
        load_trt_manifest(copy, ENV, check_files=False)
    data["ring"]["length"] = 196
    (copy / TRT_MANIFEST).write_text(json.dumps(data))
    with pytest.raises(ModelError, match="no engine for prompt_encoder"):
        load_trt_manifest(copy, ENV, check_files=False)
    data["source_hash"] = "0" * 16
    (copy / TRT_MANIFEST).write_text(json.dumps(data))
    with pytest.raises(ModelError, match="other export code"):
        load_trt_manifest(copy, ENV)
    with pytest.raises(ModelError, match="not found"):
        load_trt_manifest(tmp_path / "nowhere", ENV)


def test_int8_without_calibrator_is_refused_before_tensorrt(tmp_path, monkeypatch):
    pytest.importorskip("onnx")
    import sys
    import types

    monkeypatch.setitem(sys.modules, "tensorrt", types.ModuleType("tensorrt"))  # never reached
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [x])
    onnx.save(helper.make_model(graph), tmp_path / "image_encoder.onnx")
    with pytest.raises(ModelError, match="needs a calibration set"):  # typed: the graph has no Q/DQ
        B.build_engine(tmp_path / "image_encoder.onnx", tmp_path / "x.engine", "int8", [])
    with pytest.raises(ModelError, match="needs a calibration set"):  # weakly typed: no calibrator
        B.build_engine(tmp_path / "image_encoder.onnx", tmp_path / "x.engine", "int8", [], typed=False)
    with pytest.raises(ConfigError, match="valid: fp32, fp16, int8"):
        B.build_engine(tmp_path / "image_encoder.onnx", tmp_path / "x.engine", "bf16", [])  # type: ignore[arg-type]
