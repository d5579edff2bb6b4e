"""`ego360 export sam2|trt|calib ...`: SAM2 to ONNX (`--verify` against PyTorch), ONNX to TensorRT
engines (FP32/FP16/INT8, on a GPU machine), and the INT8 calibration set (follow-views from clips)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("export", help="export models for ONNX Runtime / TensorRT")
    kinds = parser.add_subparsers(dest="export_kind", metavar="MODEL", required=True)
    p = kinds.add_parser("sam2", help="SAM2 tracker graphs (image encoder, prompt/mask decoder, memory)")
    p.add_argument("--config", required=True, help="e.g. sam2.1_hiera_t, sam2_hiera_l")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", help="official checkpoint (.pt)")
    src.add_argument("--random-weights", action="store_true", help="random weights (tests, benchmarks)")
    p.add_argument("--seed", type=int, default=0, help="seed for --random-weights")
    p.add_argument("--image-size", type=int, default=1024, help="model input size (1024, 512, 256)")
    p.add_argument("--out", required=True, type=Path, help="output folder (e.g. exports/sam2_t_256)")
    p.add_argument("--verify", action="store_true", help="compare every graph and a 16-frame track with PyTorch")
    _precision_args(p, ("fp32", "fp16", "int8"))
    p.set_defaults(func=_run)
    q = kinds.add_parser("precision", help="FP16 / INT8 Q/DQ graphs + accuracy report for an existing `export sam2`")
    q.add_argument("--out", required=True, type=Path, help="folder written by `ego360 export sam2`")
    _precision_args(q, ("fp16", "int8"))
    q.set_defaults(func=_run_precision)
    _register_trt(kinds)
    _register_calib(kinds)


def _precision_args(p: argparse.ArgumentParser, choices: tuple[str, ...]) -> None:
    p.add_argument("--precision", choices=choices, default=choices[0],
                   help="also write FP16 graphs (fp16, int8) and Q/DQ INT8 image-encoder graphs (int8), with an "
                        "accuracy report vs FP32 in OUT/report/")
    p.add_argument("--calibration", type=Path, help="calibration set from `ego360 export calib` (--precision int8)")
    p.add_argument("--calib-method", choices=("minmax", "entropy", "percentile"), default="minmax",
                   help="INT8 activation range method (ONNX Runtime quantize_static)")
    p.add_argument("--keep-fp32", default=None,
                   help="ONNX op types kept FP32 in FP16 graphs, comma-separated (default: export.precision's)")
    p.add_argument("--report-frames", type=int, default=16, help="frames of the tracked clip in the accuracy report")
    p.add_argument("--threads", type=int, default=2, help="ORT CPU threads for the report's latency figures")


def _register_trt(kinds: argparse._SubParsersAction) -> None:
    from ego360.export.trt_build import KEEP_FP16_DEFAULT, PRECISIONS, RULES

    p = kinds.add_parser("trt", help="TensorRT engines from an `export sam2` folder (needs a GPU and tensorrt)")
    p.add_argument("--onnx", required=True, type=Path, help="folder written by `ego360 export sam2`")
    p.add_argument("--out", required=True, type=Path, help="engine folder (e.g. engines/t256_fp16)")
    p.add_argument("--precision", choices=PRECISIONS, default="fp16")
    p.add_argument("--calib", type=Path, help="calibration set from `ego360 export calib` (INT8)")
    p.add_argument("--calibrator", choices=("entropy", "minmax"), default="entropy")
    p.add_argument("--timing-cache", type=Path,
                   help="timing cache file, shared between builds (default OUT/timing.cache)")
    p.add_argument("--max-objects", type=int, default=8, help="upper end of the object-count profile")
    p.add_argument("--keep-fp16", default=",".join(KEEP_FP16_DEFAULT),
                   help=f"layer groups kept in FP16 under INT8, comma-separated from: {', '.join(RULES)}")
    p.add_argument("--force", action="store_true",
                   help="rebuild every engine (default: keep engines whose graph, precision, TensorRT and GPU match)")
    p.set_defaults(func=_run_trt)


def _register_calib(kinds: argparse._SubParsersAction) -> None:
    p = kinds.add_parser("calib", help="INT8 calibration set: the follow-views the tracker sees, cut from clips")
    p.add_argument("--source", action="append", required=True,
                   help="clip, image folder or scenario:NAME (repeatable); scenarios aim views at their entities")
    p.add_argument("--out", required=True, type=Path, help="output folder (e.g. exports/calib)")
    p.add_argument("--view-size", type=int, default=512, help="follow-view size (tracker.view_size)")
    p.add_argument("--fov", type=float, default=90.0, help="follow-view FOV in degrees (tracker.view_fov_deg)")
    p.add_argument("--stride", type=int, default=5, help="use every Nth frame")
    p.add_argument("--max-views", type=int, default=256)
    p.add_argument("--held-out-every", type=int, default=5, help="every Nth view is held out for the IoU report")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_run_calib)


def _run_trt(args: argparse.Namespace) -> int:
    from ego360.export.trt_build import build_engines

    keep = tuple(k.strip() for k in args.keep_fp16.split(",") if k.strip())
    path = build_engines(args.onnx, args.out, args.precision, calib_dir=args.calib, calibrator_kind=args.calibrator,
                         timing_cache=args.timing_cache, max_objects=args.max_objects, keep_fp16_layers=keep,
                         force=args.force)
    print(f"built {args.precision} engines in {args.out} ({path.name})")
    return 0


def _run_calib(args: argparse.Namespace) -> int:
    from ego360.export.calib_dataset import build_calibration_set

    cs = build_calibration_set(args.source, args.out, view_size=args.view_size, fov_deg=args.fov, stride=args.stride,
                               max_views=args.max_views, held_out_every=args.held_out_every, seed=args.seed)
    print(f"calibration set in {cs.folder}: {cs.views['calib']} calibration views, {cs.views['heldout']} held out "
          f"({cs.view_size}x{cs.view_size}, FOV {cs.fov_deg:g})")
    return 0


def _run(args: argparse.Namespace) -> int:
    from ego360.export.sam2_export import export_sam2

    _check_calibration(args)  # before the export: nothing half-written on a bad request

    report = export_sam2(args.config, args.image_size, args.out, checkpoint=args.checkpoint,
                         seed=args.seed if args.random_weights else None, verify=args.verify)
    print(f"exported {args.config} @ {args.image_size} to {report.folder}")
    ok = True
    for name, (delta, cos) in report.graphs.items():
        good = delta <= 1e-4 and cos >= 0.9999
        ok &= good
        print(f"  {name:22s} max|d|={delta:.3g} cosine={cos:.8f} {'ok' if good else 'FAIL'}")
    if report.track_iou is not None:
        ok &= report.track_iou == 1.0
        print(f"  end-to-end track (16 frames, ONNX Runtime vs PyTorch): min mask IoU={report.track_iou:.6f}")
    if args.precision != "fp32":
        _precision(args)
    return 0 if ok else 1


def _check_calibration(args: argparse.Namespace) -> None:
    if args.precision == "int8":
        from ego360.core.errors import InputError
        from ego360.export.calib_dataset import load_index

        if args.calibration is None:
            raise InputError("--precision int8 needs --calibration DIR (build one with `ego360 export calib "
                             "--source CLIP --out DIR`)")
        load_index(args.calibration)


def _run_precision(args: argparse.Namespace) -> int:
    from ego360.models.sam2.manifest import load_manifest

    _check_calibration(args)
    load_manifest(args.out)  # an export folder whose FP32 graphs still match their manifest
    _precision(args)
    return 0


def _precision(args: argparse.Namespace) -> None:
    from ego360.export.precision import KEEP_FP32_OPS, write_precision_graphs
    from ego360.export.precision_report import measure
    from ego360.export.precision_table import write_report

    keep = KEEP_FP32_OPS if args.keep_fp32 is None else tuple(k.strip() for k in args.keep_fp32.split(",") if k.strip())
    write_precision_graphs(args.out, args.precision, args.calibration, keep, args.calib_method)
    heldout = []
    if args.calibration is not None:
        from ego360.export.calib_dataset import iter_views

        heldout = list(iter_views(args.calibration, "heldout"))[:16]
    from ego360.export.sam2_export import synthetic_frames

    report = measure(args.out, synthetic_frames(args.report_frames), threads=args.threads, heldout=heldout)
    md = write_report(report)
    for t in report.tracks:
        print(f"  {t.precision} end to end ({len(t.ious)} frames): mask IoU vs fp32 mean {t.mean:.4f} min {t.min:.4f}")
    print(f"  precision report: {md} (+ .json, .png)")
