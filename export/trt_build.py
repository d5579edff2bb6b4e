"""TensorRT engines from the exported ONNX graphs: FP32 / FP16 / INT8, profiles, precision overrides.

Why the pure functions: profile shapes and the choice of layers kept in FP16 under INT8 decide an
engine's accuracy and speed but need no GPU to compute, so they are functions over `ego360.models.sam2.names` and
over (layer name, layer type) pairs, tested on CPU; `build_engine` only feeds their results to the
TensorRT 10 or 11 Python API through `ego360.export.trt_api` (strongly typed networks on both: precision
comes from the ONNX graph, FP16 or Q/DQ; the weakly-typed calibrator path exists on 10.x only).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ego360.core.errors import ConfigError, ModelError
from ego360.models.sam2 import names as N

log = logging.getLogger(__name__)

Precision = Literal["fp32", "fp16", "int8"]
PRECISIONS: tuple[str, ...] = ("fp32", "fp16", "int8")
Shape = tuple[int, ...]
ProfileShapes = dict[str, tuple[Shape, Shape, Shape]]  # input -> (min, opt, max)

ENGINE_GRAPHS = N.ENGINE_GRAPHS
# which graphs INT8 applies to; the others of an int8 build are FP16 (small, precision-sensitive)
INT8_GRAPHS: tuple[str, ...] = ("image_encoder",)


def graph_file(folder: Path, graph: str, precision: str) -> Path:
    """`<graph>.onnx` (fp32) or `<graph>.<precision>.onnx`: the one naming rule of an export folder's graphs
    (written by `export.precision`, read by the precision report and the engine build). The INT8 build's
    non-INT8 graphs are FP16."""
    if precision not in PRECISIONS:
        raise ConfigError(f"precision {precision!r}; valid: {', '.join(PRECISIONS)}")
    if precision == "int8" and graph not in INT8_GRAPHS:
        precision = "fp16"
    return Path(folder) / (f"{graph}.onnx" if precision == "fp32" else f"{graph}.{precision}.onnx")


# ----------------------------------------------------------------- profiles (pure)
def dim_ranges(image_size: int, max_objects: int = N.MAX_OBJECTS, max_points: int = N.MAX_POINTS) -> dict:
    """(min, opt, max) of every symbolic dim of `names.shapes`: objects "B", memory tokens "M" (one
    memory frame .. the ring's capacity, optimum the steady state: num_maskmem frames + 16 pointers),
    prompt points "P" and sparse tokens "T" (points + 1 padding token)."""
    if max_objects < 1 or max_points < 1:
        raise ConfigError(f"max_objects ({max_objects}) and max_points ({max_points}) must be >= 1")
    hw = (image_size // 16) ** 2
    steady = N.NUM_MASKMEM * hw + N.MAX_OBJ_PTRS * N.PTR_TOKENS
    return {"B": (1, 1, max_objects), "M": (hw, steady, N.ring_length(image_size)),
            "P": (1, min(2, max_points), max_points), "T": (2, min(3, max_points + 1), max_points + 1)}


def profile_shapes(graph: str, image_size: int, max_objects: int = N.MAX_OBJECTS,
                   max_points: int = N.MAX_POINTS) -> ProfileShapes:
    """Optimization-profile shapes of `graph`'s inputs with a symbolic dim (static inputs need none)."""
    spec = next((g for g in N.GRAPHS if g.name == graph), None)
    if spec is None:
        raise ConfigError(f"unknown graph {graph!r}; valid: {', '.join(g.name for g in N.GRAPHS)}")
    ranges = dim_ranges(image_size, max_objects, max_points)
    shapes = N.shapes(image_size)[graph]
    out: ProfileShapes = {}
    for name in spec.inputs:
        shape = shapes[name]
        if not any(isinstance(d, str) for d in shape):
            continue
        out[name] = tuple(  # type: ignore[assignment]
            tuple(ranges[d][i] if isinstance(d, str) else int(d) for d in shape) for i in range(3))
    return out


# ----------------------------------------------------------------- layer precision (pure)
@dataclass(frozen=True)
class PrecisionRule:
    """Layers whose TensorRT type is in `types` (empty: any) and whose name matches `pattern` (regex,
    searched, case-insensitive; empty: any) run in `precision`."""

    label: str
    types: frozenset[str]
    pattern: str = ""
    precision: str = "fp16"

    def matches(self, name: str, layer_type: str) -> bool:
        if self.types and layer_type not in self.types:
            return False
        return not self.pattern or re.search(self.pattern, name, flags=re.IGNORECASE) is not None


_NORM_PARTS = frozenset({"NORMALIZATION", "REDUCE", "ELEMENTWISE", "UNARY"})
RULES: dict[str, tuple[PrecisionRule, ...]] = {
    # LayerNormalization parses to one NORMALIZATION layer; LayerNorm2d (mask decoder, memory encoder)
    # is decomposed by the exporter, its pieces carry the module name ("norm", "LayerNorm") in theirs
    "LayerNorm": (PrecisionRule("LayerNorm", frozenset({"NORMALIZATION"})),
                  PrecisionRule("LayerNorm", _NORM_PARTS, r"(layernorm|/norm[^/]*/|_norm[^/]*/)")),
    "Softmax": (PrecisionRule("Softmax", frozenset({"SOFTMAX"})),),
    # Add nodes directly in a transformer block (`blocks.N/Add`, `layers.N/Add`; top-level `/Add` in the
    # ring graph, whose layers are traced as one function): the residual adds, plus cheap position adds.
    # Not the bias adds of Linear layers (`q_proj/Add`): pinning those would split INT8 MatMul+bias fusion.
    # The ONNX parser names each layer after its node.
    "residual Add": (PrecisionRule("residual Add", frozenset({"ELEMENTWISE"}),
                                   r"(^/|/(blocks|layers)\.\d+(_\d+)?/)Add(_\d+)?($|[^A-Za-z0-9_])"),),
}
KEEP_FP16_DEFAULT: tuple[str, ...] = ("LayerNorm", "Softmax", "residual Add")


def rules_for(keep: Sequence[str]) -> tuple[PrecisionRule, ...]:
    unknown = [k for k in keep if k not in RULES]
    if unknown:
        raise ConfigError(f"unknown layer group(s) {', '.join(unknown)} to keep in FP16; valid: {', '.join(RULES)}")
    return tuple(r for k in keep for r in RULES[k])


def select_layer_precisions(layers: Iterable[tuple[str, str]], rules: Sequence[PrecisionRule]) -> dict[str, str]:
    """{layer name: precision} for the layers some rule matches (the first matching rule wins)."""
    chosen: dict[str, str] = {}
    for name, layer_type in layers:
        for rule in rules:
            if rule.matches(name, layer_type):
                chosen[name] = rule.precision
                break
    return chosen


# ----------------------------------------------------------------- TensorRT (GPU machines only)
@dataclass(frozen=True)
class BuiltEngine:
    graph: str
    path: Path
    precision: str
    profiles: tuple[ProfileShapes, ...]
    fp16_layers: int  # layers pinned by the precision overrides


def _trt_dtype(trt: Any, precision: str) -> Any:
    return {"fp16": trt.float16, "fp32": trt.float32}[precision]


def apply_layer_precisions(trt: Any, network: Any, rules: Sequence[PrecisionRule]) -> int:
    """Pin the layers `rules` select (float layers only: shape and index layers keep their types)."""
    floats = {trt.float32, trt.float16}
    layers = [network.get_layer(i) for i in range(network.num_layers)]
    eligible = [ly for ly in layers if ly.num_outputs and all(ly.get_output(j).dtype in floats
                                                              for j in range(ly.num_outputs))]
    chosen = select_layer_precisions(((ly.name, ly.type.name) for ly in eligible), rules)
    for ly in eligible:
        if ly.name in chosen:
            dtype = _trt_dtype(trt, chosen[ly.name])
            ly.precision = dtype
            for j in range(ly.num_outputs):
                ly.set_output_type(j, dtype)
    return len(chosen)


def _parse(trt: Any, builder: Any, logger: Any, onnx_path: Path, flags: int = 0) -> Any:
    network = builder.create_network(flags)  # explicit batch always; STRONGLY_TYPED on 10.x when typed
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ModelError(f"TensorRT cannot parse {onnx_path} ({errors}); re-export with `ego360 export sam2`")
    return network, parser


def _timing_cache(config: Any, path: Path | None) -> None:
    data = path.read_bytes() if path is not None and path.is_file() else b""
    cache = config.create_timing_cache(data)
    config.set_timing_cache(cache, ignore_mismatch=False)


def _save_timing_cache(config: Any, path: Path | None) -> None:
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(config.get_timing_cache().serialize()))


