"""`manifest.json` of an export folder: what was exported from what, checked when a backend loads it.

Why: an ONNX folder outlives the code that wrote it; loading graphs whose names, shapes, image size or
source no longer match the runtime fails later and obscurely, so the loader compares first and stops
with one line naming the mismatch and the fix (re-export).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from ego360.core.errors import ModelError
from ego360.models.sam2 import names as N

MANIFEST = "manifest.json"
FORMAT = 1


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def source_hash() -> str:
    """Hash of the code that defines the graphs (names, wrappers, RoPE): a change means re-export."""
    here = Path(__file__).resolve().parent  # models/sam2 (ego360/models/sam2 when installed)
    files = (here / "names.py", here / "ring.py", here / "rope.py", here.parents[1] / "export" / "sam2_onnx.py")
    h = hashlib.sha256()
    for path in files:  # by path, not import: the exporter sits in a layer above this loader
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def build_manifest(config: str, image_size: int, weights: str, paths: dict[str, Path]) -> dict[str, Any]:
    import sam2
    import torch

    shapes = N.shapes(image_size)
    graphs = {}
    for spec in N.GRAPHS:
        graphs[spec.name] = {
            "file": paths[spec.name].name, "sha256": file_sha256(paths[spec.name]),
            "inputs": {k: {"shape": list(shapes[spec.name][k]), "dtype": _dtype(k)} for k in spec.inputs},
            "outputs": {k: {"shape": list(shapes[spec.name][k]), "dtype": "float32"} for k in spec.outputs},
        }
    return {"format": FORMAT, "config": config, "image_size": image_size, "weights": weights, "opset": N.OPSET,
            "torch": torch.__version__, "sam2": getattr(sam2, "__version__", "1.1.0"),
            "source_hash": source_hash(), "graphs": graphs}


def _dtype(name: str) -> str:
    return {"num_obj_ptr_tokens": "int64", "point_labels": "int32"}.get(name, "float32")


def write_manifest(out_dir: Path, manifest: dict[str, Any]) -> Path:
    path = out_dir / MANIFEST
    path.write_text(json.dumps(manifest, indent=2))
    return path


def read_checked(path: Path, fmt: int, fix: str, made: str) -> dict[str, Any]:
    """Read a manifest (export or engine folder) and check its format and source hash: the checks every
    manifest needs before its own ones; a failure is a one-line ModelError ending in `fix`."""
    if not path.is_file():
        raise ModelError(f"{path} not found; {fix}")
    try:
        man = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ModelError(f"{path} is not valid JSON ({exc.msg}); {fix}") from exc
    if man.get("format") != fmt or man.get("source_hash") != source_hash():
        raise ModelError(f"{path} was {made} by other export code (source hash {man.get('source_hash')}); {fix}")
    return man


def load_manifest(folder: Path, image_size: int | None = None, check_files: bool = True) -> dict[str, Any]:
    """Read and check an export folder against this code; any mismatch is a one-line ModelError."""
    path = Path(folder) / MANIFEST
    fix = f"re-export with `ego360 export sam2 ... --out {folder}`"
    man = read_checked(path, FORMAT, fix, "written")
    if image_size is not None and man.get("image_size") != image_size:
        raise ModelError(f"{path} is for image size {man.get('image_size')}, not {image_size}; {fix}")
    expected = N.shapes(man["image_size"])
    for spec in N.GRAPHS:
        g = man.get("graphs", {}).get(spec.name)
        if g is None or list(g["inputs"]) != list(spec.inputs) or list(g["outputs"]) != list(spec.outputs):
            raise ModelError(f"{path}: graph {spec.name} is missing or has other tensor names; {fix}")
        for k, v in {**g["inputs"], **g["outputs"]}.items():
            if v["shape"] != list(expected[spec.name][k]):
                raise ModelError(f"{path}: {spec.name}.{k} has shape {v['shape']}, expected "
                                 f"{list(expected[spec.name][k])}; {fix}")
        onnx_file = Path(folder) / g["file"]
        if check_files and (not onnx_file.is_file() or file_sha256(onnx_file) != g["sha256"]):
            raise ModelError(f"{onnx_file} is missing or changed since export; {fix}")
    return man
