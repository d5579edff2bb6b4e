"""INT8 calibration without a GPU: the calibration set cut from a clip, calibrator batching and device
upload (numpy host buffers stand in for device memory), the calibration cache, and the IoU report."""

from __future__ import annotations

import ctypes

import numpy as np
import pytest

from ego360.core.errors import ConfigError, InputError, ModelError
from ego360.export import calib_dataset as D
from ego360.export.accuracy import accuracy_report, mask_iou
from ego360.export.int8 import CALIBRATORS, EntropyCalibrator, HostAllocator, MinMaxCalibrator, calibrator_for_graph

NAMES = ["image", "prompt"]


def _batches(n, seed=0):
    rng = np.random.default_rng(seed)
    return [{"image": rng.standard_normal((1, 3, 8, 8)).astype(np.float32),
             "prompt": rng.standard_normal((1, 2)).astype(np.float32)} for _ in range(n)]


def _read(ptr: int, like: np.ndarray) -> np.ndarray:
    """What the 'device' holds at `ptr` (a host address here)."""
    raw = (ctypes.c_uint8 * like.nbytes).from_address(ptr)
    return np.frombuffer(raw, dtype=like.dtype).reshape(like.shape).copy()


def simulate_tensorrt(calibrator, names, fake_cache=b"TRT-1003-EntropyCalibration2\nimage: 3c010a14\n"):
    """TensorRT's calibration protocol: a cache short-circuits everything, else pull batches to the end
    and hand back a cache. Returns the device contents seen per batch."""
    cache = calibrator.read_calibration_cache()
    if cache is not None:
        return cache, []
    assert calibrator.get_batch_size() == 1
    seen = []
    while (ptrs := calibrator.get_batch(names)) is not None:
        seen.append(list(ptrs))
    calibrator.write_calibration_cache(memoryview(fake_cache))
    return None, seen


@pytest.mark.parametrize("cls", [EntropyCalibrator, MinMaxCalibrator])
def test_batches_are_uploaded_in_name_order_into_reused_buffers(tmp_path, cls):
    batches = _batches(4)
    alloc = HostAllocator()
    cal = cls(batches, tmp_path / "c.cache", alloc)
    cache, seen = simulate_tensorrt(cal, ["prompt", "image"])
    assert cache is None and len(seen) == 4 and cal.batches_served == 4
    assert len(alloc.buffers) == 2  # one buffer per input, reused for every batch
    assert all(ptrs == seen[0] for ptrs in seen)
    # the buffers hold the last batch, in the order TensorRT asked for
    np.testing.assert_array_equal(_read(seen[-1][0], batches[-1]["prompt"]), batches[-1]["prompt"])
    np.testing.assert_array_equal(_read(seen[-1][1], batches[-1]["image"]), batches[-1]["image"])
    assert cal.algorithm in ("ENTROPY_CALIBRATION_2", "MINMAX_CALIBRATION")


def test_each_batch_reaches_the_device_before_the_next(tmp_path):
    batches = _batches(3, seed=1)
    cal = EntropyCalibrator(batches, tmp_path / "c.cache")
    for b in batches:
        ptrs = cal.get_batch(NAMES)
        np.testing.assert_array_equal(_read(ptrs[0], b["image"]), b["image"])
    assert cal.get_batch(NAMES) is None


def test_cache_round_trip_and_reuse_skips_batches(tmp_path):
    path = tmp_path / "sub" / "image_encoder.calib.cache"
    first = EntropyCalibrator(_batches(5), path)
    _, seen = simulate_tensorrt(first, NAMES, fake_cache=b"scales v1")
    assert len(seen) == 5 and path.read_bytes() == b"scales v1"

    consumed = []

    def lazy():  # a dataset that records what is read from it
        for b in _batches(5):
            consumed.append(1)
            yield b

    second = EntropyCalibrator(lazy(), path)
    cache, seen = simulate_tensorrt(second, NAMES)
    assert cache == b"scales v1" and seen == [] and consumed == [] and second.batches_served == 0
    fresh = EntropyCalibrator(lazy(), path, fresh=True)
    cache, seen = simulate_tensorrt(fresh, NAMES, fake_cache=b"scales v2")
    assert cache is None and len(seen) == 5 and path.read_bytes() == b"scales v2"


def test_bad_batches_are_one_line_errors(tmp_path):
    good, = _batches(1)
    cal = MinMaxCalibrator([good, {"image": good["image"]}], tmp_path / "c")
    cal.get_batch(NAMES)
    with pytest.raises(ModelError, match="batch 1 lacks input"):
        cal.get_batch(NAMES)
    cal = MinMaxCalibrator([good, {**good, "image": np.zeros((1, 3, 4, 4), np.float32)}], tmp_path / "c")
    cal.get_batch(NAMES)
    with pytest.raises(ModelError, match=r"image is float32\[1, 3, 4, 4\], earlier batches were float32\[1, 3, 8, 8\]"):
        cal.get_batch(NAMES)


