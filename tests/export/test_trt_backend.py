"""The TensorRT backend's structure on CPU (the engines' graphs run in ONNX Runtime instead, padded ring
included) equals the PyTorch tracker; on a lent GPU (`gpu`): engines FP32/FP16/INT8 are built, FP32
tracks like PyTorch CUDA, and the INT8/FP16 accuracy report is printed."""

from __future__ import annotations

import copy

import numpy as np
import pytest

pytestmark = [pytest.mark.filterwarnings("ignore"), pytest.mark.usefixtures("one_thread")]
SIZE = 64


def _ort_runner(folder, graph):
    import onnxruntime as ort
    import torch

    from ego360.models.sam2 import names as N

    spec = next(g for g in N.GRAPHS if g.name == graph)
    sess = ort.InferenceSession(str(folder / f"{graph}.onnx"), providers=["CPUExecutionProvider"])

    def run(*args):
        feed = {k: torch.as_tensor(a).detach().cpu().numpy() for k, a in zip(spec.inputs, args, strict=True)}
        return [torch.from_numpy(o) for o in sess.run(list(spec.outputs), feed)]
    return run


def _run(tracker, frames, reseed_at=(6, 12, 18)):
    """Box on frame 0, mask re-seeds (new conditioning frames) on `reseed_at`, tracking in between."""
    logits = [tracker.add_object(0, frames[0], 1, box=(10, 20, 40, 50)).logits]
    for f in range(1, len(frames)):
        if f in reseed_at:
            m = np.zeros(frames[f].shape[:2], bool)
            m[20 + f : 50 + f, 10 + 2 * f : 40 + 2 * f] = True
            tracker.add_object(f, frames[f], 1, mask=m)
        logits.append(tracker.track(frames[f], frame_idx=f)[1].logits)
    return logits


def test_trt_structure_with_ring_equals_pytorch_on_cpu(tmp_path, random_sam2):
    pytest.importorskip("onnxruntime")
    from ego360.export.sam2_export import synthetic_frames
    from ego360.export.sam2_onnx import export_graphs
    from ego360.export.trt_build import ENGINE_GRAPHS
    from ego360.models.sam2 import names as N
    from ego360.models.sam2.backend_trt import attach_engines
    from ego360.models.sam2.streaming import SAM2StreamTracker

    model = random_sam2(size=SIZE)
    export_graphs(model, SIZE, tmp_path, only=ENGINE_GRAPHS)
    stand_in = attach_engines(copy.deepcopy(model), {g: _ort_runner(tmp_path, g) for g in ENGINE_GRAPHS})
    frames = synthetic_frames(24)
    ref = _run(SAM2StreamTracker(model, max_cond_frames=N.RING_COND_FRAMES), frames)
    ours_tracker = SAM2StreamTracker(stand_in, max_cond_frames=N.RING_COND_FRAMES)
    ours = _run(ours_tracker, frames)
    worst = max(float(np.abs(a - b).max()) for a, b in zip(ours, ref, strict=True))
    ious = [U_iou(a > 0, b > 0) for a, b in zip(ours, ref, strict=True)]
    print(f"TRT-structured backend (ORT stand-ins, ring) vs PyTorch, 24 frames: max |dlogit| = {worst:.3g}, "
          f"min IoU = {min(ious)}")
    assert min(ious) == 1.0 and worst <= 1e-3
    obj = ours_tracker._objs[1]
    assert len(obj.output_dict["cond_frame_outputs"]) == N.RING_COND_FRAMES  # 4 seeds, capped: ring never overflows


def U_iou(a, b):  # noqa: N802
    from ego360.export.accuracy import mask_iou

    return mask_iou(a, b)


def test_backend_needs_an_engine_dir():
    from ego360.core.config import Config, TrackerConfig
    from ego360.core.errors import ModelError
    from ego360.core.geometry import Mounting
    from ego360.models.registry import create_tracker

    with pytest.raises(ModelError, match="tracker.engine_dir is empty"):
        create_tracker(Config(tracker=TrackerConfig(backend="sam2-trt")), Mounting())


