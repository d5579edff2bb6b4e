"""Accuracy (and CPU cost) of the FP16 / INT8 Q/DQ graphs against the FP32 graphs, in ONNX Runtime on CPU.

Why three levels: a graph's own output error says where precision is lost; a clip tracked with only that
graph swapped says whether the loss reaches the mask (errors in some graphs are absorbed, in others they
compound through the memory); the clip tracked with every graph at the precision is what the wearer
gets. Inputs of the graph-level comparison are the ones the FP32 tracker really fed each graph on the
clip (random inputs would exercise value ranges the model never sees and flatter or damn FP16).
"""

from __future__ import annotations

import copy
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ego360.export.accuracy import AccuracyReport, accuracy_report, mask_iou, view_masks
from ego360.export.precision import cpu_session
from ego360.export.trt_build import INT8_GRAPHS, graph_file
from ego360.models.sam2 import names as N

TRACK_GRAPHS: tuple[str, ...] = ("image_encoder", "prompt_encoder", "mask_decoder_multi", "mask_decoder_single",
                                 "memory_encoder", "memory_attention")  # what the ONNX tracker runs
REPORT_GRAPHS: tuple[str, ...] = (*TRACK_GRAPHS, "memory_attention_ring")
CLIP_BOX = (10.0, 20.0, 40.0, 50.0)  # the box around the moving square of `sam2_export.synthetic_frames`


@dataclass(frozen=True)
class GraphAccuracy:
    """One graph at one precision: its outputs on the recorded inputs vs FP32, and the clip tracked with
    only this graph swapped (None for the ring, which the ONNX tracker does not run)."""

    graph: str
    precision: str
    max_abs: float  # max |Δ| over all outputs and recorded calls
    mean_abs: float
    ref_max_abs: float  # max |FP32 output|: the scale `max_abs` is to be read against
    min_cosine: float
    decoder_mask_iou: float | None  # decoders only: min IoU of (masks > 0) over the recorded calls
    track_iou_mean: float | None
    track_iou_min: float | None


@dataclass(frozen=True)
class TrackAccuracy:
    precision: str
    ious: tuple[float, ...]  # per frame, vs the FP32 track

    @property
    def mean(self) -> float:
        return float(np.mean(self.ious))

    @property
    def min(self) -> float:
        return float(np.min(self.ious))


@dataclass(frozen=True)
class GraphCost:
    graph: str
    precision: str
    bytes: int
    cpu_ms: float  # median ORT CPU latency on a recorded input


@dataclass(frozen=True)
class PrecisionReport:
    folder: Path
    config: str
    image_size: int
    frames: int
    threads: int
    graphs: tuple[GraphAccuracy, ...]
    tracks: tuple[TrackAccuracy, ...]
    costs: tuple[GraphCost, ...]
    heldout: AccuracyReport | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    def graph(self, name: str, precision: str) -> GraphAccuracy:
        return next(g for g in self.graphs if g.graph == name and g.precision == precision)

    def track(self, precision: str) -> TrackAccuracy:
        return next(t for t in self.tracks if t.precision == precision)


# ------------------------------------------------------------------ sessions, recording, tracking
def precisions_in(folder: Path) -> list[str]:
    """The reduced precisions whose graphs an export folder holds."""
    have = []
    if all(graph_file(folder, g, "fp16").is_file() for g in REPORT_GRAPHS):
        have.append("fp16")
    if have and all(graph_file(folder, g, "int8").is_file() for g in INT8_GRAPHS):
        have.append("int8")
    return have


def files_for(folder: Path, precision: str, only: str | None = None) -> dict[str, Path]:
    """Graph files of a tracker at `precision` (the INT8 build's other graphs FP16); with `only`, just that
    graph at `precision` and every other FP32."""
    return {g: graph_file(folder, g, precision if only in (None, g) else "fp32") for g in TRACK_GRAPHS}


class Sessions(dict):
    """ORT CPU sessions by graph file, made once: creating one (graph optimization) costs more than a
    short clip's inference at small image sizes, and sessions are stateless, so trackers share them.
    ORT's default threads: only the latency figures (`latency_ms`) pin a thread count."""

    def get_session(self, path: Path) -> Any:
        if path not in self:
            self[path] = cpu_session(path)
        return self[path]


