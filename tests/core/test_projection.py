"""Cube faces bit-identical to py360convert, face order on real data, inverse maps and mask helpers."""

from __future__ import annotations

import numpy as np
import pytest

from ego360.core.errors import InputError
from ego360.core.projection import (
    FACE_NAMES,
    Cubemap,
    PerspectiveView,
    equirect_px_to_yawpitch,
    mask_box_wrapped,
    mask_centroid_yawpitch,
    yawpitch_to_equirect_px,
)

py360convert = pytest.importorskip("py360convert")
STREET = "street_equirect_3840x1920.jpg"


@pytest.fixture
def load_rgb(shared_data):
    """`load_rgb(name, size=None)`: a shared-data image as RGB uint8, resized to (W, H) when given. Without
    ../shared the street panorama falls back to the scenario generator's bundled copy (up to 1920 wide)."""
    import cv2

    from ego360.tools.scenario.background import PANORAMA

    def load(name: str, size: tuple[int, int] | None = None) -> np.ndarray:
        small = name.startswith("street_") and size is not None and size[0] <= 1920
        path = shared_data(name, fallback=PANORAMA if small else None)
        img = cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        if size is not None and img.shape[1::-1] != size:
            img = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
        return img

    return load


def cap_mask(yaw: float, pitch: float, radius_deg: float, W: int, H: int) -> np.ndarray:
    """Equirect mask of a spherical cap: every pixel centre within radius_deg of (yaw, pitch)."""
    from ego360.core.geometry import yawpitch_to_dir

    xs, ys = np.meshgrid(np.arange(W) + 0.5, np.arange(H) + 0.5)
    d = yawpitch_to_dir(*equirect_px_to_yawpitch(xs, ys, W, H))
    c = yawpitch_to_dir(yaw, pitch)
    return d @ c >= np.cos(np.radians(radius_deg))


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def _ref(img: np.ndarray, face_w: int, mode: str = "bilinear") -> np.ndarray:
    return np.stack(py360convert.e2c(img, face_w, mode=mode, cube_format="list"))


@pytest.mark.parametrize("size,face_w", [((1920, 960), 256), ((1920, 960), 512), ((3840, 1920), 512),
                                         ((3840, 1920), 256)])
def test_faces_bit_identical_on_street_panorama(size, face_w, load_rgb):
    img = load_rgb(STREET, size)
    ours = Cubemap(face_w, img.shape[:2]).faces(img)
    assert ours.shape == (6, face_w, face_w, 3) and ours.dtype == np.uint8
    assert int(np.abs(ours.astype(np.int16) - _ref(img, face_w)).max()) == 0


# (H, W, channels, face_w): odd sizes, a grey image, and faces large enough that taps reach the rolled
# pole rows of py360convert's padding (the fix-up path).
RANDOM_CASES = [(64, 128, 3, 33), (61, 123, 3, 32), (50, 100, None, 17), (32, 64, 3, 64), (32, 64, 3, 65),
                (97, 190, 3, 40)]


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
@pytest.mark.parametrize("h,w,c,face_w", RANDOM_CASES)
def test_faces_bit_identical_on_random_images(h, w, c, face_w, mode):
    rng = np.random.default_rng(h * 1000 + face_w)
    img = rng.integers(0, 256, (h, w) if c is None else (h, w, c), dtype=np.uint8)
    ours = Cubemap(face_w, (h, w), mode).faces(img)
    assert np.array_equal(ours, _ref(img, face_w, mode))


def test_pole_rows_fixup_matters():
    """Guard that the random cases above really exercise the rolled-row fix-up (else it could rot)."""
    from ego360.core.projection import _cube_tables

    assert sum(idx.size for idx, _, _ in _cube_tables(64, 32, 64, "bilinear").fixups) > 0


