"""One video from prompts to gt.json (resumable), and many videos in processes or as Ray tasks.

Resumable: `DIR/annotate.json` is written last and records a fingerprint of every input (prompt,
instances and interval files, the video's size and mtime, settings); a video whose record matches
is skipped. Nothing is written before every input has been read and checked.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from ego360.core.errors import InputError, UserError
from ego360.tools.evaluation.parallel import connect_ray

RECORD = "annotate.json"
RECORD_FORMAT = "ego360-annotate/1"
_VIEW360_NAME = re.compile(r"^([A-Za-z]+)_[A-Za-z0-9]+_\d+(?:_[lrc]+)?$")
Progress = Callable[[str, int, int], None]  # (video name, frames advanced, total work)


@dataclass(frozen=True)
class AnnotateJob:
    video: str
    prompts: str
    out_dir: str
    instances: str | None = None
    prompt_fps: float | None = None  # None: prompt frames are video frames
    intervals: str | None = None
    cls: str | None = None
    overrides: tuple[str, ...] = ()
    config: str | None = None
    yaw_offset: float | None = None
    max_width: int = 1920
    force: bool = False

    @property
    def name(self) -> str:
        return Path(self.video).stem


@dataclass(frozen=True)
class AnnotateResult:
    name: str
    out_dir: str
    skipped: bool = False
    frames: int = 0
    seconds: float = 0.0
    entities: int = 0
    vlm_failures: int = 0
    error: str = ""

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def _digest(path: str | None) -> str:
    if not path:
        return ""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def fingerprint(job: AnnotateJob) -> dict:
    st = Path(job.video).stat()
    return {"video": [str(Path(job.video).resolve()), st.st_size, st.st_mtime_ns], "prompts": _digest(job.prompts),
            "instances": _digest(job.instances), "intervals": _digest(job.intervals), "config": _digest(job.config),
            "settings": [job.prompt_fps, job.cls, list(job.overrides), job.yaw_offset, job.max_width]}


def is_done(job: AnnotateJob) -> bool:
    rec = Path(job.out_dir) / RECORD
    try:
        data = json.loads(rec.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return False
    return (data.get("format") == RECORD_FORMAT and data.get("inputs") == fingerprint(job)
            and (Path(job.out_dir) / "gt.json").is_file())


def _find_interval(path: str, name: str):
    from ego360.tools.scenario.view360 import load_intervals

    for v in load_intervals(path):
        if name in (v.name, f"{v.cls}_{v.location}_{v.vid}"):
            return v
    raise InputError(f"{path}: no line for video {name!r}; name the video after its VIEW360 entry "
                     "(Class_Location_id) or leave out --intervals")


def _class_of(job: AnnotateJob, video, has_actor: bool) -> str:
    if job.cls:
        return job.cls
    if video is not None:
        return video.cls
    m = _VIEW360_NAME.match(job.name)
    if m:
        return m.group(1)
    return "Unknown" if has_actor else "Normal"


def annotate_video(job: AnnotateJob, progress: Progress | None = None) -> AnnotateResult:
    """The whole pipeline for one video; raises UserError on bad input (nothing written then)."""
    from ego360.calibration.mounting import resolve_mounting
    from ego360.core.config import load_config
    from ego360.models.registry import check_backends
    from ego360.runtime.session import with_camera_height
    from ego360.runtime.sources.video import VideoFileSource
    from ego360.tools.annotate.build import gt_frames, make_events, make_gt, make_plans, write_events
    from ego360.tools.annotate.captions import caption_entities
    from ego360.tools.annotate.prompts import FrameMap, read_instances, read_prompts
    from ego360.tools.annotate.propagate import FrameStore, propagate
    from ego360.tools.annotate.review import write_review
    from ego360.tools.scenario.gt import write_gt

    out = Path(job.out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file; pass a folder")
    if not job.force and is_done(job):
        return AnnotateResult(job.name, str(out), skipped=True)
    t0 = time.monotonic()
    lines = read_prompts(job.prompts)
    instances = read_instances(job.instances) if job.instances else None
    video = _find_interval(job.intervals, job.name) if job.intervals else None
    cfg = load_config(job.config, list(job.overrides))
    check_backends(cfg.tracker, cfg.captioner)
    mounting = resolve_mounting(cfg.bearings, job.yaw_offset)
    cfg = with_camera_height(cfg, mounting)
    src = VideoFileSource(job.video, max_width=job.max_width)
    fps = src.info.fps
    fmap = FrameMap(fps, job.prompt_fps or fps)
    total = [3 * (src.info.num_frames or 1)]
    done = [0]

    def tick(n: int) -> None:
        done[0] += n
        if progress is not None:
            progress(job.name, n, total[0])

    store = FrameStore()
    try:
        for pkt in src:
            store.append(pkt.image)
            tick(1)
    finally:
        src.close()
    n = len(store)
    total[0] = 3 * n
    height, width = store.shape
    plans = make_plans(lines, instances, fmap, n, width, height, job.prompts)
    masks = propagate(store, plans, cfg, mounting, fps, tick)
    frames = gt_frames(masks, n, mounting, cfg.trigger.camera_height_m)
    cls = _class_of(job, video, any(p.role == "perpetrator" for p in plans))
    events = make_events(plans, frames, cls, fps, video)
    caps = caption_entities(cfg.captioner, store, plans, frames, mounting)
    clip = os.path.relpath(Path(job.video).resolve(), out.resolve())
    gt = make_gt(job.name, clip, cls, fps, width, height, n, plans, frames, events, caps.captions, mounting)
    out.mkdir(parents=True, exist_ok=True)
    (out / RECORD).unlink(missing_ok=True)  # an interrupted rewrite must not look finished
    write_gt(gt, out / "gt.json")
    write_events(gt, out / "events.jsonl")
    write_review(out, gt, caps.previews, Path(job.video).name)
    seconds = time.monotonic() - t0
    record = {"format": RECORD_FORMAT, "inputs": fingerprint(job), "job": asdict(job), "frames": n,
              "seconds": round(seconds, 2), "fps": round(n / seconds, 2) if seconds else None,
              "tracker": cfg.tracker.backend, "captioner": cfg.captioner.backend,
              "entities": {p.name: p.entity_id for p in plans}, "vlm_failures": caps.vlm_failures}
    tmp = out / f".{RECORD}.tmp"
    tmp.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    tmp.replace(out / RECORD)
    return AnnotateResult(job.name, str(out), False, n, seconds, len(plans), caps.vlm_failures)


def _safe(job: AnnotateJob, progress: Progress | None = None) -> AnnotateResult:
    """Worker entry: a bad video is reported, not fatal to the others."""
    try:
        return annotate_video(job, progress)
    except UserError as exc:
        return AnnotateResult(job.name, job.out_dir, error=str(exc))


def _queued(job: AnnotateJob, queue) -> AnnotateResult:
    return _safe(job, lambda name, n, total: queue.put((name, n, total)))


def run_jobs(jobs: list[AnnotateJob], workers: int | None = None, ray_address: str | None = None,
             progress: Progress | None = None) -> list[AnnotateResult]:
    """Results in job order: inline (workers=1 or one job), a process pool, or Ray tasks (per-video
    progress then arrives only when a video finishes)."""
    if not jobs:
        return []
    if ray_address:
        return _run_ray(jobs, ray_address, progress)
    n = workers or max(1, min(len(jobs), os.cpu_count() or 1, 8))
    if n <= 1 or len(jobs) == 1:
        return [_safe(j, progress) for j in jobs]
    import multiprocessing as mp
    import queue as queue_mod
    from concurrent.futures import ProcessPoolExecutor

    with mp.Manager() as manager, ProcessPoolExecutor(max_workers=min(n, len(jobs))) as pool:
        q = manager.Queue()
        futures = [pool.submit(_queued, j, q) for j in jobs]
        while not all(f.done() for f in futures) or not q.empty():
            try:
                item = q.get(timeout=0.2)
            except queue_mod.Empty:
                continue
            if progress is not None:
                progress(*item)
        return [f.result() for f in futures]


def _run_ray(jobs: list[AnnotateJob], address: str, progress: Progress | None) -> list[AnnotateResult]:
    """One Ray task per video; paths must be readable on the workers (a shared file system)."""
    ray = connect_ray(address)
    remote = ray.remote(_safe)
    refs = {remote.remote(j): j for j in jobs}
    results: dict[str, AnnotateResult] = {}
    pending = list(refs)
    while pending:
        ready, pending = ray.wait(pending, num_returns=1)
        res = ray.get(ready[0])
        results[refs[ready[0]].out_dir] = res
        if progress is not None:
            progress(res.name, 1, 1)
    return [results[j.out_dir] for j in jobs]
