"""`ego360 scenario compose`: a perspective video placed at a bearing in a 360° frame, with its extent."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from ego360.core.projection import PerspectiveView
from ego360.tools.cli import main
from ego360.tools.scenario.compose import Extent, load_compose

VW, VH = 160, 90


def _video(path: Path, marker_uv: tuple[int, int], frames: int = 4) -> Path:
    """Dark synthetic perspective clip with one bright 6×6 marker centred at view pixel `marker_uv`."""
    import av

    with av.open(str(path), mode="w") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = VW, VH, "yuv420p"
        for _ in range(frames):
            img = np.full((VH, VW, 3), 20, np.uint8)
            u, v = marker_uv
            img[v - 3:v + 3, u - 3:u + 3] = 255
            out.mux(stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        out.mux(stream.encode())
    return path


def _black_panorama(path: Path) -> Path:
    import cv2

    cv2.imwrite(str(path), np.zeros((240, 480, 3), np.uint8))
    return path


def _frames(clip: Path) -> list[np.ndarray]:
    import av

    with av.open(str(clip)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def _marker_yawpitch(img: np.ndarray) -> tuple[float, float]:
    H, W = img.shape[:2]
    bright = img.mean(axis=2) > 150
    ys, xs = np.nonzero(bright)
    assert xs.size, "marker not found"
    yaw = np.radians((xs + 0.5) / W * 360 - 180)
    mean = math.degrees(math.atan2(np.sin(yaw).mean(), np.cos(yaw).mean()))
    return mean, float(90 - (ys.mean() + 0.5) * 180 / H)


def _compose(tmp: Path, video: Path, yaw: str, fov: str, out: Path, *extra: str) -> int:
    return main(["scenario", "compose", "--video", str(video), "--yaw", yaw, "--fov", fov, "--width", "480",
                 "--panorama", str(_black_panorama(tmp / "black.png")), "--out", str(out), *extra])


@pytest.mark.parametrize(("yaw", "uv"), [(60.0, (80, 45)), (-120.0, (40, 30)), (170.0, (150, 45))])
def test_marker_lands_at_the_bearing_the_projection_predicts(tmp_path, yaw, uv):
    video = _video(tmp_path / "v.mp4", uv)
    out = tmp_path / "out"
    assert _compose(tmp_path, video, str(yaw), "60", out) == 0
    assert sorted(p.name for p in out.iterdir()) == ["clip.mp4", "compose.json"]
    meta = json.loads((out / "compose.json").read_text())
    assert meta["yaw_deg"] == yaw and meta["fov_deg"] == 60.0 and meta["num_frames"] == 4
    assert meta["width"] == 480 and meta["height"] == 240 and "attribution" in meta
    view = PerspectiveView(yaw, 0.0, 60.0, out_size=(VW, VH), equirect_size=(240, 480))
    exp_yaw, exp_pitch = view.pixel_to_yawpitch(uv[0], uv[1])
    got_yaw, got_pitch = _marker_yawpitch(_frames(out / "clip.mp4")[2])
    assert abs((got_yaw - exp_yaw + 180) % 360 - 180) < 1.0 and abs(got_pitch - exp_pitch) < 1.0
    ext = load_compose(out).extent
    assert ext == Extent(**meta["extent"])
    assert ext.contains(got_yaw, got_pitch)
    assert not ext.contains(yaw + 180.0)
    if yaw == 170.0:  # 140..200 wraps: the marker at u=150 of 160 lies past the seam
        assert ext.crosses_seam and ext.yaw_min == pytest.approx(140.0, abs=0.01)
        assert ext.yaw_max == pytest.approx(-160.0, abs=0.01) and -170.0 < got_yaw < -160.0


def test_extent_matches_the_field_of_view():
    view = PerspectiveView(30.0, 0.0, 60.0, out_size=(VW, VH), equirect_size=(240, 480))
    meta_ext = Extent(0.0, 60.0, 60.0, -view.vfov_deg / 2, view.vfov_deg / 2, False)
    from ego360.tools.scenario.compose import extent_of

    ext = extent_of(view)
    assert ext.yaw_min == pytest.approx(meta_ext.yaw_min, abs=0.01)
    assert ext.yaw_max == pytest.approx(meta_ext.yaw_max, abs=0.01)
    assert ext.pitch_max == pytest.approx(meta_ext.pitch_max, abs=0.01)
    tilted = extent_of(PerspectiveView(30.0, 20.0, 60.0, out_size=(VW, VH), equirect_size=(240, 480)))
    assert tilted.yaw_span_deg > 60.0  # a pitched-up view's top corners spread wider in bearing


@pytest.mark.parametrize("yaw", ["181", "-180.5", "720", "nan"])
def test_yaw_outside_range_is_one_line_error_and_writes_nothing(tmp_path, capsys, yaw):
    video = _video(tmp_path / "v.mp4", (80, 45))
    before = set(tmp_path.iterdir())
    out = tmp_path / "nested" / "out"
    assert main(["scenario", "compose", "--video", str(video), "--yaw", yaw, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--yaw" in err
    assert set(tmp_path.iterdir()) == before


def test_not_a_video_is_one_line_error_and_writes_nothing(tmp_path, capsys):
    fake = tmp_path / "fake.mp4"
    fake.write_text("this is not a video\n")
    out = tmp_path / "out"
    out.mkdir()
    before = set(tmp_path.rglob("*"))
    assert _compose(tmp_path, fake, "10", "60", out) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "fake.mp4" in err and "video" in err
    after = set(tmp_path.rglob("*")) - {tmp_path / "black.png"}
    assert after == before and not any(out.iterdir())


def test_missing_video_and_bad_fov_are_errors(tmp_path, capsys):
    assert _compose(tmp_path, tmp_path / "none.mp4", "0", "60", tmp_path / "o") == 2
    video = _video(tmp_path / "v.mp4", (80, 45))
    assert _compose(tmp_path, video, "0", "0", tmp_path / "o") == 2
    assert _compose(tmp_path, video, "0", "200", tmp_path / "o") == 2
    assert not (tmp_path / "o").exists()
    assert main(["scenario", "walk_street", "--video", str(video), "--out", str(tmp_path / "o")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 4


def test_real_clip_composes_with_attribution(tmp_path, shared_data):
    real = shared_data("real/intel_car-detection.mp4")  # ../shared/data, else the copy in tests/data
    out = tmp_path / "real"
    assert main(["scenario", "compose", "--video", str(real), "--yaw", "-90", "--fov", "70", "--width", "480",
                 "--duration", "0.5", "--out", str(out)]) == 0
    meta = json.loads((out / "compose.json").read_text())
    assert "CC BY 4.0" in meta["attribution"] and "Intel" in meta["attribution"]
    assert meta["num_frames"] == round(0.5 * meta["fps"]) and len(_frames(out / "clip.mp4")) == meta["num_frames"]
    assert meta["extent"]["yaw_min"] == pytest.approx(-125.0, abs=0.01)
