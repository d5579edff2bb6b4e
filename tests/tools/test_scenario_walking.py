"""Walking wearer in a world with depth: exact parallax, world-fixed ground, head bob, truth in wearer coordinates."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ego360.core.geometry import wrap_deg
from ego360.core.projection import mask_centroid_yawpitch
from ego360.tools.scenario import build_scene, list_scenarios
from ego360.tools.scenario.render import Scene
from ego360.tools.scenario.scene import GROUND_Y, Path2D, Person, ellipsoid, rot_y
from ego360.tools.scenario.wearer import Leg, Walk, tilt
from ego360.tools.scenario.world import Ground, Structure, pole

W, H = 480, 240
NEW = {"walk_street": "Normal", "walk_crowd": "Normal", "walk_past_poles": "Normal", "walk_collide": "Collide",
       "walk_traffic": "Traffic", "walk_throw": "Throw", "walk_steal": "Stealing", "walk_threaten": "Threaten",
       "table_people": "Normal"}


def _grey(w: int = W, h: int = H) -> np.ndarray:
    return np.full((h, w, 3), 90, np.uint8)


def _scene(walk: Walk | None, structures=(), entities=(), *, ground: Ground | None = None, w: int = W,
           frames: int = 60, fps: float = 10.0, camera_height: float = 1.6) -> Scene:
    return Scene("hand", "Normal", list(entities), [], width=w, height=w // 2, fps=fps, num_frames=frames,
                 background=_grey(w, w // 2), wearer=walk, ground=ground, structures=structures,
                 camera_height=camera_height)


def _camera_dir(scene: Scene, frame: int, point: np.ndarray) -> tuple[float, float]:
    """Where geometry says a world point appears in the (bobbing) camera: (yaw, pitch) degrees."""
    pose = scene.pose(frame)
    d = rot_y(0.0) @ tilt(pose.pitch_deg, pose.roll_deg) @ rot_y(-pose.heading_deg) @ (point - pose.camera)
    return math.degrees(math.atan2(d[0], d[2])), math.degrees(math.atan2(d[1], math.hypot(d[0], d[2])))


def test_pole_parallax_is_exact_as_the_wearer_walks_past():
    walk = Walk([Leg(10.0, 1.3)], bob_pitch_deg=0.0, bob_roll_deg=0.0, sway_m=0.0, bounce_m=0.0)
    the_pole = pole(1.5, 6.0, width=0.16, colour=(250, 0, 250))
    scene = _scene(walk, [the_pole])
    yaws = []
    for frame in (0, 20, 35, 45, 52):
        _, ids, _ = scene.render_layers(frame)
        mask = ids == -1
        pose = scene.pose(frame)
        rel = np.array([1.5 - pose.x, 0.0, 6.0 - pose.z])
        expected = math.degrees(math.atan2(rel[0], rel[2]))
        corners = [math.degrees(math.atan2(rel[0] + sx, rel[2] + sz)) for sx in (-0.08, 0.08) for sz in (-0.08, 0.08)]
        # the horizon row crosses the pole: its columns span the square section's corner bearings
        row = mask[H // 2]
        cols = np.flatnonzero(row)
        assert cols.size, f"pole not on the horizon row at frame {frame}"
        yaw_lo, yaw_hi = cols[0] / W * 360 - 180, (cols[-1] + 1) / W * 360 - 180
        px = 360.0 / W
        assert yaw_lo == pytest.approx(min(corners), abs=px)  # within a pixel (edges are sampled at centres)
        assert yaw_hi == pytest.approx(max(corners), abs=px)
        # top of the pole: 3.2 m high, camera 1.6 m: pitch atan(1.6 / distance)
        top_row = np.flatnonzero(mask.any(axis=1))[0]
        top_pitch = 90 - top_row * 180 / H
        assert top_pitch == pytest.approx(math.degrees(math.atan2(1.6, math.hypot(rel[0], rel[2]) - 0.08)),
                                          abs=1.0 + 180 / H)
        yaws.append(expected)
    assert yaws[0] < 15 and yaws[-1] > 90  # the pole swept from ahead to behind-right: real parallax


def test_small_marker_lands_where_the_bobbing_camera_sees_it():
    walk = Walk([Leg(10.0, 1.4)], bob_pitch_deg=2.0, bob_roll_deg=1.5, phase0=0.3)
    marks = [np.array(p) for p in ((-1.2, GROUND_Y + 1.1, 4.0), (2.0, 0.4, 7.0), (0.8, GROUND_Y + 0.3, 9.0))]
    structures = [Structure("marker", float(p[0]), float(p[2]), (ellipsoid(p, [0.06] * 3, np.eye(3), (255, 0, 0)),))
                  for p in marks]
    scene = _scene(walk, structures, w=960, frames=40)
    poses = [scene.pose(f) for f in range(40)]
    assert max(abs(p.pitch_deg) for p in poses) > 1.2 and max(abs(p.roll_deg) for p in poses) > 0.8
    for frame in (3, 11, 17, 26):
        _, ids, _ = scene.render_layers(frame)
        for k, p in enumerate(marks):
            got = mask_centroid_yawpitch(ids == -(k + 1))
            assert got is not None
            exp = _camera_dir(scene, frame, p)
            assert abs(wrap_deg(got[0] - exp[0])) < 0.5 and abs(got[1] - exp[1]) < 0.5, (frame, k, got, exp)


def test_panorama_stays_at_infinity_while_walking():
    walk = Walk([Leg(10.0, 1.3)], bob_pitch_deg=0.0, bob_roll_deg=0.0, sway_m=0.0, bounce_m=0.0)
    rng = np.random.default_rng(0)
    scene = _scene(walk, ground=Ground(seed=1))
    scene.background = rng.integers(0, 255, size=(H, W, 3), dtype=np.uint8)
    a, b = scene.render_frame(0)[0], scene.render_frame(50)[0]
    sky = slice(0, H // 2 - 10)  # above the ground fade: only the panorama
    assert np.abs(a[sky].astype(int) - b[sky]).mean() < 1.0
    ground = slice(H // 2 + 30, H)
    assert np.abs(a[ground].astype(int) - b[ground]).mean() > 5.0  # the ground did move


def test_ground_texture_flows_with_the_camera_translation():
    walk = Walk([Leg(10.0, 1.3)], bob_pitch_deg=0.0, bob_roll_deg=0.0, sway_m=0.0, bounce_m=0.0)
    scene = _scene(walk, ground=Ground(seed=2, shadows=False), w=960)
    f0, f1 = 0, 15
    z0, z1 = scene.pose(f0).z, scene.pose(f1).z
    assert z1 - z0 > 1.5
    img0, img1 = scene.render_frame(f0)[0].astype(int), scene.render_frame(f1)[0].astype(int)
    pts = [np.array([x, GROUND_Y, (z0 + z1) / 2 + dz]) for x in (-3.0, -2.2, 2.2, 3.0) for dz in np.linspace(-1, 1, 9)]

    def px(scene_frame: int, p: np.ndarray) -> tuple[int, int]:
        yaw, pitch = _camera_dir(scene, scene_frame, p)
        return int((0.5 - pitch / 180) * scene.height), int((yaw / 360 + 0.5) * scene.width) % scene.width

    same_point = np.mean([np.abs(img0[px(f0, p)] - img1[px(f1, p)]).mean() for p in pts])
    same_pixel = np.mean([np.abs(img0[px(f0, p)] - img1[px(f0, p)]).mean() for p in pts])
    assert same_point < 10.0 and same_point < 0.4 * same_pixel, (same_point, same_pixel)


def test_gt_bearings_match_mask_centroids_while_walking():
    walk = Walk([Leg(10.0, 1.3)], bob_pitch_deg=1.5, bob_roll_deg=1.0)
    people = [Person(1, Path2D.of([(0.0, 2.5, 12.0), (10.0, 2.5, -2.0)]), top="red"),
              Person(2, Path2D.of([(0.0, -2.0, -6.0), (10.0, -2.0, 16.0)]), top="green"),
              Person(3, Path2D.of([(0.0, -8.0, 9.0), (10.0, 8.0, 9.0)]), top="yellow")]
    scene = _scene(walk, entities=people, ground=Ground(), w=960, frames=80)
    checked = 0
    for frame in (5, 25, 45, 65):
        _, records = scene.render_frame(frame)
        for rec in records:
            if rec.distance_m < 1.5:
                continue
            yaw, _ = mask_centroid_yawpitch(rec.mask())
            assert abs(wrap_deg(yaw - rec.bearing_deg)) < 2.0, (frame, rec.id, yaw, rec.bearing_deg)
            pose = scene.pose(frame)
            c = people[rec.id - 1].centre(frame / scene.fps)
            rel = rot_y(-pose.heading_deg) @ (c - pose.camera)
            assert rec.bearing_deg == pytest.approx(math.degrees(math.atan2(rel[0], rel[2])), abs=1e-6)
            assert rec.distance_m == pytest.approx(math.hypot(rel[0], rel[2]), abs=1e-6)
            checked += 1
    assert checked >= 8


def test_head_bob_at_step_frequency_and_still_when_stopped():
    walk = Walk([Leg(6.0, 1.3), Leg(4.0, 0.0)], bob_pitch_deg=1.5, bob_roll_deg=1.0, accel=2.0)
    t = np.arange(0.0, 6.0, 0.01)
    pitch = np.array([walk.pose(x).pitch_deg for x in t])
    roll = np.array([walk.pose(x).roll_deg for x in t])
    sel = t >= 1.0
    spec = np.abs(np.fft.rfft(pitch[sel] - pitch[sel].mean()))
    freqs = np.fft.rfftfreq(int(sel.sum()), 0.01)
    assert 1.7 <= freqs[int(np.argmax(spec))] <= 2.1
    rspec = np.abs(np.fft.rfft(roll[sel] - roll[sel].mean()))
    assert 0.8 <= freqs[int(np.argmax(rspec))] <= 1.1  # roll/sway once per stride (two steps)
    assert 1.0 <= np.abs(pitch[sel]).max() <= 2.0
    still = walk.pose(9.5)
    assert still.speed == 0.0 and still.pitch_deg == 0.0 and still.roll_deg == 0.0
    assert walk.pose(9.5).z == pytest.approx(walk.pose(9.9).z)  # stopped means stopped


def test_library_lists_walking_scenarios_with_their_classes():
    infos = {i.name: i for i in list_scenarios()}
    for name, cls in NEW.items():
        assert infos[name].cls == cls and infos[name].description


@pytest.mark.parametrize("name", [n for n in NEW if n != "table_people"])
def test_walking_scenarios_walk_and_vary_by_seed(name):
    a, b = build_scene(name, seed=0, width=W, height=H), build_scene(name, seed=7, width=W, height=H)
    pose0, pose1 = a.pose(0), a.pose(int(2.5 * a.fps))
    assert math.hypot(pose1.x - pose0.x, pose1.z - pose0.z) > 2.0  # walking at ~1.1-1.5 m/s
    assert a.structures and a.ground is not None
    frame = int(4 * a.fps)
    assert a.geometry(frame) != b.geometry(frame)
    gt = a.gt_header()
    assert len(gt.events) == (0 if NEW[name] == "Normal" else 1)
    for ev in gt.events:
        assert ev.start_frame >= 1.5 * a.fps
        assert ev.perpetrator in {r.id for r in a.render_frame(ev.start_frame)[1]}
    errors = [abs(wrap_deg(mask_centroid_yawpitch(r.mask())[0] - r.bearing_deg))
              for f in range(0, a.num_frames, 60) for r in a.render_frame(f)[1]
              if r.distance_m > 1.5 and r.visible_px > 60]
    assert errors and max(errors) < 3.0  # truth bearings (3-D centres) sit on the rendered masks


@pytest.mark.parametrize("seed", [0, 3, 11])
def test_walk_collide_is_a_collision_course_from_the_front_right(seed):
    scene = build_scene("walk_collide", seed=seed, width=W, height=H)
    (ev,) = scene.gt_header().events
    geo = [scene.geometry(f)[ev.perpetrator] for f in range(ev.start_frame, ev.end_frame + 1)]
    assert 15.0 < geo[0][0] < 70.0 and geo[0][2] > 7.0
    far = [g[0] for g in geo if g[2] > 3.0]
    assert max(far) - min(far) < 10.0  # constant bearing, decreasing range
    assert min(g[2] for g in geo) < 0.9
    assert scene.pose(ev.start_frame).speed > 1.0


def test_table_camera_is_static_at_table_height():
    scene = build_scene("table_people", seed=0, width=W, height=H)
    p0, p1 = scene.pose(0), scene.pose(200)
    assert p0.height_m == p1.height_m == 0.8 and (p0.x, p0.z) == (p1.x, p1.z) == (0.0, 0.0)
    dists = [g[2] for f in range(0, scene.num_frames, 30) for g in scene.geometry(f).values()]
    assert min(dists) < 5.0 and not scene.gt_header().events
    _, records = scene.render_frame(150)
    for rec in records:  # 0.8 m camera: people's 0.9 m-high centres are just above the horizon
        assert -5.0 < rec.pitch_deg < 5.0


@pytest.mark.parametrize(("heading", "pitch", "roll"), [(0.0, 1.5, 1.0), (179.5, -2.0, 1.2), (-170.0, 0.5, -1.8)])
def test_panorama_map_matches_the_exact_projection(heading, pitch, roll):
    from ego360.core.geometry import equirect_rays
    from ego360.tools.scenario.world import pano_maps

    rot = rot_y(10.0) @ tilt(pitch, roll) @ rot_y(-heading)
    mx, my = pano_maps(rot, 0, H, W, H, W, H)
    d = equirect_rays(W, H).astype(np.float64) @ rot
    ex = np.arctan2(d[..., 0], d[..., 2]) * W / (2 * np.pi) + W / 2 - 0.5
    ey = np.clip(np.arcsin(np.clip(d[..., 1], -1, 1)) * (-H / np.pi) + H / 2 - 0.5, 0, H - 1)
    arc = np.abs((mx - ex + W / 2) % W - W / 2) * np.cos(np.radians(90 - (np.arange(H) + 0.5) * 180 / H))[:, None]
    assert arc.max() < 0.05 and np.abs(my - ey).max() < 0.05  # in pixels of arc (columns narrow toward the poles)


def test_structures_in_anyones_way_are_cleared():
    from ego360.tools.scenario.walking import Setup, clear_paths
    from ego360.tools.scenario.world import wall

    crosser = Person(1, Path2D.of([(0.0, -8.0, 10.0), (10.0, 8.0, 10.0)]))
    walk = Walk([Leg(10.0, 1.2)])
    through, beside, on_path = wall(-4.5, 10.5, 4.0), wall(-4.5, 20.0, 4.0), pole(0.1, 5.0)
    kept = clear_paths(Setup([crosser], [], walk, [through, beside, on_path]), 10.0)
    assert kept == [beside]


def test_gt_json_carries_pose_and_camera_height_and_old_files_still_load(tmp_path):
    import json

    from ego360.tools.scenario import load_gt, render_scenario

    kw = dict(seed=4, width=128, height=64, fps=10.0, duration_s=1.2)
    out = render_scenario("walk_street", tmp_path / "walk", progress=False, **kw)
    gt = load_gt(out)
    scene = build_scene("walk_street", **kw)
    assert gt.camera_height_m == pytest.approx(1.6)
    assert len(gt.frames) == 12 and all(f.wearer is not None for f in gt.frames)
    for f in gt.frames:
        p = scene.pose(f.frame)
        w = f.wearer
        got = (w.x_m, w.z_m, w.heading_deg, w.height_m)
        assert got == pytest.approx((p.x, p.z, p.heading_deg, p.height_m), abs=1e-3)
        assert (w.pitch_deg, w.roll_deg, w.speed_mps) == pytest.approx((p.pitch_deg, p.roll_deg, p.speed), abs=1e-3)
    assert gt.frames[-1].wearer.z_m > gt.frames[0].wearer.z_m + 1.0  # it walked
    table = load_gt(render_scenario("table_people", tmp_path / "table", progress=False, **kw))
    assert table.camera_height_m == pytest.approx(0.8) and table.frames[3].wearer.height_m == pytest.approx(0.8)
    # a standing scene writes neither field, and a file without them loads with None
    old = render_scenario("stealing", tmp_path / "old", progress=False, **kw)
    data = json.loads((old / "gt.json").read_text())
    assert "camera_height_m" not in data and all("wearer" not in f for f in data["frames"])
    legacy = load_gt(old)
    assert legacy.camera_height_m is None and legacy.frames[0].wearer is None


def test_cli_list_shows_the_walking_scenarios(capsys):
    from ego360.tools.cli import main

    assert main(["scenario", "--list"]) == 0
    out = capsys.readouterr().out
    for name, cls in NEW.items():
        line = next((ln for ln in out.splitlines() if f" {name} " in ln), "")
        assert cls in line, f"{name} missing or without its class in --list"


def test_mirrored_street_puts_the_road_on_the_left():
    from ego360.tools.scenario.world import TEX_N, TEX_X0, TEXEL_M, ground_mips

    def brightness(ground: Ground, x: float) -> float:
        col = int((x - TEX_X0) / TEXEL_M) % TEX_N
        return float(ground_mips(ground)[0][:, col].mean())

    right, left = Ground(seed=5, shadows=False), Ground(seed=5, shadows=False, road_side=-1)
    assert brightness(right, 6.0) < 100 < brightness(right, -6.0)  # asphalt right of the kerb, paving left
    assert brightness(left, -6.0) < 100 < brightness(left, 6.0)
    assert brightness(left, -6.0) == pytest.approx(brightness(right, 6.0), abs=3.0)