def test_calibrator_factory(tmp_path):
    with pytest.raises(ConfigError, match="valid: entropy, minmax"):
        calibrator_for_graph("image_encoder", tmp_path, 64, tmp_path / "c", kind="percentile")
    with pytest.raises(ModelError, match="only image_encoder"):
        calibrator_for_graph("mask_decoder_multi", tmp_path, 64, tmp_path / "c")
    with pytest.raises(ModelError, match="ego360 export calib"):
        calibrator_for_graph("image_encoder", None, 64, tmp_path / "c", allocator=HostAllocator())
    assert set(CALIBRATORS) == {"entropy", "minmax"}


# ----------------------------------------------------------------- calibration set from a clip
def _clip_folder(tmp_path, n=6, hw=(64, 128)):
    from PIL import Image

    folder = tmp_path / "clip"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray((rng.random((*hw, 3)) * 255).astype(np.uint8)).save(folder / f"{i:05d}.png")
    return folder


def test_calibration_set_from_a_clip_and_batches_for_the_encoder(tmp_path):
    clip = _clip_folder(tmp_path)
    out = tmp_path / "calib"
    cs = D.build_calibration_set([str(clip)], out, view_size=32, stride=2, batch=3, held_out_every=4)
    # frames 0, 2, 4 x four fallback directions = 12 views, every 4th held out
    assert cs.views == {"calib": 9, "heldout": 3}
    assert cs.files == {"calib": ["calib_00000.npy", "calib_00001.npy", "calib_00002.npy"],
                        "heldout": ["heldout_00000.npy"]}
    views = list(D.iter_views(out))
    assert len(views) == 9 and views[0].shape == (32, 32, 3) and views[0].dtype == np.uint8
    batches = list(D.image_encoder_batches(out, 64))
    assert len(batches) == 9 and batches[0]["image"].shape == (1, 3, 64, 64)
    assert batches[0]["image"].dtype == np.float32
    cal = EntropyCalibrator(D.image_encoder_batches(out, 64), tmp_path / "enc.cache")
    _, seen = simulate_tensorrt(cal, ["image"])
    assert len(seen) == 9
    with pytest.raises(InputError, match="ego360 export calib"):
        list(D.iter_views(tmp_path / "missing"))


def test_views_are_aimed_at_ground_truth_boxes():
    from types import SimpleNamespace

    rec = SimpleNamespace(box=(1900, 100, 1960, 200))  # wraps the seam of a 1920-wide frame
    gt = SimpleNamespace(width=1920, height=960, frames=[SimpleNamespace(entities=(rec,))])
    packet = SimpleNamespace(frame_index=0, image=np.zeros((480, 960, 3), np.uint8))
    ((yaw, pitch),) = D.aims_for_frame(packet, gt)
    assert yaw == pytest.approx(-180 + 360 * 5 / 960)  # box centre x = 1930 -> 10 px past the seam
    assert pitch == pytest.approx(90 - 150 / 960 * 180)
    assert D.aims_for_frame(packet, None) == [(0.0, 0.0), (90.0, 0.0), (180.0, 0.0), (-90.0, 0.0)]


def test_preprocess_equals_the_tracker(random_sam2):
    from ego360.models.sam2.streaming import SAM2StreamTracker

    view = (np.random.default_rng(2).random((48, 40, 3)) * 255).astype(np.uint8)
    ref = SAM2StreamTracker(random_sam2(size=64)).preprocess(view).numpy()
    np.testing.assert_array_equal(D.preprocess(view, 64), ref)


# ----------------------------------------------------------------- accuracy report
def test_iou_report_on_synthetic_masks():
    base = np.zeros((10, 10), bool)
    base[2:6, 2:6] = True  # 16 px
    shifted = np.roll(base, 1, axis=1)  # overlap 12, union 20 -> 0.6
    empty = np.zeros_like(base)
    masks = {"fp32": [base, base, empty, base], "fp16": [base, base, empty, base],
             "int8": [base, shifted, empty, empty]}
    rep = accuracy_report(masks)
    assert [r.precision for r in rep.rows] == ["fp16", "int8"]
    assert rep.row("fp16").mean == 1.0 and rep.row("fp16").min == 1.0
    int8 = rep.row("int8")
    assert int8.n == 4 and int8.mean == pytest.approx((1 + 0.6 + 1 + 0) / 4)
    assert int8.median == pytest.approx(0.8) and int8.min == 0.0
    assert "int8" in rep.table() and "mask IoU vs fp32" in rep.table()
    assert mask_iou(base, shifted) == pytest.approx(0.6) and mask_iou(empty, empty) == 1.0


def test_iou_report_errors():
    m = [np.zeros((4, 4), bool)]
    with pytest.raises(InputError, match="no fp32 masks"):
        accuracy_report({"fp16": m})
    with pytest.raises(InputError, match="int8 has 2 masks, fp32 has 1"):
        accuracy_report({"fp32": m, "int8": m * 2})
    with pytest.raises(InputError, match="different shapes"):
        mask_iou(np.zeros((4, 4), bool), np.zeros((4, 5), bool))
