"""Frame sources: clips, image folders, cameras/streams, input checks and `ego360 probe`."""

from __future__ import annotations

import logging
import re
import sys
import types
from pathlib import Path

import cv2
import numpy as np
import pytest

from ego360.core.config import SourceConfig
from ego360.core.errors import InputError
from ego360.core.packets import FramePacket
from ego360.runtime.sources import CameraSource, ImageFolderSource, VideoFileSource, check_frame, open_source
from ego360.runtime.sources.base import Pacer
from ego360.tools.cli import main

CFG = SourceConfig()


@pytest.fixture(scope="module")
def clips(tmp_path_factory, make_clip) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("clips")
    return {
        "mp4": make_clip(d / "red_h264.mp4", codec="libx264"),
        "avi": make_clip(d / "red_mpeg4.avi", codec="mpeg4"),
        "mkv": make_clip(d / "red_h264.mkv", codec="libx264"),
    }


def _assert_one_line_input_error(excinfo, *needles: str) -> None:
    msg = str(excinfo.value)
    assert isinstance(excinfo.value, InputError)
    assert "\n" not in msg
    for needle in needles:
        assert needle in msg, msg


# ---------------------------------------------------------------- video files
@pytest.mark.parametrize("kind", ["mp4", "avi", "mkv"])
def test_video_file_frames_rgb_and_time(clips, kind):
    with open_source(str(clips[kind]), CFG) as src:
        assert isinstance(src, VideoFileSource)
        assert (src.info.width, src.info.height, src.info.fps) == (256, 128, 30.0)
        assert src.info.num_frames == 30 and src.info.live is False
        packets = list(src)
    assert len(packets) == 30
    assert [p.frame_index for p in packets] == list(range(30))
    np.testing.assert_allclose([p.video_t for p in packets], np.arange(30) / 30, atol=1e-3)
    assert all(isinstance(p, FramePacket) for p in packets)
    caps = [p.capture_ns for p in packets]
    assert caps == sorted(caps)
    img = packets[5].image
    assert img.dtype == np.uint8 and img.shape == (128, 256, 3) and img.flags["C_CONTIGUOUS"]
    r, g, b = img.reshape(-1, 3).mean(axis=0)
    assert r > 200 and g < 40 and b < 40, (r, g, b)  # red reads as red: RGB, not BGR


def test_video_downscaled_to_max_width_keeping_2to1(tmp_path, make_clip):
    clip = make_clip(tmp_path / "big.mp4", size="512x256", frames=3, color="blue")
    with VideoFileSource(clip, max_width=256) as src:
        assert (src.info.width, src.info.height) == (256, 128)
        packets = list(src)
    assert len(packets) == 3 and packets[0].image.shape == (128, 256, 3)
    r, g, b = packets[0].image.reshape(-1, 3).mean(axis=0)
    assert b > 200 and r < 40


def test_non_2to1_video_is_one_line_input_error(tmp_path, make_clip):
    clip = make_clip(tmp_path / "square.mp4", size="256x256", frames=3)
    with pytest.raises(InputError) as excinfo:
        open_source(str(clip), CFG)
    _assert_one_line_input_error(excinfo, "256×256", "not an equirectangular 2:1")


@pytest.mark.parametrize(
    ("name", "content", "needle"),
    [
        ("empty.mp4", b"", "empty file"),
        ("notes.mp4", b"this is a text file, not a video\n" * 20, "cannot read this video"),
        ("clip.xyz", b"whatever", "unknown video extension"),
    ],
)
def test_bad_files_are_one_line_input_errors(tmp_path, name, content, needle):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError) as excinfo:
        open_source(str(path), CFG)
    _assert_one_line_input_error(excinfo, needle, name)


def test_nonexistent_path_is_input_error(tmp_path):
    with pytest.raises(InputError) as excinfo:
        open_source(str(tmp_path / "missing" / "clip.mp4"), CFG)
    _assert_one_line_input_error(excinfo, "no such file")
    with pytest.raises(InputError) as excinfo:
        open_source("not_a_source_at_all", CFG)
    _assert_one_line_input_error(excinfo, "stream URL")


