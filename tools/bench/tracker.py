"""`ego360 bench tracker`: the SAM2 tracker alone, per frame, by backend, model, size, objects and dtype.

Why alone: in `bench replay` the tracker shares the machine with decoding, the trigger and speech, so
its cost hides in the stage sums. Here one configuration at a time tracks boxes on a synthetic clip
(random weights: the work per frame does not depend on what the masks mean), each frame timed until
every mask is on the host, so device work is inside the figure. `--reference` also times sam2's own
`SAM2VideoPredictor.propagate_in_video` on the same frames (one object, torch backend) for comparison.
Output: tracker.json, tracker.md and tracker.png in --out.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", choices=("torch", "onnx", "trt"), default="torch")
    p.add_argument("--model", action="append", default=[], help="SAM2 config (repeatable; default sam2.1_hiera_t)")
    p.add_argument("--size", type=int, action="append", default=[], help="image size (repeatable; default 512)")
    p.add_argument("--objects", type=int, action="append", default=[], help="object count (repeatable; default 1)")
    p.add_argument("--dtype", action="append", default=[], choices=("fp32", "bf16", "fp16"),
                   help="compute dtype, torch backend (repeatable; default fp32)")
    p.add_argument("--views", action="store_true",
                   help="one follow-view (stream) per object, encoded in one batch, as the runtime does; "
                        "default: all objects in one image (as the issue's figures and sam2's predictor)")
    p.add_argument("--compile", action="store_true", help="torch.compile the image and memory encoders")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--frames", type=int, default=30, help="timed frames per configuration")
    p.add_argument("--warmup", type=int, default=5, help="untimed frames first (compilation, allocator)")
    p.add_argument("--reference", action="store_true", help="also time sam2's propagate_in_video (torch, 1 object)")
    p.add_argument("--onnx-dir", default="", help="export folder for --backend onnx")
    p.add_argument("--providers", default="cpu", help="ONNX Runtime providers for --backend onnx")
    p.add_argument("--engine-dir", default="", help="engine folder for --backend trt")
    p.add_argument("--out", default="reports/bench_tracker", metavar="DIR")


def frames(n: int, size: int, objects: int, seed: int = 0) -> list[np.ndarray]:
    """Texture with `objects` coloured squares moving at different speeds."""
    rng = np.random.default_rng(seed)
    base = (rng.random((size // 8, size // 8, 3)) * 255).astype(np.uint8).repeat(8, 0).repeat(8, 1)
    out = []
    for i in range(n):
        img = base.copy()
        for k, (x, y, side) in enumerate(boxes(size, objects)):
            dx = int(i * (1 + k) * size / 512)
            img[y : y + side, (x + dx) % (size - side) : (x + dx) % (size - side) + side] = (230 - 60 * k % 200, 40, 90)
        out.append(img)
    return out


def boxes(size: int, objects: int) -> list[tuple[int, int, int]]:
    side = size // 6
    return [(size // 10 + (k * size // 4) % (size - 2 * side), size // 8 + k * size // 5 % (size - side), side)
            for k in range(objects)]


def _model(backend: str, name: str, size: int, device: str, args: argparse.Namespace) -> Any:
    import torch

    if backend == "onnx":
        from ego360.models.sam2.backend_onnx import load_onnx_model, providers_from_names

        return load_onnx_model(args.onnx_dir, providers_from_names(args.providers), size)
    if backend == "trt":
        from ego360.models.sam2.backend_trt import load_trt_model

        return load_trt_model(args.engine_dir, size)
    from ego360.models.sam2.backend_torch import compile_model
    from ego360.models.sam2.build import build_model

    torch.manual_seed(0)
    model = build_model(name, None, size, device)
    return compile_model(model) if args.compile else model


def _sync(device: str) -> None:
    if device == "cuda":
        import torch

        torch.cuda.synchronize()


def time_ours(model: Any, clip: list[np.ndarray], objects: int, dtype: str, views: bool, warmup: int,
              device: str) -> list[float]:
    """ms per frame of our tracker, from the image handed in to every mask on the host."""
    from ego360.models.sam2.streaming import SAM2StreamTracker, fetch_all, track_streams

    size = clip[0].shape[0]
    n_streams = objects if views else 1
    streams = [SAM2StreamTracker(model, max_cond_frames=8, dtype=dtype) for _ in range(n_streams)]
    for k, (x, y, side) in enumerate(boxes(size, objects)):
        streams[k if views else 0].add_object(0, clip[0], k + 1, box=(x, y, x + side, y + side))
    times = []
    for i, img in enumerate(clip[1:], start=1):
        _sync(device)
        t0 = time.perf_counter()
        results = track_streams(streams, [img] * n_streams, i)
        fetch_all(results)
        for r in results:
            for m in r.values():
                _ = m.mask
        _sync(device)
        if i > warmup:
            times.append((time.perf_counter() - t0) * 1000)
    return times


def time_reference(model: Any, clip: list[np.ndarray], dtype: str, warmup: int, device: str) -> list[float]:
    """ms per frame of sam2's `propagate_in_video` (frames preloaded by `init_state`, as upstream runs)."""
    import torch
    from PIL import Image

    from ego360.models.sam2.device import autocast

    size = clip[0].shape[0]
    with tempfile.TemporaryDirectory() as tmp:
        for i, img in enumerate(clip):
            Image.fromarray(img).save(Path(tmp) / f"{i:05d}.jpg", quality=95)
        with torch.inference_mode(), autocast(torch.device(device), dtype):
            state = model.init_state(tmp)
            x, y, side = boxes(size, 1)[0]
            model.add_new_points_or_box(state, frame_idx=0, obj_id=1, box=np.array([x, y, x + side, y + side]))
            times, t0 = [], time.perf_counter()
            for f, _ids, masks in model.propagate_in_video(state):
                masks.cpu()
                _sync(device)
                now = time.perf_counter()
                if f > warmup:
                    times.append((now - t0) * 1000)
                t0 = now
    return times


