"""Ground-truth scenario generator: masks, bearings, seam, occlusion, camera options, files."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ego360.core.errors import UserError
from ego360.tools.scenario import build_scene, list_scenarios, load_gt, render_scenario
from ego360.tools.scenario.background import procedural_background
from ego360.tools.scenario.gt import direction_of, gt_from_dict
from ego360.tools.scenario.render import Scene
from ego360.tools.scenario.scene import Path2D, Person, polar
from ego360.tools.scenario.source import ScenarioSource

SMALL = {"width": 512, "height": 256, "background": "procedural"}


# Hand-placed scenes and mask measurements.
def standing_person(pid: int, bearing: float, dist: float, top: str = "red", bottom: str = "blue") -> Person:
    """A person standing still at a world bearing/distance, facing the wearer (symmetric silhouette)."""
    x, z = polar(bearing, dist)
    return Person(pid, Path2D.of([(0.0, x, z), (1.0, x, z)]), top=top, bottom=bottom, face=(0.0, 0.0))


def hand_scene(people, *, width: int = 512, height: int = 256, fps: float = 10.0, num_frames: int = 3,
               yaw_offset_deg: float = 0.0, ego_yaw_rate_dps: float = 0.0) -> Scene:
    bg = np.array(procedural_background(width, height))
    return Scene("hand", "Normal", list(people), [], width=width, height=height, fps=fps, num_frames=num_frames,
                 ego_yaw_rate_dps=ego_yaw_rate_dps, yaw_offset_deg=yaw_offset_deg, background=bg)


def mask_bearing(mask: np.ndarray, yaw_offset_deg: float = 0.0) -> float:
    """Wearer-relative yaw of a mask's pixels: circular mean of pixel-centre camera yaw, minus offset."""
    h, w = mask.shape
    cols = np.nonzero(mask)[1]
    yaw = np.radians(((cols + 0.5) / w - 0.5) * 360.0)
    mean = np.degrees(np.arctan2(np.sin(yaw).mean(), np.cos(yaw).mean()))
    return wrap(mean - yaw_offset_deg)


def wrap(a: float) -> float:
    return (a + 180.0) % 360.0 - 180.0 if (a + 180.0) % 360.0 != 0 else 180.0


def box_contains(box, mask: np.ndarray) -> bool:
    """True when every mask pixel is inside box (x1 may exceed W at the seam)."""
    h, w = mask.shape
    x0, y0, x1, y1 = box
    ys, xs = np.nonzero(mask)
    xs_unwrapped = np.where(xs < x0, xs + w, xs)
    return bool(ys.min() >= y0 and ys.max() < y1 and xs_unwrapped.min() >= x0 and xs_unwrapped.max() < x1)


def _by_id(records):
    return {r.id: r for r in records}


@pytest.mark.parametrize("offset", [0.0, 37.0])
def test_mask_centroid_maps_back_to_bearing(offset):
    bearings = [-135.0, -45.0, 0.0, 60.0, 179.5]
    people = [standing_person(i + 1, b, 3.0 + i * 0.7) for i, b in enumerate(bearings)]
    scene = hand_scene(people, yaw_offset_deg=offset)
    _, records = scene.render_frame(0)
    recs = _by_id(records)
    assert set(recs) == {1, 2, 3, 4, 5}
    for i, b in enumerate(bearings):
        rec = recs[i + 1]
        assert rec.bearing_deg == pytest.approx(b, abs=1e-6)
        assert rec.distance_m == pytest.approx(3.0 + i * 0.7, abs=1e-6)
        assert abs(wrap(mask_bearing(rec.mask(), offset) - b)) < 1.0


def test_masks_decode_to_size_count_and_box():
    scene = build_scene("stealing", seed=1, **SMALL)
    seen_seam = False
    for frame in (0, 75, 125, 140, 200):
        _, records = scene.render_frame(frame)
        for rec in records:
            m = rec.mask()
            assert m.shape == (256, 512) and m.dtype == bool
            assert int(m.sum()) == rec.visible_px > 0
            assert box_contains(rec.box, m)
            x0, y0, x1, y1 = rec.box
            ys, xs = np.nonzero(m)
            assert (ys.min(), ys.max() + 1) == (y0, y1)  # tight
            assert 0 <= x0 < 512 and x1 - x0 <= 512
            seen_seam |= x1 > 512
    assert seen_seam, "stealing approaches from behind: its mask should straddle the seam at some frame"