def _runner(sess: Any, graph: str, record: list | None) -> Callable[..., list]:
    import torch

    spec = next(g for g in N.GRAPHS if g.name == graph)

    def run(*args: Any) -> list:
        feed = {k: (a.detach().cpu().numpy() if hasattr(a, "numpy") else np.asarray(a))
                for k, a in zip(spec.inputs, args, strict=True)}
        if record is not None:
            record.append({k: v.copy() for k, v in feed.items()})
        return [torch.from_numpy(o) for o in sess.run(list(spec.outputs), feed)]
    return run


def tracker_model(base: Any, files: Mapping[str, Path], sessions: Sessions,
                  record: dict[str, list] | None = None) -> Any:
    """A copy of the glued model whose networks are ORT CPU sessions on `files` (as
    `models.sam2.backend_onnx.attach_sessions`, but per-graph files and FP16-safe session options)."""
    import torch

    from ego360.models.sam2.adapters import attach_networks

    runners = {g: _runner(sessions.get_session(p), g, None if record is None else record.setdefault(g, []))
               for g, p in files.items()}
    att = runners["memory_attention"]

    def memory_attention(curr, curr_pos, memory, memory_pos, num_obj_ptr_tokens):
        return att(curr, curr_pos, memory, memory_pos, torch.tensor(num_obj_ptr_tokens, dtype=torch.int64))[0]

    return attach_networks(copy.deepcopy(base), runners, memory_attention)


def track_clip(model: Any, frames: Sequence[np.ndarray], box: tuple[float, ...] = CLIP_BOX) -> list[np.ndarray]:
    """Masks of one box-prompted object over `frames` (first frame prompted, the rest tracked)."""
    from ego360.models.sam2.streaming import SAM2StreamTracker

    tracker = SAM2StreamTracker(model, non_overlap_masks=False, max_cond_frames=8)
    masks = [tracker.add_object(0, frames[0], 1, box=box).mask]
    masks += [tracker.track(img)[1].mask for img in frames[1:]]
    return masks


# ------------------------------------------------------------------ graph-level comparison
def ring_inputs(calls: Sequence[Mapping[str, np.ndarray]], image_size: int) -> list[dict[str, np.ndarray]]:
    """The recorded memory-attention calls packed into the padded ring (what the TensorRT tracker feeds)."""
    import torch

    from ego360.models.sam2.ring import pack_ring

    out = []
    for c in calls:
        mem, pos, valid = pack_ring(torch.from_numpy(c["memory"]), torch.from_numpy(c["memory_pos"]),
                                    int(c["num_obj_ptr_tokens"]), image_size)
        out.append({"curr": c["curr"], "curr_pos": c["curr_pos"], "memory": mem.numpy(), "memory_pos": pos.numpy(),
                    "memory_valid": valid.numpy()})
    return out


def compare_graph(ref: Path, got: Path, graph: str, calls: Sequence[Mapping[str, np.ndarray]],
                  sessions: Sessions | None = None) -> dict[str, Any]:
    """Output error of `got` vs `ref` on the recorded calls: max/mean |Δ|, the reference scale, the min
    cosine, and for the decoders the min IoU of their mask logits thresholded at 0."""
    spec = next(g for g in N.GRAPHS if g.name == graph)
    sessions = Sessions() if sessions is None else sessions
    s_ref, s_got = sessions.get_session(ref), sessions.get_session(got)
    worst = total = scale = 0.0
    count, cos, ious = 0, 1.0, []
    for feed in calls:
        a_out = s_ref.run(list(spec.outputs), dict(feed))
        b_out = s_got.run(list(spec.outputs), dict(feed))
        for name, a, b in zip(spec.outputs, a_out, b_out, strict=True):
            a64, b64 = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
            d = np.abs(a64 - b64)
            worst, total, count = max(worst, float(d.max(initial=0.0))), total + float(d.sum()), count + d.size
            scale = max(scale, float(np.abs(a64).max(initial=0.0)))
            denom = np.linalg.norm(a64) * np.linalg.norm(b64)
            cos = min(cos, float(a64 @ b64 / denom) if denom > 0 else float(np.array_equal(a64, b64)))
            if name == "masks":
                ious.append(mask_iou(a > 0, b > 0))
    return {"max_abs": worst, "mean_abs": total / max(count, 1), "ref_max_abs": scale, "min_cosine": cos,
            "decoder_mask_iou": min(ious) if ious else None}