def _row(label: dict[str, Any], times: list[float]) -> dict[str, Any]:
    v = np.asarray(times)
    return {**label, "frames": int(v.size), "p50_ms": round(float(np.percentile(v, 50)), 2),
            "p95_ms": round(float(np.percentile(v, 95)), 2), "mean_ms": round(float(v.mean()), 2),
            "fps": round(1000.0 / float(np.percentile(v, 50)), 1)}


def run(args: argparse.Namespace) -> int:
    import torch

    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    models, sizes = args.model or ["sam2.1_hiera_t"], args.size or [512]
    counts, dtypes = args.objects or [1], args.dtype or ["fp32"]
    rows = []
    for name in models:
        for size in sizes:
            model = _model(args.backend, name, size, device, args)
            clip = frames(args.frames + args.warmup + 1, size, max(counts))
            for dtype in dtypes:
                for n in counts:
                    label = {"tracker": "ego360", "backend": args.backend, "model": name, "size": size, "objects": n,
                             "dtype": dtype, "views": bool(args.views), "compile": bool(args.compile),
                             "device": device}
                    rows.append(_row(label, time_ours(model, clip, n, dtype, args.views, args.warmup, device)))
                    print(_line(rows[-1]), flush=True)
                if args.reference and args.backend == "torch" and not args.compile:
                    label = {"tracker": "sam2 propagate_in_video", "backend": "torch", "model": name, "size": size,
                             "objects": 1, "dtype": dtype, "views": False, "compile": False, "device": device}
                    rows.append(_row(label, time_reference(model, clip, dtype, args.warmup, device)))
                    print(_line(rows[-1]), flush=True)
            del model
    write_report(rows, Path(args.out), device_name(device))
    return 0


def device_name(device: str) -> str:
    import platform

    import torch

    if device == "cuda":
        return f"{torch.cuda.get_device_name(0)}, torch {torch.__version__}"
    cpu = platform.processor() or platform.machine()
    return f"CPU {cpu} x{torch.get_num_threads()} threads, torch {torch.__version__}"


def _line(r: dict[str, Any]) -> str:
    comp = "+compile" if r["compile"] else ""
    mode = "views" if r["views"] else "one image"
    return (f"{r['tracker']:24s} {r['backend']:5s} {r['model']:16s} @{r['size']:<5d} {r['objects']} obj ({mode}) "
            f"{r['dtype']}{comp} {r['device']}: p50 {r['p50_ms']:.1f} ms  p95 {r['p95_ms']:.1f} ms  {r['fps']} fps")


def write_report(rows: list[dict[str, Any]], out: Path, device: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "tracker.json").write_text(json.dumps({"device": device, "rows": rows}, indent=1))
    head = "| tracker | backend | model | size | objects | mode | dtype | compile | p50 ms | p95 ms | fps |"
    lines = [f"# SAM2 tracker per frame ({device})", "", head, "|" + "---|" * 11]
    for r in rows:
        lines.append(f"| {r['tracker']} | {r['backend']} | {r['model']} | {r['size']} | {r['objects']} | "
                     f"{'views' if r['views'] else 'one image'} | {r['dtype']} | {'yes' if r['compile'] else 'no'} | "
                     f"{r['p50_ms']} | {r['p95_ms']} | {r['fps']} |")
    (out / "tracker.md").write_text("\n".join(lines) + "\n")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(max(6, 0.8 * len(rows)), 4))
    labels = [f"{r['tracker'].split()[0]}\n{r['model'].split('_')[-1]}@{r['size']}\n{r['objects']}obj {r['dtype']}"
              + ("\ncompiled" if r["compile"] else "") for r in rows]
    ax.bar(range(len(rows)), [r["p50_ms"] for r in rows], yerr=[[0] * len(rows),
           [r["p95_ms"] - r["p50_ms"] for r in rows]], capsize=3)
    ax.set_xticks(range(len(rows)), labels, fontsize=7)
    ax.set_ylabel("ms per frame (p50, bar to p95)")
    ax.set_title(f"SAM2 tracker alone — {device}", fontsize=9)
    fig.tight_layout()
    fig.savefig(out / "tracker.png", dpi=100)
    plt.close(fig)