def test_teasing_crosses_seam_with_same_id():
    scene = build_scene("teasing", seed=0, **SMALL)
    event = scene.gt_header().events[0]
    perp = event.perpetrator
    bearings = [scene.geometry(i)[perp][0] for i in range(event.start_frame, event.end_frame + 1)]
    flips = [i for i in range(1, len(bearings)) if abs(bearings[i] - bearings[i - 1]) > 180]
    assert flips, "the perpetrator must pass through yaw ±180"
    crossing = event.start_frame + flips[0]
    assert 1.3 < scene.geometry(crossing)[perp][2] < 1.7
    for frame in (crossing - 1, crossing):
        _, records = scene.render_frame(frame)
        rec = _by_id(records)[perp]  # same id on both sides of the seam
        m = rec.mask()
        assert m[:, 0].any() and m[:, -1].any(), "mask should split across the seam"
        assert rec.box[2] > 512
        assert abs(wrap(mask_bearing(m) - rec.bearing_deg)) < 5.0


def test_nearer_entity_occludes_farther():
    near, far = standing_person(1, 30.0, 2.0), standing_person(2, 30.0, 5.0, top="green")
    both = _by_id(hand_scene([near, far]).render_frame(0)[1])
    alone_near = hand_scene([near]).render_frame(0)[1][0].mask()
    alone_far = hand_scene([far]).render_frame(0)[1][0].mask()
    m1, m2 = both[1].mask(), both[2].mask()
    assert np.array_equal(m1, alone_near)
    assert np.array_equal(m2, alone_far & ~alone_near)
    assert both[2].visible_px < alone_far.sum()
    assert not (m1 & m2).any()


def test_fully_hidden_entity_is_omitted():
    near, far = standing_person(1, -60.0, 1.0), standing_person(2, -60.0, 9.0)
    records = hand_scene([near, far]).render_frame(0)[1]
    assert [r.id for r in records] == [1]


def test_yaw_offset_shifts_pixels_not_bearings():
    frame = 130
    img0, rec0 = build_scene("stealing", seed=0, **SMALL).render_frame(frame)
    img90, rec90 = build_scene("stealing", seed=0, yaw_offset_deg=90.0, **SMALL).render_frame(frame)
    r0, r90 = _by_id(rec0), _by_id(rec90)
    assert set(r0) == set(r90)
    for eid in r0:
        assert r90[eid].bearing_deg == r0[eid].bearing_deg
        shifted = np.roll(r0[eid].mask(), 128, axis=1)  # +90° = +W/4 columns
        assert (shifted ^ r90[eid].mask()).sum() <= 0.01 * shifted.sum() + 2
    assert np.abs(np.roll(img0, 128, axis=1).astype(int) - img90).mean() < 1.0


def test_ego_rotation_turns_world_not_truth():
    rate = 0.703125 * 4 * 10  # 4 columns per frame at 512 px and 10 fps
    scene = hand_scene([standing_person(1, 30.0, 4.0)], ego_yaw_rate_dps=rate, num_frames=12)
    img0, rec0 = scene.render_frame(0)
    img5, rec5 = scene.render_frame(5)
    assert rec0[0].bearing_deg == pytest.approx(30.0, abs=1e-6)
    assert rec5[0].bearing_deg == pytest.approx(30.0 - 5 * rate / 10, abs=1e-6)
    assert abs(wrap(mask_bearing(rec5[0].mask()) - rec5[0].bearing_deg)) < 1.0
    empty = hand_scene([], ego_yaw_rate_dps=rate)
    assert np.array_equal(empty.render_frame(1)[0], np.roll(empty.render_frame(0)[0], -4, axis=1))


