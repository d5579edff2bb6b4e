"""FP16 and INT8 (explicit Q/DQ) ONNX graphs next to the FP32 export, for strongly typed TensorRT builds.

Why in the ONNX graph and not in the builder: TensorRT 11 dropped the builder-side precision flags and
the implicit-INT8 calibrator; a strongly typed network takes its precision from the graph (FP16 tensors,
QuantizeLinear/DequantizeLinear pairs). The same graphs run in ONNX Runtime on the CPU, so what a
precision costs in accuracy is measured here (`ego360.export.precision_report`), not only on a GPU.

Files: `<graph>.fp16.onnx` (all graphs) and, for `--precision int8`, `<graph>.int8.onnx` for the graphs
of `INT8_GRAPHS` (the image encoder, the only one the calibration set feeds); the other graphs of an
INT8 build are FP16, as `trt_build.build_engines` expects. The manifest's `precisions` section records
what was converted, the quantization settings and the calibration set's hash.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ego360.core.errors import ConfigError, InputError
from ego360.export.trt_build import INT8_GRAPHS, PRECISIONS, graph_file
from ego360.models.sam2 import names as N

# Ops left in FP32 inside FP16 graphs: ONNX Runtime's own block list (ops with no FP16 kernel) plus the
# statistics of the LayerNorms the exporter decomposes into ReduceMean/Pow/Sqrt (LayerNorm2d in the
# memory encoder, prompt encoder and mask decoder): Pow squares activations, and in FP16 any |x| > 256
# overflows the variance to inf. They are cheap. With random weights the accuracy report shows no
# difference with or without them (every graph's error identical to 3 digits, hiera_t @ 64), so this is
# a guard for real checkpoints' larger activations, not a measured need; `--keep-fp32` overrides it.
# LayerNormalization and Softmax nodes accumulate in FP32 inside ONNX Runtime and TensorRT: FP16 is fine.
KEEP_FP32_OPS: tuple[str, ...] = ("ReduceMean", "Pow", "Sqrt")
# Q/DQ goes in front of the weighted layers only: what TensorRT fuses into INT8 kernels; attention's
# activation-by-activation MatMuls are quantized too (TensorRT runs them as INT8 MHA when it can).
QDQ_OPS: tuple[str, ...] = ("Conv", "MatMul", "Gemm")
# Layers left unquantized (they stay FP32 in the Q/DQ graph): the patch embedding (first layer, on the
# normalised image) and the FPN neck's / high-res projections (last layers, whose outputs are the graph's
# outputs). 7 of 82 Conv/MatMul nodes of hiera_t, a small share of the compute; excluding them lifts the
# min cosine of the three feature maps vs FP32 from 0.976/0.952/0.930 to 0.997/0.991/0.965 (hiera_t @ 64,
# random weights). No single other group matters much (MLP fc2, attention projections: ±0.02).
INT8_EXCLUDE = (r"patch_embed/", r"/neck/", r"^/conv_s\d/")
CALIB_METHODS = ("minmax", "entropy", "percentile")


def convert_fp16(src: Path, dst: Path, keep_fp32_ops: Sequence[str] = KEEP_FP32_OPS) -> Path:
    """FP16 copy of an FP32 graph; inputs and outputs stay FP32 (keep_io_types) so every loader and the
    manifest's tensor dtypes are unchanged, Casts sit at the edges and around the kept ops."""
    import onnx
    from onnxruntime.transformers.float16 import DEFAULT_OP_BLOCK_LIST, convert_float_to_float16

    model = onnx.load(str(src))
    blocked = sorted(set(DEFAULT_OP_BLOCK_LIST) | set(keep_fp32_ops))
    half = convert_float_to_float16(model, keep_io_types=True, op_block_list=blocked)
    onnx.save(half, str(dst))
    return dst


def calibration_hash(calib_dir: Path) -> str:
    """sha256 over the calibration set's index and its calibration-split files (held-out views excluded:
    they do not change the quantization)."""
    from ego360.export.calib_dataset import load_index

    index = load_index(calib_dir)
    h = hashlib.sha256((Path(calib_dir) / "index.json").read_bytes())
    for name in index["files"]["calib"]:
        h.update((Path(calib_dir) / name).read_bytes())
    return h.hexdigest()


