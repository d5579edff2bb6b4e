"""ONNX export: every graph equals PyTorch, an ONNX Runtime track equals the PyTorch track, and the
manifest refuses folders that no longer match."""

from __future__ import annotations

import json

import pytest

from ego360.core.errors import ConfigError, ModelError

pytestmark = pytest.mark.filterwarnings("ignore")


@pytest.fixture(scope="module")
def exported(tmp_path_factory, require_sam2):
    pytest.importorskip("onnxruntime")
    from ego360.export.sam2_export import export_sam2

    out = tmp_path_factory.mktemp("sam2_onnx")
    return export_sam2("sam2.1_hiera_t", 64, out, seed=0, verify=True, frames=16)


def test_every_graph_matches_pytorch(exported):
    from ego360.models.sam2 import names as N

    assert set(exported.graphs) == {g.name for g in N.GRAPHS}
    for name, (delta, cos) in exported.graphs.items():
        print(f"{name}: max |d| = {delta:.3g}, cosine = {cos:.10f}")
        assert delta <= 1e-4 and cos >= 0.9999, name


def test_onnx_runtime_track_equals_pytorch(exported):
    print(f"16-frame track, min IoU = {exported.track_iou}")
    assert exported.track_iou == 1.0


def test_manifest_checks(exported, tmp_path):
    import shutil

    from ego360.models.sam2.manifest import MANIFEST, load_manifest

    man = load_manifest(exported.folder, 64)
    assert man["config"] == "sam2.1_hiera_t" and man["weights"] == "random:0"
    assert man["graphs"]["memory_attention"]["inputs"]["memory"]["shape"] == ["M", 1, 64]
    with pytest.raises(ModelError, match="image size 64, not 256"):
        load_manifest(exported.folder, 256)
    copy = tmp_path / "copy"
    shutil.copytree(exported.folder, copy)
    data = json.loads((copy / MANIFEST).read_text())
    data["graphs"]["memory_encoder"]["outputs"]["maskmem_features"]["shape"] = [1, 32, 4, 4]
    (copy / MANIFEST).write_text(json.dumps(data))
    with pytest.raises(ModelError, match="maskmem_features"):
        load_manifest(copy, check_files=False)
    (copy / "prompt_encoder.onnx").write_bytes(b"not onnx")
    data = json.loads((exported.folder / MANIFEST).read_text())
    (copy / MANIFEST).write_text(json.dumps(data))
    with pytest.raises(ModelError, match="prompt_encoder.onnx is missing or changed"):
        load_manifest(copy)


def test_onnx_backend_through_the_registry_factory(exported):
    import numpy as np

    from ego360.core.config import Config, TrackerConfig
    from ego360.core.geometry import Mounting
    from ego360.core.packets import FramePacket
    from ego360.models.registry import create_tracker

    cfg = TrackerConfig(backend="sam2-onnx", onnx_dir=str(exported.folder), image_size=64, view_size=64)
    tracker = create_tracker(Config(tracker=cfg), Mounting())
    img = np.zeros((64, 128, 3), np.uint8)
    seed = np.zeros((64, 128), bool)
    seed[20:40, 50:70] = True
    tracker.add(FramePacket(0, 0.0, 0, img), 3, seed, "target")
    (track,) = tracker.track(FramePacket(1, 0.03, 1, img))
    assert track.entity_id == 3 and track.mask.shape == (64, 128)


def test_provider_names():
    from ego360.models.sam2.backend_onnx import providers_from_names

    assert providers_from_names("tensorrt, cuda,cpu") == [
        "TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    with pytest.raises(ConfigError, match="valid: cpu, cuda, tensorrt"):
        providers_from_names("rocm")