def test_deterministic_by_seed():
    a = build_scene("glancing", seed=3, noise=0.02, flicker=0.1, **SMALL)
    b = build_scene("glancing", seed=3, noise=0.02, flicker=0.1, **SMALL)
    c = build_scene("glancing", seed=4, noise=0.02, flicker=0.1, **SMALL)
    ia, ra = a.render_frame(90)
    ib, rb = b.render_frame(90)
    assert np.array_equal(ia, ib) and ra == rb
    assert a.gt_header() == b.gt_header()
    assert not np.array_equal(ia, c.render_frame(90)[0])
    assert a.geometry(90)[1] != c.geometry(90)[1]


def test_noise_and_flicker_change_pixels_not_truth():
    clean_img, clean = build_scene("threaten", seed=0, **SMALL).render_frame(100)
    noisy_img, noisy = build_scene("threaten", seed=0, noise=0.03, flicker=0.2, **SMALL).render_frame(100)
    assert clean == noisy
    assert 0.5 < np.abs(clean_img.astype(int) - noisy_img).mean() < 60


def test_mp4_and_gt_round_trip(tmp_path):
    import av

    kw = dict(seed=2, width=512, height=256, fps=10.0, duration_s=1.0, background="procedural")
    out = render_scenario("throw", tmp_path / "clip", progress=False, **kw)
    assert sorted(p.name for p in out.iterdir()) == ["clip.mp4", "gt.json"]
    with av.open(str(out / "clip.mp4")) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264" and float(stream.average_rate) == pytest.approx(10.0)
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) == 10 and frames[0].shape == (256, 512, 3)
    scene = build_scene("throw", **kw)
    img3, rec3 = scene.render_frame(3)
    assert np.abs(frames[3].astype(int) - img3).mean() < 8.0
    gt = load_gt(out / "gt.json")
    assert gt == load_gt(out)
    assert gt.events == scene.gt_header().events and gt.entities == scene.gt_header().entities
    assert gt.num_frames == len(gt.frames) == 10
    for rec in rec3:
        got = gt.entity_frame(3, rec.id)
        assert got.box == rec.box and got.visible_px == rec.visible_px
        assert np.array_equal(gt.mask(3, rec.id), rec.mask())
    assert not gt.mask(3, 99).any()
    assert gt_from_dict(gt.to_dict()) == gt


def test_failed_render_leaves_nothing(tmp_path, monkeypatch):
    from ego360.tools.scenario.render import Scene

    real = Scene.render_frame

    def broken(self, frame):
        if frame == 3:
            raise RuntimeError("boom")
        return real(self, frame)

    monkeypatch.setattr(Scene, "render_frame", broken)
    with pytest.raises(RuntimeError):
        render_scenario("collide", tmp_path, progress=False, width=512, height=256, fps=10, duration_s=1.0,
                        background="procedural")
    assert list(tmp_path.iterdir()) == []


EXPECTED_CLOSEST = {  # (min, max) closest approach of the perpetrator during the event, metres
    "stealing": (0.4, 0.7), "teasing": (1.3, 1.7), "glancing": (0.45, 0.75), "collide": (0.2, 0.45),
    "threaten": (0.8, 1.2), "traffic": (1.8, 2.6),
}


@pytest.mark.parametrize("info", list_scenarios(), ids=lambda i: i.name)
def test_library_scenario_builds_with_true_event(info):
    scene = build_scene(info.name, seed=0, **SMALL)
    gt = scene.gt_header()
    assert gt.cls == info.cls and scene.num_frames == (360 if info.name.startswith(("walk_", "table_")) else 240)
    if info.cls == "Normal":
        assert gt.events == ()
        assert {e.role for e in gt.entities} == {"none"}
        assert scene.ego_yaw_rate_dps == (25.0 if info.name == "normal_turning" else 0.0)
        return
    (event,) = gt.events
    ids = {e.id: e for e in gt.entities}
    assert event.start_frame >= 1.5 * scene.fps and event.start_frame < event.end_frame < scene.num_frames
    assert ids[event.perpetrator].role == "perpetrator"
    assert event.direction == direction_of(scene.geometry(event.start_frame)[event.perpetrator][0])
    _, records = scene.render_frame(event.start_frame)
    assert event.perpetrator in _by_id(records)
    span = range(event.start_frame, event.end_frame + 1)
    dist = [scene.geometry(i)[event.perpetrator][2] for i in span]
    if info.name in EXPECTED_CLOSEST:
        lo, hi = EXPECTED_CLOSEST[info.name]
        assert lo <= min(dist) <= hi
        assert min(scene.geometry(i)[event.perpetrator][2] for i in range(event.start_frame)) > 3.0
    if info.name == "throw":
        obj = next(e for e in gt.entities if e.kind == "object")
        assert obj.role == "related"
        assert 4.0 < dist[0] < 6.0
        assert min(scene.geometry(i)[obj.id][2] for i in span if obj.id in scene.geometry(i)) < 0.5
    if info.name == "stealing_other":
        assert isinstance(event.victim, int) and ids[event.victim].role == "victim"
        gap = min(np.linalg.norm(scene.entities[0].centre(i / scene.fps) - scene.entities[1].centre(i / scene.fps))
                  for i in span)
        assert gap < 0.7
    else:
        assert event.victim == "wearer"