def _reader(calib_dir: Path, image_size: int, max_views: int | None) -> Any:
    """An ONNX Runtime CalibrationDataReader over the calibration split's views (the image encoder's
    preprocessing, bit-identical to the tracker's)."""
    from onnxruntime.quantization import CalibrationDataReader

    from ego360.export.calib_dataset import image_encoder_batches

    class ViewReader(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = image_encoder_batches(calib_dir, image_size)
            self.n = 0

        def get_next(self) -> dict | None:
            if max_views is not None and self.n >= max_views:
                return None
            batch = next(self.batches, None)
            self.n += batch is not None
            return batch

    return ViewReader()


@dataclass(frozen=True)
class QuantSettings:
    """What `quantize_int8` asked of ONNX Runtime; recorded in the manifest."""

    format: str = "QDQ"
    activations: str = "int8 symmetric (zero point 0), per tensor"
    weights: str = "int8 symmetric (zero point 0), per channel"
    biases: str = "fp32 (not quantized)"
    op_types: tuple[str, ...] = QDQ_OPS
    method: str = "minmax"
    views: int = 0
    excluded: tuple[str, ...] = ()  # nodes left FP32 (see INT8_EXCLUDE)


def quantize_int8(src: Path, dst: Path, calib_dir: Path, image_size: int, method: str = "minmax",
                  max_views: int | None = None) -> QuantSettings:
    """Post-training static quantization of the image encoder into Q/DQ format with symmetric INT8
    activations and weights (TensorRT requires zero point 0), per-channel weights. Biases stay FP32:
    TensorRT fuses them into the INT8 layer itself and does not take INT32 bias Q/DQ."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    if method not in CALIB_METHODS:
        raise ConfigError(f"calibration method {method!r}; valid: {', '.join(CALIB_METHODS)}")
    import re

    import onnx

    reader = _reader(calib_dir, image_size, max_views)
    nodes = onnx.load(str(src), load_external_data=False).graph.node
    excluded = tuple(n.name for n in nodes if n.op_type in QDQ_OPS and any(re.search(p, n.name) for p in INT8_EXCLUDE))
    methods = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
               "percentile": CalibrationMethod.Percentile}
    quantize_static(str(src), str(dst), reader, quant_format=QuantFormat.QDQ, op_types_to_quantize=list(QDQ_OPS),
                    per_channel=True, activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                    calibrate_method=methods[method], nodes_to_exclude=list(excluded),
                    # MinMax calibration keeps per-view ReduceMin/ReduceMax scalars only, so no
                    # CalibMaxIntermediateOutputs (in ORT 1.32 it drops, not folds, the views before a flush)
                    extra_options={"ActivationSymmetric": True, "WeightSymmetric": True, "QuantizeBias": False})
    if reader.n == 0:
        raise InputError(f"the calibration set in {calib_dir} has no calibration views; rebuild it with "
                         "`ego360 export calib --source CLIP --out DIR`")
    return QuantSettings(method=method, views=reader.n, excluded=excluded)


def write_precision_graphs(folder: Path, precision: str, calib_dir: Path | None = None,
                           keep_fp32_ops: Sequence[str] = KEEP_FP32_OPS, method: str = "minmax",
                           max_views: int | None = None) -> dict[str, Any]:
    """Convert the FP32 graphs of an export folder to `precision` (FP16 graphs for fp16 and int8, Q/DQ
    graphs of `INT8_GRAPHS` for int8) and record them in its manifest; returns the manifest section."""
    from ego360.models.sam2.manifest import file_sha256, load_manifest, write_manifest

    folder = Path(folder)
    if precision not in PRECISIONS:
        raise ConfigError(f"precision {precision!r}; valid: {', '.join(PRECISIONS)}")
    if precision == "int8" and calib_dir is None:
        raise InputError("--precision int8 needs --calibration DIR (a calibration set from "
                         "`ego360 export calib --source CLIP --out DIR`)")
    man = load_manifest(folder)
    if calib_dir is not None and precision == "int8":
        from ego360.export.calib_dataset import load_index

        load_index(calib_dir)  # fails first, in one line, before any graph is written
    section: dict[str, Any] = {}
    if precision in ("fp16", "int8"):
        files = {}
        for spec in N.GRAPHS:
            out = convert_fp16(graph_file(folder, spec.name, "fp32"), graph_file(folder, spec.name, "fp16"),
                               keep_fp32_ops)
            files[spec.name] = {"file": out.name, "sha256": file_sha256(out)}
        section["fp16"] = {"graphs": files, "keep_fp32_ops": list(keep_fp32_ops)}
    if precision == "int8":
        files, settings = {}, QuantSettings()
        for graph in INT8_GRAPHS:
            out = graph_file(folder, graph, "int8")
            settings = quantize_int8(graph_file(folder, graph, "fp32"), out, calib_dir, int(man["image_size"]),
                                     method, max_views)
            files[graph] = {"file": out.name, "sha256": file_sha256(out)}
        section["int8"] = {"graphs": files, "other_graphs": "fp16", "quantization": asdict(settings),
                           "calibration": {"folder": str(Path(calib_dir).resolve()),
                                           "sha256": calibration_hash(calib_dir)}}
    man["precision"] = precision
    man["precisions"] = {**man.get("precisions", {}), **section}
    write_manifest(folder, man)
    return section


def session_options(path: Path) -> Any:
    """ORT session options that run FP16 graphs on the CPU: in ONNX Runtime 1.32 (the version measured
    here) the NCHWc layout transformer crashes (segfault at session creation) on the FP16 memory-attention
    graphs, so it is disabled for FP16 graphs; FP32 and Q/DQ graphs get the defaults."""
    import onnxruntime as ort

    return ort.SessionOptions(), (["NchwcTransformer"] if ".fp16." in Path(path).name else None)


def cpu_session(path: Path, threads: int | None = None) -> Any:
    import onnxruntime as ort

    opts, disabled = session_options(path)
    if threads:
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"], disabled_optimizers=disabled)