def test_live_flag_makes_a_clip_live_and_paced(clips):
    with open_source(str(clips["mp4"]), CFG, live=True) as src:
        assert src.info.live is True and src.realtime is True


# ---------------------------------------------------------------- image folders
def _write_images(folder: Path, images: list[np.ndarray], ext: str = ".png") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, img in enumerate(images):
        assert cv2.imwrite(str(folder / f"frame_{i}{ext}"), img)


def test_image_folder_natural_order_rgb_and_time(tmp_path):
    # frame_i has red level 10*i (BGR on disk) so order and channel order are both checked
    images = [np.dstack([np.zeros((64, 128), np.uint8)] * 2 + [np.full((64, 128), 10 * i, np.uint8)])
              for i in range(12)]
    _write_images(tmp_path / "seq", images)
    (tmp_path / "seq" / "readme.txt").write_text("not an image")
    with open_source(str(tmp_path / "seq"), CFG) as src:
        assert isinstance(src, ImageFolderSource)
        assert (src.info.width, src.info.height, src.info.num_frames, src.info.fps) == (128, 64, 12, 30.0)
        packets = list(src)
    assert [int(p.image[0, 0, 0]) for p in packets] == [10 * i for i in range(12)]  # frame_10 after frame_9
    assert all(int(p.image[..., 2].max()) == 0 for p in packets)
    np.testing.assert_allclose([p.video_t for p in packets], np.arange(12) / 30.0)


def test_image_folder_fps_and_pattern(tmp_path):
    _write_images(tmp_path / "seq", [np.full((32, 64, 3), 50, np.uint8)] * 3, ".png")
    _write_images(tmp_path / "seq", [np.full((32, 64, 3), 50, np.uint8)] * 2, ".jpg")
    with ImageFolderSource(tmp_path / "seq", fps=10.0, pattern="*.jpg") as src:
        packets = list(src)
    assert len(packets) == 2 and packets[1].video_t == pytest.approx(0.1)


def test_grayscale_folder_is_converted_to_rgb(tmp_path):
    gray = np.tile(np.arange(128, dtype=np.uint8), (64, 1))
    _write_images(tmp_path / "gray", [gray, gray])
    with open_source(str(tmp_path / "gray"), CFG) as src:
        img = next(iter(src)).image
    assert img.shape == (64, 128, 3)
    for c in range(3):
        np.testing.assert_array_equal(img[..., c], gray)


def test_16bit_png_is_scaled_by_shift_8(tmp_path):
    img16 = np.full((64, 128, 3), 0x8000, np.uint16)
    img16[..., 2] = 0xFFFF  # red (BGR on disk)
    _write_images(tmp_path / "deep", [img16])
    with open_source(str(tmp_path / "deep"), CFG) as src:
        img = next(iter(src)).image
    assert img.dtype == np.uint8
    assert img[0, 0].tolist() == [255, 128, 128]


def test_empty_folder_is_input_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError) as excinfo:
        open_source(str(tmp_path / "empty"), CFG)
    _assert_one_line_input_error(excinfo, "no image files")


def test_image_folder_size_change_is_input_error(tmp_path):
    _write_images(tmp_path / "mixed", [np.zeros((64, 128, 3), np.uint8), np.zeros((32, 64, 3), np.uint8)])
    with ImageFolderSource(tmp_path / "mixed") as src, pytest.raises(InputError) as excinfo:
        list(src)
    _assert_one_line_input_error(excinfo, "frame_1.png", "same size")


def test_non_2to1_image_folder_is_input_error(tmp_path):
    _write_images(tmp_path / "flat", [np.zeros((90, 160, 3), np.uint8)])
    with pytest.raises(InputError) as excinfo:
        open_source(str(tmp_path / "flat"), CFG)
    _assert_one_line_input_error(excinfo, "160×90", "2:1")


