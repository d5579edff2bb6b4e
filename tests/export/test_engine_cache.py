"""`ego360 export trt` keeps an engine only while its key matches (ONNX graph hash, precision, profiles,
TensorRT version, GPU); anything stale is rebuilt. TensorRT and the export are faked: the decision is
plain Python over the engine manifest."""

from __future__ import annotations

import pytest

from ego360.export import trt_build as B

ENV = {"tensorrt": "11.4.1", "gpu": "NVIDIA H200", "compute_capability": "9.0"}


@pytest.fixture
def setup(tmp_path, monkeypatch):
    from ego360.models.sam2 import manifest, trt_manifest

    onnx_dir, eng = tmp_path / "onnx", tmp_path / "engines"
    onnx_dir.mkdir()
    for graph in B.ENGINE_GRAPHS:
        for suffix in ("onnx", "fp16.onnx"):
            (onnx_dir / f"{graph}.{suffix}").write_bytes(f"{graph} {suffix}".encode())
    (onnx_dir / "image_encoder.int8.onnx").write_bytes(b"qdq")
    (onnx_dir / "glue.pt").write_bytes(b"glue")
    env = dict(ENV)
    monkeypatch.setattr(manifest, "load_manifest", lambda folder: {"config": "sam2.1_hiera_t", "image_size": 64,
                                                                   "weights": "random:0"})
    monkeypatch.setattr(trt_manifest, "current_environment", lambda: dict(env))
    built: list[tuple[str, str]] = []

    def fake_build(onnx_path, out_path, precision, profiles, calibrator=None, timing_cache=None, keep=(),
                   typed=None):
        assert typed and calibrator is None  # FP16 / Q/DQ graphs: strongly typed, no calibrator
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_bytes(f"engine of {onnx_path.read_bytes()!r} for {env['tensorrt']}".encode())
        built.append((onnx_path.name, precision))
        return B.BuiltEngine(onnx_path.stem, out_path, precision, tuple(dict(p) for p in profiles), 0)

    monkeypatch.setattr(B, "build_engine", fake_build)
    return onnx_dir, eng, env, built


def test_up_to_date_engines_are_kept_stale_ones_rebuilt(setup):
    from ego360.models.sam2.trt_manifest import load_trt_manifest

    onnx_dir, eng, env, built = setup
    B.build_engines(onnx_dir, eng, "int8")
    assert sorted(built) == sorted([("image_encoder.int8.onnx", "int8")] +
                                   [(f"{g}.fp16.onnx", "fp16") for g in B.ENGINE_GRAPHS if g != "image_encoder"])
    load_trt_manifest(eng, env)
    built.clear()
    B.build_engines(onnx_dir, eng, "int8")
    assert built == []  # same graphs, precision, TensorRT, GPU: nothing rebuilt
    (onnx_dir / "memory_encoder.fp16.onnx").write_bytes(b"re-exported")  # graph hash changes
    B.build_engines(onnx_dir, eng, "int8")
    assert built == [("memory_encoder.fp16.onnx", "fp16")]
    built.clear()
    B.build_engines(onnx_dir, eng, "int8", max_objects=4)  # other profiles: the batched ring graph only
    assert built == [("memory_attention_ring.fp16.onnx", "fp16")]
    built.clear()
    env["tensorrt"] = "10.16.1"  # another TensorRT: everything
    B.build_engines(onnx_dir, eng, "int8", max_objects=4)
    assert len(built) == len(B.ENGINE_GRAPHS)
    built.clear()
    env["gpu"] = "Orin"
    B.build_engines(onnx_dir, eng, "int8", max_objects=4)
    assert len(built) == len(B.ENGINE_GRAPHS)
    load_trt_manifest(eng, env)
    built.clear()
    B.build_engines(onnx_dir, eng, "fp16", max_objects=4)  # another precision: the image encoder
    assert built == [("image_encoder.fp16.onnx", "fp16")]
    built.clear()
    (eng / "prompt_encoder.fp16.engine").write_bytes(b"truncated")  # an engine changed on disk
    B.build_engines(onnx_dir, eng, "fp16", max_objects=4)
    assert built == [("prompt_encoder.fp16.onnx", "fp16")]
    built.clear()
    B.build_engines(onnx_dir, eng, "fp16", max_objects=4, force=True)
    assert len(built) == len(B.ENGINE_GRAPHS)


def test_cached_entry_without_a_manifest_is_none(tmp_path):
    (tmp_path / "g.onnx").write_bytes(b"x")
    assert B.cached_entry(tmp_path, "image_encoder", tmp_path / "g.onnx", "fp16", [], ENV) is None
    (tmp_path / "trt_manifest.json").write_text("{not json")
    assert B.cached_entry(tmp_path, "image_encoder", tmp_path / "g.onnx", "fp16", [], ENV) is None
