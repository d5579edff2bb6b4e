"""Write a rendered scenario to `clip.mp4` + `gt.json`, both or neither.

Both files are written under temporary names in the output folder and renamed only after the
last frame is encoded, so an interrupted or failed render never leaves a clip without its truth
(or half an mp4 that a later evaluation would happily read).
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import numpy as np

from ego360.core.errors import InputError
from ego360.tools.scenario.gt import GTFrame, write_gt
from ego360.tools.scenario.library import build_scene

log = logging.getLogger(__name__)


CODECS = ("libx264", "mpeg4")  # preferred first; mpeg4 is in every FFmpeg build


def open_writer(path: Path, width: int, height: int, fps: float):
    """PyAV H.264 (libx264, yuv420p, crf 18); MPEG-4 part 2 where libx264 is not built in."""
    from fractions import Fraction

    import av

    container = av.open(str(path), mode="w", format="mp4")
    rate = Fraction(fps).limit_denominator(1001)
    for codec in CODECS:
        try:
            stream = container.add_stream(codec, rate=rate)
            break
        except ValueError as exc:  # codec not in this FFmpeg build
            log.warning("%s unavailable (%s); trying the next codec", codec, exc)
    else:
        container.close()
        raise InputError(f"none of the video encoders {', '.join(CODECS)} is available in this PyAV build")
    if stream.codec_context.name == "libx264":
        stream.options = {"crf": "18", "preset": "veryfast"}
    else:
        stream.bit_rate = 8_000_000
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    return container, stream


def encode_frame(container, stream, image: np.ndarray | None) -> None:
    import av

    if image is None:
        packets = stream.encode()
    else:
        packets = stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24"))
    container.mux(packets)


def render_scenario(name: str, out_dir: str | Path, *, progress: bool = True, **scene_kwargs) -> Path:
    """Render library scenario `name` into `out_dir` (created); returns the folder.

    `scene_kwargs` are those of `build_scene` (seed, width, height, fps, duration_s, ego_yaw_rate_dps,
    yaw_offset_deg, noise, flicker, background). Prints a rich progress bar unless progress=False.
    """
    scene = build_scene(name, **scene_kwargs)
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"--out {out}: cannot create folder ({exc.strerror})") from exc
    tmp_clip = out / f".clip.mp4.tmp{os.getpid()}"
    frames: list[GTFrame] = []
    started = time.perf_counter()
    try:
        container, stream = open_writer(tmp_clip, scene.width, scene.height, scene.fps)
        try:
            for i in _progress(range(scene.num_frames), f"rendering {name}", progress):
                image, records = scene.render_frame(i)
                frames.append(GTFrame(i, tuple(records), scene.pose_gt(i)))
                encode_frame(container, stream, image)
            encode_frame(container, stream, None)
        finally:
            container.close()
        gt = scene.gt_header().with_frames(tuple(frames))
        write_gt(gt, out / "gt.json.part")
        os.replace(tmp_clip, out / "clip.mp4")
        os.replace(out / "gt.json.part", out / "gt.json")
    finally:
        tmp_clip.unlink(missing_ok=True)
        (out / "gt.json.part").unlink(missing_ok=True)
    elapsed = time.perf_counter() - started
    log.info("rendered %s: %d frames in %.1f s (%.1f frames/s)", name, scene.num_frames, elapsed,
             scene.num_frames / max(elapsed, 1e-9))
    return out


def _progress(items, label: str, enabled: bool):
    if not enabled:
        yield from items
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  transient=False) as bar:
        task = bar.add_task(label, total=len(items))
        for item in items:
            yield item
            bar.advance(task)
