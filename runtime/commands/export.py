"""`ego360 export sam2 ...`: SAM2 to ONNX (and `--verify` against PyTorch)."""

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
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from export.sam2_export import export_sam2

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
    return 0 if ok else 1