def test_face_order_on_axes_image(load_rgb):
    """+Z front red, +X right green, −Z back blue, −X left yellow, top magenta, bottom cyan."""
    img = load_rgb("axes_equirect_1024x512.png")
    faces = Cubemap(64, img.shape[:2]).faces(img)
    palette = np.array([(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (255, 0, 255), (0, 255, 255)])
    for k, name in enumerate(FACE_NAMES):
        median = np.median(faces[k].reshape(-1, 3), axis=0)
        nearest = int(np.argmin(np.linalg.norm(palette - median, axis=1)))
        assert nearest == k, (name, median)


def test_faces_are_continuous_across_edges(load_rgb):
    """Edge pixel centres of neighbouring faces are the same directions, so the colours must agree."""
    img = load_rgb(STREET, (1920, 960))
    f = Cubemap(128, img.shape[:2]).faces(img).astype(np.int16)
    F, R, B, L, U, D = f
    pairs = [(F[:, -1], R[:, 0]), (R[:, -1], B[:, 0]), (B[:, -1], L[:, 0]), (L[:, -1], F[:, 0]),
             (U[-1, :], F[0, :]), (D[0, :], F[-1, :]), (U[0, ::-1], B[0, :])]
    for a, b in pairs:
        assert np.abs(a - b).mean() < 3.0
    assert np.abs(F[:, -1] - L[:, 0]).mean() > 10.0  # a wrong neighbour would differ a lot


def test_face_pixels_match_py360convert_sampling_coordinates():
    from py360convert.utils import uv2coor, xyz2uv, xyzcube

    fw, H, W = 48, 200, 400
    cube = Cubemap(fw, (H, W))
    u, v = xyz2uv(xyzcube(fw).astype(np.float64))
    ref_x, ref_y = uv2coor(u[..., 0], v[..., 0], H, W)
    cols, rows = np.meshgrid(np.arange(fw) + 0.5, np.arange(fw) + 0.5)
    for k in range(6):
        x, y = yawpitch_to_equirect_px(*cube.face_pixel_to_yawpitch(k, cols, rows), W, H)
        rx, ry = ref_x[:, k * fw:(k + 1) * fw] + 0.5, ref_y[:, k * fw:(k + 1) * fw] + 0.5
        dx = (x - rx + W / 2) % W - W / 2
        assert np.abs(dx).max() < 1e-3 and np.abs(y - ry).max() < 1e-3


def test_face_pixel_round_trip():
    cube = Cubemap(64, (480, 960))
    rng = np.random.default_rng(3)
    u, v = rng.uniform(0, 64, 200), rng.uniform(0, 64, 200)
    for k in range(6):
        u2, v2, front = cube.yawpitch_to_face_pixel(k, *cube.face_pixel_to_yawpitch(k, u, v))
        assert front.all() and np.abs(u2 - u).max() < 1e-6 and np.abs(v2 - v).max() < 1e-6


def test_equirect_pixel_round_trip_and_convention():
    W, H = 1920, 960
    assert yawpitch_to_equirect_px(0.0, 0.0, W, H) == (960.0, 480.0)
    assert yawpitch_to_equirect_px(90.0, 45.0, W, H) == (1440.0, 240.0)
    assert equirect_px_to_yawpitch(0.0, 0.0, W, H) == (180.0, 90.0)
    xs, ys = np.meshgrid(np.arange(W) + 0.5, np.arange(H) + 0.5)
    x2, y2 = yawpitch_to_equirect_px(*equirect_px_to_yawpitch(xs, ys, W, H), W, H)
    assert np.abs(x2 - xs).max() < 0.5 and np.abs(y2 - ys).max() < 0.5


def test_perspective_view_direction_on_axes_image(load_rgb):
    img = load_rgb("axes_equirect_1024x512.png")
    view = PerspectiveView(45.0, 0.0, 80.0, out_size=(160, 80), equirect_size=img.shape[:2]).render(img)
    left, right = np.median(view[30:50, 10:60].reshape(-1, 3), 0), np.median(view[30:50, 100:150].reshape(-1, 3), 0)
    assert left[0] > 200 and left[1] < 80  # front face (red) on the left
    assert right[1] > 200 and right[0] < 150  # right face (green) on the right
    up = PerspectiveView(0.0, 90.0, 60.0, out_size=(64, 64), equirect_size=img.shape[:2]).render(img)
    assert np.all(np.abs(np.median(up.reshape(-1, 3), 0) - (255, 0, 255)) < 80)


def test_perspective_view_pixel_round_trip():
    view = PerspectiveView(-150.0, 20.0, 100.0, out_size=(320, 240), equirect_size=(960, 1920))
    assert np.allclose(view.pixel_to_yawpitch(160.0, 120.0), (-150.0, 20.0))
    rng = np.random.default_rng(0)
    u, v = rng.uniform(0, 320, 500), rng.uniform(0, 240, 500)
    u2, v2, front = view.equirect_to_view_points(*view.pixel_to_yawpitch(u, v))
    assert front.all() and np.abs(u2 - u).max() < 1e-6 and np.abs(v2 - v).max() < 1e-6
    ub, vb, fb = view.equirect_to_view_points(30.0, -20.0)  # the opposite direction
    assert fb is False and np.isnan(ub) and np.isnan(vb)
    x, y = view.view_to_equirect_px(160.0, 120.0)
    assert abs(x - (-150 / 360 + 0.5) * 1920) < 1e-6 and abs(y - (0.5 - 20 / 180) * 960) < 1e-6


@pytest.mark.parametrize("yaw,pitch,cap_yaw,cap_pitch", [(30.0, 10.0, 40.0, 15.0), (180.0, 0.0, -172.0, -5.0),
                                                         (0.0, 80.0, 120.0, 82.0)])
def test_view_mask_round_trip(yaw, pitch, cap_yaw, cap_pitch):
    H, W = 240, 480
    cap = cap_mask(cap_yaw, cap_pitch, 12.0, W, H)
    view = PerspectiveView(yaw, pitch, 90.0, out_size=(256, 256), equirect_size=(H, W))
    in_view = view.mask_from_equirect(cap)
    assert in_view.sum() > 500
    back = view.mask_to_equirect(in_view)
    assert back.shape == (H, W) and back.dtype == bool
    assert iou(back, cap) > 0.9


def test_face_mask_round_trip():
    H, W = 240, 480
    cube = Cubemap(128, (H, W), mode="nearest")
    for k, (yaw, pitch) in enumerate([(10, 5), (100, -10), (-170, 0), (-80, 20), (40, 75), (0, -70)]):
        cap = cap_mask(yaw, pitch, 10.0, W, H)
        face_mask = cube.faces(cap.astype(np.uint8))[k] > 0
        back = cube.face_mask_to_equirect(k, face_mask)
        assert iou(back, cap) > 0.85, FACE_NAMES[k]
        opposite = (2, 3, 0, 1, 5, 4)[k]  # the same pixels read as the opposite face land elsewhere
        wrong = cube.face_mask_to_equirect(opposite, face_mask)
        assert wrong.sum() > 0.5 * cap.sum() and not (wrong & cap).any()


def test_mask_centroid_across_seam():
    H, W = 180, 360
    m = np.zeros((H, W), bool)
    m[80:100, :10] = True
    m[80:100, -10:] = True
    yaw, pitch = mask_centroid_yawpitch(m)
    assert abs(abs(yaw) - 180.0) < 1e-6 and abs(pitch) < 1e-6
    m2 = cap_mask(-60.0, 30.0, 8.0, W, H)
    yaw2, pitch2 = mask_centroid_yawpitch(m2)
    assert abs(yaw2 + 60.0) < 1.0 and abs(pitch2 - 30.0) < 1.0
    assert mask_centroid_yawpitch(np.zeros((H, W), bool)) is None


def test_mask_box_wrapped():
    H, W = 100, 200
    m = np.zeros((H, W), bool)
    m[10:20, 190:] = True
    m[15:30, :5] = True
    box = mask_box_wrapped(m)
    assert (box.x0, box.y0, box.x1, box.y1) == (190.0, 10.0, 205.0, 30.0)
    m2 = np.zeros((H, W), bool)
    m2[40:50, 60:90] = True
    b2 = mask_box_wrapped(m2)
    assert (b2.x0, b2.y0, b2.x1, b2.y1) == (60.0, 40.0, 90.0, 50.0)
    full = np.ones((H, W), bool)
    assert (mask_box_wrapped(full).x0, mask_box_wrapped(full).x1) == (0.0, 200.0)
    assert mask_box_wrapped(np.zeros((H, W), bool)) is None


def test_wrong_frame_size_is_a_user_error():
    with pytest.raises(InputError, match="build it with the frame's size"):
        Cubemap(32, (100, 200)).faces(np.zeros((50, 100, 3), np.uint8))
    with pytest.raises(InputError):
        PerspectiveView(0, 0, 90, (32, 32), (100, 200)).render(np.zeros((100, 100, 3), np.uint8))