def _spread(calls: Sequence[Any], k: int) -> list[Any]:
    if len(calls) <= k:
        return list(calls)
    return [calls[int(i)] for i in np.linspace(0, len(calls) - 1, k)]


def latency_ms(path: Path, feed: Mapping[str, np.ndarray], threads: int, budget_s: float = 1.5,
               max_runs: int = 20) -> float:
    """Median ORT CPU latency of one graph on one input (`threads` intra-op threads, one warm-up run)."""
    sess = cpu_session(path, threads)
    sess.run(None, dict(feed))
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < max_runs and (len(times) < 3 or time.perf_counter() - start < budget_s):
        t0 = time.perf_counter()
        sess.run(None, dict(feed))
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


# ------------------------------------------------------------------ the report
def measure(folder: Path, frames: Sequence[np.ndarray] | None = None, calls_per_graph: int = 4, threads: int = 2,
            heldout: Sequence[np.ndarray] = (), latency: bool = True) -> PrecisionReport:
    """Everything in the report for the precisions `folder` holds (see `precisions_in`)."""
    import torch

    from ego360.export.sam2_export import synthetic_frames
    from ego360.models.sam2.adapters import NETWORKS, build_glued_model
    from ego360.models.sam2.manifest import load_manifest

    folder = Path(folder)
    man = load_manifest(folder, check_files=False)
    size = int(man["image_size"])
    frames = list(frames) if frames is not None else synthetic_frames(16)
    fix = f"re-export with `ego360 export sam2 ... --out {folder}`"
    base = build_glued_model(folder, man, fix, "re-export")
    for name in NETWORKS:  # replaced by sessions in every copy: dropping them makes the copies cheap
        setattr(base, name, torch.nn.Identity())
    record: dict[str, list] = {}
    sessions = Sessions()
    ref_masks = track_clip(tracker_model(base, files_for(folder, "fp32"), sessions, record), frames)
    calls = {g: _spread(c, calls_per_graph) for g, c in record.items()}
    calls["memory_attention_ring"] = ring_inputs(calls["memory_attention"], size)
    precisions = precisions_in(folder)
    graphs, tracks = [], []
    for prec in precisions:
        for g in REPORT_GRAPHS:
            if prec == "int8" and g not in INT8_GRAPHS:
                continue  # the INT8 build's other graphs are the FP16 ones, reported under fp16
            fig = compare_graph(graph_file(folder, g, "fp32"), graph_file(folder, g, prec), g, calls[g], sessions)
            ious = None
            if g in TRACK_GRAPHS:
                got = track_clip(tracker_model(base, files_for(folder, prec, only=g), sessions), frames)
                ious = [mask_iou(a, b) for a, b in zip(got, ref_masks, strict=True)]
            graphs.append(GraphAccuracy(g, prec, **fig, track_iou_mean=None if ious is None else float(np.mean(ious)),
                                        track_iou_min=None if ious is None else float(np.min(ious))))
        got = track_clip(tracker_model(base, files_for(folder, prec), sessions), frames)
        tracks.append(TrackAccuracy(prec, tuple(mask_iou(a, b) for a, b in zip(got, ref_masks, strict=True))))
    held = None
    if heldout and precisions:
        masks = {p: view_masks(tracker_model(base, files_for(folder, p), sessions), heldout)
                 for p in ["fp32", *precisions]}
        held = accuracy_report(masks)
    costs = []
    for prec in ["fp32", *precisions]:
        for g in REPORT_GRAPHS:
            path = graph_file(folder, g, prec)
            if prec == "int8" and g not in INT8_GRAPHS:
                continue
            ms = latency_ms(path, calls[g][0], threads) if latency else float("nan")
            costs.append(GraphCost(g, prec, path.stat().st_size, ms))
    notes = (f"ONNX Runtime CPU, {threads} intra-op threads; clip: {len(frames)} frames "
             f"{frames[0].shape[1]}x{frames[0].shape[0]}, box {CLIP_BOX}", f"weights: {man.get('weights')}")
    return PrecisionReport(folder, str(man["config"]), size, len(frames), threads, tuple(graphs), tuple(tracks),
                           tuple(costs), held, notes)