# ---------------------------------------------------------------- check_frame
def test_check_frame_channel_orders():
    bgr = np.zeros((4, 8, 3), np.uint8)
    bgr[..., 0] = 200  # blue in BGR
    assert check_frame(bgr, "t")[0, 0].tolist() == [0, 0, 200]
    assert check_frame(bgr, "t", order="rgb")[0, 0].tolist() == [200, 0, 0]
    bgra = np.dstack([bgr, np.full((4, 8), 7, np.uint8)])
    assert check_frame(bgra, "t")[0, 0].tolist() == [0, 0, 200]
    one = np.full((4, 8, 1), 9, np.uint8)
    assert check_frame(one, "t").shape == (4, 8, 3) and check_frame(one, "t")[0, 0].tolist() == [9, 9, 9]


@pytest.mark.parametrize(
    ("img", "needle"),
    [
        (None, "empty frame"),
        (np.zeros((0, 0, 3), np.uint8), "empty frame"),
        (np.zeros((4, 8, 3), np.float32), "floating-point"),
        (np.zeros((4, 8, 2), np.uint8), "expected"),
        (np.zeros((100, 100, 3), np.uint8), "100×100, not an equirectangular 2:1"),
    ],
)
def test_check_frame_rejects(img, needle):
    with pytest.raises(InputError) as excinfo:
        check_frame(img, "cam")
    _assert_one_line_input_error(excinfo, needle, "cam")


def test_check_frame_downscale_and_near_2to1():
    big = np.zeros((1000, 2000, 3), np.uint8)
    big[:, :1000, 2] = 255  # left half red (BGR)
    small = check_frame(big, "t", max_width=501)
    assert small.shape == (250, 500, 3)  # max_width rounded down to even, 2:1 kept
    assert small[0, 0].tolist() == [255, 0, 0] and small[0, -1].tolist() == [0, 0, 0]
    assert check_frame(np.zeros((101, 200, 3), np.uint8), "t").shape == (100, 200, 3)


# ---------------------------------------------------------------- pacing (fake clock, no timing asserts)
def test_pacer_schedules_from_anchor_without_drift(monkeypatch):
    now = [0]
    waits: list[float] = []

    class FakeStop:
        def wait(self, seconds):  # every sleep overshoots by 5 ms
            waits.append(seconds)
            now[0] += int((seconds + 0.005) * 1e9)
            return False

    monkeypatch.setattr("ego360.runtime.sources.base.time.monotonic_ns", lambda: now[0])
    pacer = Pacer(FakeStop())
    for k in range(31):
        pacer.wait(k / 30)
    # after the first frame each wait is 1/30 s minus the previous overshoot: no accumulated drift
    np.testing.assert_allclose(waits[1:], [1 / 30 - 0.005] * 29, atol=1e-6)
    assert now[0] / 1e9 == pytest.approx(1.0 + 0.005, abs=1e-6)


# ---------------------------------------------------------------- dispatch
def test_scenario_spec_dispatches_to_scenario_source(monkeypatch):
    seen = {}

    class FakeScenario:
        def __init__(self, name, *, realtime=False, max_width=1920):
            seen.update(name=name, realtime=realtime, max_width=max_width)

    module = types.ModuleType("ego360.tools.scenario.source")
    module.ScenarioSource = FakeScenario
    monkeypatch.setitem(sys.modules, "ego360.tools.scenario.source", module)
    src = open_source("scenario:crossing", SourceConfig(max_width=512), realtime=True, live=True)
    assert isinstance(src, FakeScenario)
    assert seen == {"name": "crossing", "realtime": True, "max_width": 512}  # only accepted kwargs passed
    with pytest.raises(InputError):
        open_source("scenario:", CFG)


def test_gstreamer_spec_without_gstreamer_is_input_error():
    if cv2.videoio_registry.hasBackend(cv2.CAP_GSTREAMER):
        pytest.skip("this OpenCV has GStreamer")
    with pytest.raises(InputError) as excinfo:
        open_source("videotestsrc ! appsink", CFG)
    _assert_one_line_input_error(excinfo, "GStreamer")


# ---------------------------------------------------------------- CLI
def test_probe_prints_what_the_source_delivers(clips, capsys):
    assert main(["probe", str(clips["avi"]), "--frames", "10"]) == 0
    out = capsys.readouterr().out
    assert "256x128" in out and "30.000" in out and "10 frames" in out