def has_qdq(onnx_path: Path) -> bool:
    """Whether a graph carries explicit quantization (QuantizeLinear nodes), read without its weights."""
    import onnx

    graph = onnx.load(str(onnx_path), load_external_data=False).graph
    return any(n.op_type == "QuantizeLinear" for n in graph.node)


def build_engine(onnx_path: Path, out_path: Path, precision: Precision, profiles: Sequence[Mapping[str, tuple]],
                 calibrator: Any = None, timing_cache: Path | None = None,
                 keep_fp16_layers: Sequence[str] = KEEP_FP16_DEFAULT, workspace_gib: float = 4.0,
                 typed: bool | None = None, trt: Any = None) -> BuiltEngine:
    """Serialize one engine.

    Typed (the default without a calibrator; TensorRT 10 and 11): a strongly typed network whose precision
    is the graph's: an FP16 graph gives an FP16 engine, a Q/DQ graph an INT8 one. Weakly typed (with a
    calibrator; TensorRT 10 only): FP16/INT8 builder flags on an FP32 graph, INT8 from the calibrator
    (`ego360.export.int8.*Calibrator.as_trt()`), `keep_fp16_layers` pinned to FP16 (obeyed)."""
    from ego360.export import trt_api

    if precision not in PRECISIONS:
        raise ConfigError(f"precision {precision!r}; valid: {', '.join(PRECISIONS)}")
    typed = calibrator is None if typed is None else typed
    if precision == "int8" and typed and not has_qdq(onnx_path):
        raise ModelError(f"INT8 engine for {onnx_path.name} needs a calibration set: build the Q/DQ graphs with "
                         "`ego360 export sam2 --precision int8 --calibration DIR` (set from `ego360 export calib`)")
    if precision == "int8" and not typed and calibrator is None:
        raise ModelError(f"INT8 engine for {onnx_path.name} needs a calibration set; build one with "
                         "`ego360 export calib` and pass --calib DIR")
    if trt is None:
        import tensorrt as trt
    flags = trt_api.network_flags(trt, typed)
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network, _parser = _parse(trt, builder, logger, onnx_path, flags)
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_gib * (1 << 30)))
    _timing_cache(config, timing_cache)
    trt_profiles = []
    for shapes in profiles:
        prof = builder.create_optimization_profile()
        for name, (lo, opt, hi) in shapes.items():
            prof.set_shape(name, lo, opt, hi)
        config.add_optimization_profile(prof)
        trt_profiles.append(prof)
    pinned = 0
    trt_api.configure_precision(trt, config, precision, typed, calibrator)
    if precision == "int8" and not typed:
        if trt_profiles:
            config.set_calibration_profile(trt_profiles[0])
        pinned = apply_layer_precisions(trt, network, rules_for(keep_fp16_layers))
    serialized = builder.build_serialized_network(network, config)
    if getattr(calibrator, "error", None) is not None:
        raise calibrator.error
    if serialized is None:
        raise ModelError(f"TensorRT failed to build {onnx_path.name} at {precision} (see the log above)")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_bytes(bytes(serialized))
    _save_timing_cache(config, timing_cache)
    log.info("built %s (%s, %d layers pinned to FP16)", out_path, precision, pinned)
    return BuiltEngine(onnx_path.stem, out_path, precision, tuple(dict(p) for p in profiles), pinned)


