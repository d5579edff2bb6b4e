"""`trt_manifest.json` of an engine folder: which TensorRT, GPU and ONNX graphs the engines came from.

Why: a TensorRT engine only runs on the TensorRT version and GPU architecture that built it, and
silently computes the wrong thing when the ONNX graphs or the shared tensor layout changed since.
The loader compares the manifest with the current environment (a plain dict, so the checks run
without TensorRT or a GPU in tests) and stops with one line naming the mismatch and the fix.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ego360.core.errors import ModelError
from ego360.models.sam2 import names as N
from ego360.models.sam2.manifest import file_sha256, read_checked, source_hash

TRT_MANIFEST = "trt_manifest.json"
TRT_FORMAT = 1
ENV_KEYS = ("tensorrt", "gpu", "compute_capability")


def current_environment() -> dict[str, str]:
    """TensorRT version, GPU name and compute capability of this machine (GPU machines only)."""
    try:
        import tensorrt as trt
        import torch
    except ImportError as exc:
        raise ModelError(f"TensorRT engines need the {exc.name} package on a CUDA machine (pip install tensorrt); "
                         "elsewhere use tracker.backend=sam2-onnx") from exc
    if not torch.cuda.is_available():
        raise ModelError("TensorRT engines need a CUDA GPU and none is visible; use tracker.backend=sam2-onnx")
    major, minor = torch.cuda.get_device_capability(0)
    return {"tensorrt": str(trt.__version__), "gpu": torch.cuda.get_device_name(0),
            "compute_capability": f"{major}.{minor}"}


def engine_entry(engine: Path, onnx: Path, precision: str, profiles: tuple) -> dict[str, Any]:
    return {"file": engine.name, "sha256": file_sha256(engine), "precision": precision,
            "onnx": {"file": onnx.name, "path": str(onnx.resolve()), "sha256": file_sha256(onnx)},
            "profiles": [{k: [list(s) for s in v] for k, v in p.items()} for p in profiles]}


def build_trt_manifest(onnx_manifest: Mapping[str, Any], entries: Mapping[str, Any], env: Mapping[str, str],
                       precision: str) -> dict[str, Any]:
    return {"format": TRT_FORMAT, "precision": precision, "config": onnx_manifest["config"],
            "image_size": onnx_manifest["image_size"], "weights": onnx_manifest.get("weights"),
            "source_hash": source_hash(), "ring": {"frames": N.RING_FRAMES, "pointers": N.RING_POINTERS,
                                                   "length": N.ring_length(int(onnx_manifest["image_size"]))},
            "environment": {k: env[k] for k in ENV_KEYS}, "engines": dict(entries)}


def write_trt_manifest(folder: Path, onnx_manifest: Mapping[str, Any], entries: Mapping[str, Any],
                       env: Mapping[str, str], precision: str) -> Path:
    path = Path(folder) / TRT_MANIFEST
    path.write_text(json.dumps(build_trt_manifest(onnx_manifest, entries, env, precision), indent=2))
    return path


def load_trt_manifest(folder: Path, env: Mapping[str, str], image_size: int | None = None,
                      check_files: bool = True, check_onnx: bool = True) -> dict[str, Any]:
    """Read the engine manifest and check it against `env` (see `current_environment`) and this code;
    any mismatch is a one-line ModelError ending in the rebuild command."""
    folder = Path(folder)
    path = folder / TRT_MANIFEST
    fix = f"rebuild with `ego360 export trt --onnx ONNX_DIR --out {folder}`"
    man = read_checked(path, TRT_FORMAT, fix, "built from")
    built = man.get("environment", {})
    for key in ENV_KEYS:
        if str(built.get(key)) != str(env.get(key)):
            raise ModelError(f"{path}: engines were built for {key} {built.get(key)!r}, this machine has "
                             f"{env.get(key)!r}; {fix}")
    size = man.get("image_size")
    if image_size is not None and size != image_size:
        raise ModelError(f"{path} is for image size {size}, not {image_size}; {fix}")
    if man.get("ring", {}).get("length") != N.ring_length(int(size)):
        raise ModelError(f"{path}: memory ring of {man.get('ring', {}).get('length')} tokens, this code uses "
                         f"{N.ring_length(int(size))}; {fix}")
    missing = [g for g in N.ENGINE_GRAPHS if g not in man.get("engines", {})]
    if missing:
        raise ModelError(f"{path} has no engine for {', '.join(missing)}; {fix}")
    for graph, entry in man["engines"].items():
        _check_entry(folder, graph, entry, check_files, check_onnx, fix)
    return man


def _check_entry(folder: Path, graph: str, entry: Mapping[str, Any], check_files: bool, check_onnx: bool,
                 fix: str) -> None:
    engine = folder / entry["file"]
    if check_files and (not engine.is_file() or file_sha256(engine) != entry["sha256"]):
        raise ModelError(f"{engine} is missing or changed since it was built; {fix}")
    onnx = Path(entry["onnx"]["path"])
    if check_onnx and onnx.is_file() and file_sha256(onnx) != entry["onnx"]["sha256"]:
        raise ModelError(f"{onnx} changed since {engine.name} was built from it (re-exported?); {fix}")