@pytest.mark.parametrize("bad", ["missing.mp4", "empty_dir"])
def test_probe_bad_input_exits_2_with_one_line(tmp_path, capsys, bad):
    (tmp_path / "empty_dir").mkdir()
    assert main(["probe", str(tmp_path / bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ego360: error:") and "\n" not in err


# ---------------------------------------------------------------- live stream
def _live_cfg(**kw) -> SourceConfig:
    base = dict(open_timeout_ms=5000, read_timeout_ms=1500, reconnect_attempts=40,
                reconnect_backoff_s=0.2, reconnect_backoff_max_s=1.0)
    base.update(kw)
    return SourceConfig(**base)


@pytest.mark.timeout(120)
def test_camera_url_reconnects_after_the_sender_restarts(udp_sender, read_in_background, wait_until):
    sender = udp_sender.start()
    try:
        src = CameraSource(sender.url, _live_cfg())
        assert (src.info.width, src.info.height, src.info.live, src.info.num_frames) == (256, 128, True, None)
        assert src.info.fps == pytest.approx(30.0, rel=0.01)
        reader = read_in_background(src)
        assert wait_until(lambda: len(reader.packets) >= 15, 30), "no frames from the live stream"
        failed, reconnects = src.stats.failed_reads, src.stats.reconnects  # a loaded machine may have hiccuped
        sender.stop()
        assert wait_until(lambda: src.stats.failed_reads > failed, 30), "dead stream was not noticed"
        before = len(reader.packets)
        sender.start()
        assert wait_until(lambda: src.stats.reconnects > reconnects and len(reader.packets) >= before + 15, 60), \
            src.stats
        src.close()
        assert reader.join(30), "iteration did not stop after close()"
    finally:
        sender.stop()
    packets = reader.packets
    assert [p.frame_index for p in packets] == list(range(len(packets)))  # keeps counting across reconnect
    assert all(b.video_t >= a.video_t for a, b in zip(packets, packets[1:], strict=False))
    assert all(p.image.shape == (128, 256, 3) and p.image.dtype == np.uint8 for p in packets)
    assert src.stats.frames == len(packets) and src.stats.reconnects >= 1


@pytest.mark.timeout(120)
def test_camera_stream_that_never_returns_ends_after_bounded_attempts(caplog, udp_sender, read_in_background,
                                                                      wait_until):
    cfg = _live_cfg(open_timeout_ms=1000, read_timeout_ms=1000, reconnect_attempts=3,
                    reconnect_backoff_s=0.1, reconnect_backoff_max_s=0.2)
    sender = udp_sender.start()
    try:
        src = CameraSource(sender.url, cfg)
        reader = read_in_background(src)
        assert wait_until(lambda: len(reader.packets) >= 5, 30)
        caplog.set_level(logging.WARNING, logger="ego360.runtime.sources")
        sender.stop()
        assert reader.join(60), "source kept waiting for a stream that never came back"
    finally:
        sender.stop()
    assert src.stats.reconnect_attempts - src.stats.reconnects >= 3  # (a hiccup before the kill may add some)
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors and "after 3 reconnect attempts; ending the stream" in errors[-1]
    tail = [r.getMessage() for r in caplog.records
            if r.levelno == logging.WARNING and "reconnect attempt" in r.getMessage()][-6:]
    assert [("failed" in m) for m in tail] == [False, True] * 3  # "attempt k in Ns", "attempt k failed", ...
    delays = [float(re.search(r"in ([0-9.]+) s", m).group(1)) for m in tail[::2]]
    assert delays == [0.1, 0.2, 0.2]  # doubling, capped at reconnect_backoff_max_s
    src.close()


@pytest.mark.timeout(60)
def test_camera_url_with_no_sender_fails_fast_with_input_error(udp_port):
    url = f"udp://127.0.0.1:{udp_port}"
    with pytest.raises(InputError) as excinfo:
        open_source(url, _live_cfg(open_timeout_ms=800, read_timeout_ms=800))
    _assert_one_line_input_error(excinfo, "could not open", "within 800 ms")