def engine_manifest(engine_dir: Path) -> dict:
    """The engine folder's manifest as last written, or {} when there is none or it cannot be read."""
    import json

    from ego360.models.sam2.trt_manifest import TRT_MANIFEST

    try:
        man = json.loads((Path(engine_dir) / TRT_MANIFEST).read_text())
    except (OSError, ValueError):
        return {}
    return man if isinstance(man, dict) else {}


def cached_entry(engine_dir: Path, graph: str, onnx_path: Path, precision: str, profiles: Sequence[Mapping],
                 env: Mapping[str, str], manifest: Mapping | None = None) -> dict | None:
    """The engine folder's manifest entry for `graph` when its engine can be reused: built from this very
    ONNX graph (sha256), at this precision, with these profiles, by this TensorRT on this GPU (name and
    compute capability) and this export code, and the engine file unchanged. Anything else: None (rebuild;
    a stale engine is never loaded, `trt_manifest.load_trt_manifest` refuses it). `manifest`: the folder's
    `engine_manifest`, read once by the caller for all graphs (read here when not given)."""
    from ego360.models.sam2.manifest import file_sha256, source_hash
    from ego360.models.sam2.trt_manifest import ENV_KEYS

    man = engine_manifest(engine_dir) if manifest is None else manifest
    try:
        entry = man["engines"][graph]
        built = man["environment"]
    except (KeyError, TypeError):
        return None
    engine = Path(engine_dir) / str(entry.get("file"))
    wanted = [{k: [list(s) for s in v] for k, v in p.items()} for p in profiles]
    same = (man.get("source_hash") == source_hash() and all(str(built.get(k)) == str(env.get(k)) for k in ENV_KEYS)
            and entry.get("precision") == precision and entry.get("profiles") == wanted
            and entry.get("onnx", {}).get("sha256") == file_sha256(onnx_path)
            and engine.is_file() and file_sha256(engine) == entry.get("sha256"))
    return dict(entry) if same else None


