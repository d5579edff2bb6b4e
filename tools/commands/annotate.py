"""`ego360 annotate`: instance-aligned ground truth (gt.json) from a person's role prompts on a video.

    ego360 annotate VIDEO... --prompts FILE.txt|DIR [--instances FILE.json|DIR] [--prompt-fps N]
                    [--intervals LIST] --out DIR [--set tracker.backend=sam2-torch ...]
    ego360 annotate --export-prompts GT.json|DIR --out FILE.txt [--every-s 1] [--prompt-fps N]
    ego360 annotate --apply-review DIR

Formats and the worked example: docs/annotations.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "annotate", help="make gt.json from role prompts (boxes/points) on a 360° video: masks, roles, captions",
        description="Propagate a person's role prompts (the VIEW360+ annotation tool's text format) through the "
                    "video with the tracker, caption each entity, and write DIR/gt.json (ego360-gt/1), "
                    "events.jsonl, review.md. Formats: docs/annotations.md.",
    )
    p.add_argument("videos", nargs="*", metavar="VIDEO", help="equirect video(s) to annotate")
    p.add_argument("--prompts", metavar="FILE|DIR",
                   help="prompt file (one video), or a folder holding VIDEO_STEM.txt for each video")
    p.add_argument("--instances", metavar="FILE|DIR",
                   help="*.instances.json (default: PROMPTS_STEM.instances.json beside the prompt file, if present)")
    p.add_argument("--prompt-fps", type=float, default=None, metavar="N",
                   help="prompts were made on an N fps copy (frame k = video frame k·fps/N; default: video frames)")
    p.add_argument("--intervals", metavar="LIST", help="VIEW360 interval list giving each video's event windows")
    p.add_argument("--class", dest="cls", default=None, metavar="CLASS",
                   help="event class (default: from --intervals or a Class_Location_id video name)")
    p.add_argument("--out", metavar="DIR",
                   help="output folder (one video: DIR/gt.json; several: DIR/VIDEO_STEM/gt.json); "
                        "with --export-prompts: the prompt file to write")
    p.add_argument("--config", metavar="TOML", help="configuration file (TOML)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="config override, e.g. --set tracker.backend=sam2-torch (repeatable)")
    p.add_argument("--yaw-offset", type=float, default=None, metavar="DEG", help="camera mounting yaw offset")
    p.add_argument("--max-width", type=int, default=1920, metavar="PX",
                   help="annotate at most this equirect width (default 1920; gt.json has this size)")
    p.add_argument("--force", action="store_true", help="redo videos already finished (default: skip them)")
    p.add_argument("--workers", type=int, default=None, help="parallel processes (default: CPUs, ≤ videos)")
    p.add_argument("--ray", metavar="ADDRESS", default=None,
                   help="run each video as a Ray task ('auto', 'ray://host:10001', or 'local')")
    p.add_argument("--export-prompts", metavar="GT", default=None,
                   help="write the tool's prompt file (+ .instances.json) from a gt.json instead of annotating")
    p.add_argument("--every-s", type=float, default=1.0, metavar="S",
                   help="--export-prompts: one box per entity every S seconds (default 1)")
    p.add_argument("--apply-review", metavar="DIR", default=None,
                   help="fold the corrections in DIR/review.md back into DIR/gt.json")
    p.set_defaults(func=run)


def _export(args: argparse.Namespace) -> int:
    from ego360.core.errors import UserError
    from ego360.tools.annotate.export import prompts_from_gt, write_prompt_files
    from ego360.tools.scenario.gt import load_gt

    if not args.out:
        raise UserError("--export-prompts needs --out FILE.txt (the prompt file to write)")
    gt = load_gt(args.export_prompts)
    lines, inst = prompts_from_gt(gt, args.every_s, args.prompt_fps)
    txt, ins = write_prompt_files(args.out, lines, inst)
    print(f"wrote {len(lines)} prompt(s) for {len(inst.instances)} entit(y/ies) to {txt} and {ins}")
    return 0


def _jobs(args: argparse.Namespace) -> list:
    from ego360.core.errors import UserError
    from ego360.tools.annotate.export import instances_path
    from ego360.tools.annotate.runner import AnnotateJob

    if not args.videos:
        raise UserError("give VIDEO(s) to annotate, or --export-prompts GT / --apply-review DIR")
    if not args.prompts or not args.out:
        raise UserError("annotating needs --prompts FILE.txt and --out DIR, e.g. "
                        "ego360 annotate clip.mp4 --prompts clip.txt --out runs/clip_gt")
    if args.prompt_fps is not None and args.prompt_fps <= 0:
        raise UserError(f"--prompt-fps {args.prompt_fps}: must be > 0")
    prompts, inst = Path(args.prompts), Path(args.instances) if args.instances else None
    many = len(args.videos) > 1
    if many and not prompts.is_dir():
        raise UserError(f"{len(args.videos)} videos need --prompts DIR holding VIDEO_STEM.txt for each")
    jobs = []
    for v in args.videos:
        stem = Path(v).stem
        pf = prompts / f"{stem}.txt" if prompts.is_dir() else prompts
        if not pf.is_file():
            raise UserError(f"{pf}: prompt file not found for {v}")
        if inst is not None and inst.is_dir():
            inf = inst / f"{stem}.instances.json"
        elif inst is not None:
            inf = inst
        else:
            inf = instances_path(pf)
        if inst is not None and not inf.is_file():
            raise UserError(f"{inf}: instances file not found for {v}")
        out = Path(args.out) / stem if many else Path(args.out)
        jobs.append(AnnotateJob(str(v), str(pf), str(out), str(inf) if inf.is_file() else None, args.prompt_fps,
                                args.intervals, args.cls, tuple(args.overrides), args.config, args.yaw_offset,
                                args.max_width, args.force))
    if len({j.out_dir for j in jobs}) < len(jobs):
        raise UserError("two videos share a file name stem; their outputs would collide")
    return jobs


def run(args: argparse.Namespace) -> int:
    from ego360.core.errors import UserError

    if args.export_prompts:
        return _export(args)
    if args.apply_review:
        from ego360.tools.annotate.review import apply_review

        gt, changed = apply_review(args.apply_review)
        print(f"applied review: {changed} of {len(gt.entities)} entit(y/ies) changed in {args.apply_review}/gt.json")
        return 0
    from ego360.core.config import load_config
    from ego360.models.registry import check_backends

    jobs = _jobs(args)
    cfg = load_config(args.config, list(args.overrides))  # bad keys fail here, not in every worker
    check_backends(cfg.tracker, cfg.captioner)
    results = _run_with_bars(jobs, args)
    bad = [r for r in results if r.error]
    for r in results:
        if r.error:
            continue
        state = "skipped (finished before; --force redoes it)" if r.skipped else (
            f"{r.frames} frames, {r.entities} entities, {r.fps:.1f} frames/s")
        print(f"  {r.name}: {state} → {r.out_dir}/gt.json")
    if len(jobs) == 1 and bad:
        raise UserError(bad[0].error)
    for r in bad:
        print(f"  {r.name}: FAILED: {r.error}")
    return 2 if bad else 0


def _run_with_bars(jobs: list, args: argparse.Namespace) -> list:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from ego360.tools.annotate.runner import run_jobs

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn()) as bars:
        ids = {j.name: bars.add_task(f"annotate {j.name}", total=None) for j in jobs}

        def progress(name: str, n: int, total: int) -> None:
            bars.update(ids[name], advance=n, total=total)

        return run_jobs(jobs, workers=args.workers, ray_address=args.ray, progress=progress)