def test_library_covers_front_behind_left_right():
    onsets = []
    for info in list_scenarios():
        scene = build_scene(info.name, seed=0, **SMALL)
        for ev in scene.gt_header().events:
            onsets.append(scene.geometry(ev.start_frame)[ev.perpetrator][0])
    assert any(abs(b) <= 30 for b in onsets) and any(abs(b) >= 150 for b in onsets)
    assert any(-150 < b < -30 for b in onsets) and any(30 < b < 150 for b in onsets)


def test_bad_options_are_user_errors():
    with pytest.raises(UserError, match="valid: stealing"):
        build_scene("robbery")
    with pytest.raises(UserError, match="width = 2 x height"):
        build_scene("stealing", width=500, height=256)


def test_cli_unknown_name_exits_2(tmp_path, capsys):
    from ego360.tools.cli import main

    assert main(["scenario", "robbery", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "teasing" in err


def test_scenario_source_yields_packets_and_truth():
    src = ScenarioSource("collide", seed=0, width=512, height=256, fps=10.0, duration_s=0.5, background="procedural")
    assert src.info.live is False and (src.info.width, src.info.height, src.info.num_frames) == (512, 256, 5)
    packets = list(src)
    src.close()
    assert [p.frame_index for p in packets] == list(range(5))
    assert [p.video_t for p in packets] == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])
    assert packets[2].image.shape == (256, 512, 3) and packets[2].image.dtype == np.uint8
    assert all(b.capture_ns >= a.capture_ns for a, b in zip(packets, packets[1:], strict=False))
    gt = src.gt
    assert len(gt.frames) == 5
    assert gt.frames[4].entities == tuple(src.scene.render_frame(4)[1])
    assert math.isclose(gt.fps, 10.0)


def test_column_band_rle_matches_full_frame_rle():
    from ego360.tools.scenario.gt import decode_rle, encode_rle, encode_rle_columns

    rng = np.random.default_rng(0)
    for c0, width, first, last in [(0, 7, True, True), (3, 4, False, False), (5, 2, True, False), (2, 3, False, True)]:
        band = rng.random((6, width)) < 0.5
        band[0, 0], band[-1, -1] = first, last
        full = np.zeros((6, 12), dtype=bool)
        full[:, c0:c0 + width] = band
        rle = encode_rle_columns(band, c0, 12)
        assert rle == encode_rle(full)
        assert np.array_equal(decode_rle(rle), full)


def test_mpeg4_fallback_when_libx264_missing(tmp_path, monkeypatch):
    import av

    from ego360.tools.scenario import clip

    monkeypatch.setattr(clip, "CODECS", ("no_such_codec", "mpeg4"))
    out = render_scenario("traffic", tmp_path, progress=False, width=512, height=256, fps=10, duration_s=0.3,
                          background="procedural")
    with av.open(str(out / "clip.mp4")) as container:
        assert container.streams.video[0].codec_context.name == "mpeg4"
        assert sum(1 for _ in container.decode(video=0)) == 3


def test_scenario_source_honours_open_source_options():
    from ego360.core.config import SourceConfig

    src = ScenarioSource("collide", cfg=SourceConfig(max_width=512), realtime=False, live=False, fps=10.0,
                         duration_s=0.2, background="procedural")
    assert (src.info.width, src.info.height) == (512, 256)
    assert [p.image.shape for p in src] == [(256, 512, 3)] * 2