def build_engines(onnx_dir: Path, engine_dir: Path, precision: Precision, calib_dir: Path | None = None,
                  calibrator_kind: str = "entropy", timing_cache: Path | None = None,
                  max_objects: int = N.MAX_OBJECTS, keep_fp16_layers: Sequence[str] = KEEP_FP16_DEFAULT,
                  force: bool = False) -> Path:
    """Every graph of `ENGINE_GRAPHS` → `<graph>.<precision>.engine` in `engine_dir`, plus glue weights
    and the engine manifest; INT8 only for `INT8_GRAPHS` (the rest FP16). An engine whose key (ONNX
    graph hash, precision, profiles, TensorRT version, GPU) matches is kept (`cached_entry`), any other is
    rebuilt; `force` rebuilds all. Returns the manifest path."""
    import shutil

    from ego360.models.sam2.adapters import GLUE
    from ego360.models.sam2.manifest import load_manifest
    from ego360.models.sam2.trt_manifest import current_environment, engine_entry, write_trt_manifest

    onnx_dir, engine_dir = Path(onnx_dir), Path(engine_dir)
    env = current_environment()  # fails first, in one line, where TensorRT or the GPU is missing
    man = load_manifest(onnx_dir)
    size = int(man["image_size"])
    timing_cache = timing_cache or engine_dir / "timing.cache"
    previous = engine_manifest(engine_dir)  # read once: every graph's reuse is decided against it
    entries = {}
    for graph in ENGINE_GRAPHS:
        prec = precision if precision != "int8" or graph in INT8_GRAPHS else "fp16"
        onnx_path = typed_graph(onnx_dir, graph, prec)
        calibrator = None
        if onnx_path is None:  # no FP16 / Q/DQ graph: the weakly-typed path (TensorRT 10 only)
            onnx_path = graph_file(onnx_dir, graph, "fp32")
            if prec == "int8":
                from ego360.export.int8 import calibrator_for_graph

                calibrator = calibrator_for_graph(graph, calib_dir, size, engine_dir / f"{graph}.calib.cache",
                                                  calibrator_kind).as_trt()
        shapes = profile_shapes(graph, size, max_objects)
        profiles = [shapes] if shapes else []
        # the calibrator path's ranges come from data outside the graph: never reused
        reuse = None if force or calibrator is not None else cached_entry(engine_dir, graph, onnx_path, prec,
                                                                          profiles, env, previous)
        if reuse is not None:
            log.info("%s: engine up to date (same graph, precision, TensorRT and GPU), kept", graph)
            entries[graph] = reuse
            continue
        out = engine_dir / f"{graph}.{prec}.engine"
        built = build_engine(onnx_path, out, prec, profiles, calibrator, timing_cache, keep_fp16_layers,
                             typed=prec == "fp32" or onnx_path != graph_file(onnx_dir, graph, "fp32"))
        entries[graph] = engine_entry(built.path, onnx_path, prec, built.profiles)
    shutil.copy2(onnx_dir / GLUE, engine_dir / GLUE)
    return write_trt_manifest(engine_dir, man, entries, env, precision)


def typed_graph(onnx_dir: Path, graph: str, precision: str) -> Path | None:
    """The graph that carries `precision` itself (`<graph>.onnx` for fp32, `<graph>.fp16.onnx`, `<graph>.int8.onnx`
    from `ego360 export sam2 --precision`), or None when the export has only FP32 graphs."""
    path = graph_file(onnx_dir, graph, precision)
    return path if path.is_file() else None
