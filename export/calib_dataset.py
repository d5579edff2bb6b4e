"""INT8 calibration set: the follow-views the SAM2 tracker actually sees, cut from replay clips.

Why follow-views and not whole frames or cube faces: INT8 ranges are fitted to activation statistics,
and the tracker's image encoder only ever sees perspective views centred (within the re-centring
slack) on an entity. Policy, per source, every `stride`-th frame:
- scenario sources (with ground truth): one view per visible entity, aimed at its box centre, moved by
  a seeded offset of up to `fov/6` in yaw and pitch (the drift `FollowViewTracker` allows before it
  re-centres);
- other clips (no ground truth): four views at yaw 0, 90, 180, -90 and pitch 0 (where street scenes put
  their entities), each with the same seeded offset.
Every `held_out_every`-th view goes to the held-out split (the accuracy report), never to calibration.
Views are stored as uint8 RGB `.npy` batches (`calib_00000.npy`, `heldout_00000.npy`: N×V×V×3) with an
`index.json`; put the folder under the git-ignored `exports/`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ego360.core.errors import InputError

INDEX = "index.json"
FORMAT = 1
SPLITS = ("calib", "heldout")
_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)[:, None, None]
_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)[:, None, None]
_FALLBACK_YAWS = (0.0, 90.0, 180.0, -90.0)


@dataclass(frozen=True)
class CalibSet:
    folder: Path
    views: dict[str, int]  # split -> number of views
    files: dict[str, list[str]]  # split -> batch files
    view_size: int
    fov_deg: float


def aims_for_frame(packet: object, gt: object | None) -> list[tuple[float, float]]:
    """(yaw, pitch) view centres on one frame: ground-truth box centres, else the fallback directions."""
    from ego360.core.projection import equirect_px_to_yawpitch

    if gt is None:
        return [(yaw, 0.0) for yaw in _FALLBACK_YAWS]
    h, w = packet.image.shape[:2]  # type: ignore[attr-defined]
    try:
        records = gt.frames[packet.frame_index].entities  # type: ignore[attr-defined]
    except (IndexError, AttributeError):
        return []
    aims = []
    for rec in records:
        x0, y0, x1, y1 = rec.box
        # gt boxes may be at another resolution than the (downscaled) frame: scale by the gt size
        sx, sy = w / gt.width, h / gt.height  # type: ignore[attr-defined]
        cx, cy = ((x0 + x1) / 2 * sx) % w, (y0 + y1) / 2 * sy
        yaw, pitch = equirect_px_to_yawpitch(cx, cy, w, h)
        aims.append((float(yaw), float(pitch)))
    return aims


def build_calibration_set(sources: Sequence[str], out: Path, view_size: int = 512, fov_deg: float = 90.0,
                          stride: int = 5, max_views: int = 256, batch: int = 16, held_out_every: int = 5,
                          seed: int = 0, max_width: int | None = 1920) -> CalibSet:
    """Cut follow-views from `sources` (anything `runtime.sources.open_source` opens) into `out`."""
    from ego360.core.config import SourceConfig
    from ego360.core.projection import PerspectiveView
    from ego360.runtime.sources import open_source

    if not sources:
        raise InputError("no calibration source; pass --source CLIP (repeatable), e.g. --source scenario:stealing")
    if min(stride, max_views, batch, held_out_every) < 1:
        raise InputError("stride, max_views, batch and held_out_every must all be >= 1")
    rng = np.random.default_rng(seed)
    slack = fov_deg / 6.0
    views: dict[str, list[np.ndarray]] = {s: [] for s in SPLITS}
    n = 0
    for spec in sources:
        with open_source(spec, SourceConfig(max_width=max_width) if max_width else None) as src:
            for packet in src:
                if n >= max_views:
                    break
                if packet.frame_index % stride:
                    continue
                h, w = packet.image.shape[:2]
                for yaw, pitch in aims_for_frame(packet, getattr(src, "gt", None)):
                    if n >= max_views:
                        break
                    dyaw, dpitch = rng.uniform(-slack, slack, size=2)
                    view = PerspectiveView(yaw + dyaw, float(np.clip(pitch + dpitch, -90.0, 90.0)), fov_deg,
                                           out_size=(view_size, view_size), equirect_size=(h, w))
                    n += 1
                    views["heldout" if n % held_out_every == 0 else "calib"].append(view.render(packet.image))
    if not views["calib"]:
        raise InputError(f"no calibration views cut from {', '.join(sources)}; use longer clips or a smaller --stride")
    return _write(Path(out), views, batch, view_size, fov_deg, list(sources), stride, seed)


def _write(out: Path, views: dict[str, list[np.ndarray]], batch: int, view_size: int, fov_deg: float,
           sources: list[str], stride: int, seed: int) -> CalibSet:
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.npy"):
        old.unlink()
    files: dict[str, list[str]] = {}
    for split, items in views.items():
        files[split] = []
        for i in range(0, len(items), batch):
            name = f"{split}_{i // batch:05d}.npy"
            np.save(out / name, np.stack(items[i : i + batch]).astype(np.uint8))
            files[split].append(name)
    index = {"format": FORMAT, "view_size": view_size, "fov_deg": fov_deg, "sources": sources, "stride": stride,
             "seed": seed, "views": {s: len(v) for s, v in views.items()}, "files": files}
    (out / INDEX).write_text(json.dumps(index, indent=2))
    return CalibSet(out, index["views"], files, view_size, fov_deg)


def write_views(out: Path, calib: Sequence[np.ndarray], heldout: Sequence[np.ndarray] = (), fov_deg: float = 90.0,
                source: str = "views", batch: int = 16) -> CalibSet:
    """A calibration set from views cut elsewhere (tests, hand-picked frames); all views one square size."""
    if not calib:
        raise InputError("no calibration views to write")
    size = int(calib[0].shape[0])
    return _write(Path(out), {"calib": list(calib), "heldout": list(heldout)}, batch, size, fov_deg, [source], 1, 0)


def load_index(folder: Path) -> dict:
    path = Path(folder) / INDEX
    if not path.is_file():
        raise InputError(f"{path} not found; build the calibration set with `ego360 export calib --out {folder}`")
    index = json.loads(path.read_text())
    if index.get("format") != FORMAT:
        raise InputError(f"{path} has format {index.get('format')}, expected {FORMAT}; rebuild it")
    return index


def iter_views(folder: Path, split: str = "calib") -> Iterator[np.ndarray]:
    """Views of one split, one H×W×3 uint8 array at a time (batch files are loaded lazily)."""
    if split not in SPLITS:
        raise InputError(f"split {split!r}; valid: {', '.join(SPLITS)}")
    for name in load_index(folder)["files"][split]:
        yield from np.load(Path(folder) / name)


def preprocess(view: np.ndarray, image_size: int) -> np.ndarray:
    """RGB uint8 view → 1×3×S×S float32, bit-identical to `SAM2StreamTracker.preprocess` (PIL bicubic
    resize, float64 scaling, float32 normalisation)."""
    from PIL import Image

    arr = np.array(Image.fromarray(view).resize((image_size, image_size))) / 255.0
    img = arr.transpose(2, 0, 1).astype(np.float32)
    return ((img - _MEAN) / _STD)[None]


def image_encoder_batches(folder: Path, image_size: int, split: str = "calib") -> Iterator[dict[str, np.ndarray]]:
    """Calibration batches for the image encoder graph: {"image": 1×3×S×S float32} per view."""
    for view in iter_views(folder, split):
        yield {"image": preprocess(view, image_size)}