# ----------------------------------------------------------------- GPU (lent machine): scripts/gpu_check.sh
GPU_SIZE = 128


def _need_trt():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    pytest.importorskip("tensorrt")


@pytest.fixture(scope="module")
def gpu_build(tmp_path_factory, request):
    _need_trt()
    request.getfixturevalue("require_sam2")
    from ego360.export.calib_dataset import build_calibration_set
    from ego360.export.sam2_export import export_sam2, synthetic_frames
    from ego360.export.trt_build import build_engines

    root = tmp_path_factory.mktemp("trt")
    export_sam2("sam2.1_hiera_t", GPU_SIZE, root / "onnx", seed=0)
    clip = root / "clip"
    clip.mkdir()
    from PIL import Image

    for i, f in enumerate(synthetic_frames(40, hw=(256, 512))):
        Image.fromarray(f).save(clip / f"{i:05d}.png")
    calib = root / "calib"
    build_calibration_set([str(clip)], calib, view_size=GPU_SIZE, stride=1, max_views=60, held_out_every=4)
    cache = root / "timing.cache"
    dirs = {}
    for prec in ("fp32", "fp16", "int8"):
        dirs[prec] = root / prec
        build_engines(root / "onnx", dirs[prec], prec, calib_dir=calib if prec == "int8" else None,
                      timing_cache=cache)
    return root, dirs, calib


@pytest.mark.gpu
def test_fp32_engines_track_like_pytorch_cuda(gpu_build, random_sam2):
    import torch

    from ego360.export.sam2_export import synthetic_frames
    from ego360.models.sam2 import names as N
    from ego360.models.sam2.backend_trt import load_trt_model
    from ego360.models.sam2.streaming import SAM2StreamTracker

    _, dirs, _ = gpu_build
    model = random_sam2(size=GPU_SIZE).to("cuda")
    tf32 = torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = False  # the FP32 engines are built without TF32: compare like with like
    try:
        frames = synthetic_frames(24)
        ref = _run(SAM2StreamTracker(model, max_cond_frames=N.RING_COND_FRAMES), frames)
        ours = _run(SAM2StreamTracker(load_trt_model(dirs["fp32"]), max_cond_frames=N.RING_COND_FRAMES), frames)
    finally:
        model.to("cpu")
        torch.backends.cudnn.allow_tf32 = tf32
    worst = max(float(np.abs(a - b).max()) for a, b in zip(ours, ref, strict=True))
    ious = [U_iou(a > 0, b > 0) for a, b in zip(ours, ref, strict=True)]
    print(f"TensorRT FP32 vs PyTorch CUDA, 24 frames: max |dlogit| = {worst:.3g}, min IoU = {min(ious):.4f}")
    assert min(ious) >= 0.99


@pytest.mark.gpu
def test_int8_fp16_accuracy_report(gpu_build):
    from ego360.export.accuracy import accuracy_report, tracker_masks
    from ego360.export.calib_dataset import iter_views

    root, dirs, calib = gpu_build
    views = list(iter_views(calib, "heldout"))
    masks = {prec: tracker_masks(d, views) for prec, d in dirs.items()}
    report = accuracy_report(masks)
    print(report.table())
    assert {r.precision for r in report.rows} == {"fp16", "int8"}
    assert all(r.n == len(views) > 0 and 0.0 <= r.min <= r.mean <= 1.0 for r in report.rows)
    assert (dirs["int8"] / "image_encoder.calib.cache").is_file()


@pytest.mark.gpu
def test_engine_manifest_matches_this_gpu(gpu_build):
    from ego360.models.sam2.trt_manifest import current_environment, load_trt_manifest

    _, dirs, _ = gpu_build
    env = current_environment()
    man = load_trt_manifest(dirs["int8"], env, image_size=GPU_SIZE)
    print(f"engines built with TensorRT {env['tensorrt']} on {env['gpu']} (sm {env['compute_capability']})")
    assert man["engines"]["image_encoder"]["precision"] == "int8"
    assert man["engines"]["mask_decoder_multi"]["precision"] == "fp16"
