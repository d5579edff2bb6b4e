"""What the engine builder asks of TensorRT, per major version: 10.x and 11.x from one builder.

Why: TensorRT 11 removed the weakly-typed path (`BuilderFlag.FP16`/`INT8`, `OBEY_PRECISION_CONSTRAINTS`,
`config.int8_calibrator`): networks are strongly typed and reduced precision comes from the ONNX graph
(FP16 tensors, explicit Q/DQ nodes for INT8). TensorRT 10 (JetPack 6.x ships 10.3) has both paths; there
the strongly typed one is asked for with `NetworkDefinitionCreationFlag.STRONGLY_TYPED`. Everything here
takes the `tensorrt` module as an argument, so tests drive it with a fake module that records the calls.
"""

from __future__ import annotations

from typing import Any

from ego360.core.errors import ModelError

SUPPORTED = (10, 11)
INSTALL = "pip install 'tensorrt>=10,<12' (on Jetson: JetPack 6.x brings 10.3, JetPack 7.2 brings 10.16)"


def major_version(trt: Any) -> int:
    """Major version of the installed TensorRT; an unsupported one is a one-line ModelError."""
    version = str(getattr(trt, "__version__", "unknown"))
    try:
        major = int(version.split(".")[0])
    except ValueError:
        major = -1
    if major not in SUPPORTED:
        raise ModelError(f"TensorRT {version} is installed; ego360 builds engines with TensorRT 10.x or 11.x: "
                         f"{INSTALL}")
    return major


def _need(trt: Any, path: str, why: str) -> Any:
    obj = trt
    for part in path.split("."):
        if not hasattr(obj, part):
            raise ModelError(f"TensorRT {getattr(trt, '__version__', 'unknown')} lacks {path}, needed {why}; "
                             f"{INSTALL}")
        obj = getattr(obj, part)
    return obj


def network_flags(trt: Any, typed: bool) -> int:
    """Creation flags: strongly typed on 10.x asks for STRONGLY_TYPED; 11.x networks are always typed."""
    major = major_version(trt)
    if not typed:
        if major >= 11:
            raise ModelError(f"TensorRT {trt.__version__} has no weakly-typed networks (implicit FP16/INT8 "
                             "with a calibrator); build from the FP16 / Q/DQ ONNX graphs "
                             "(`ego360 export sam2 --precision fp16|int8`) or install tensorrt 10.x "
                             "(pip install 'tensorrt>=10,<11')")
        return 0
    if major >= 11:
        return 0
    flag = _need(trt, "NetworkDefinitionCreationFlag.STRONGLY_TYPED", "for strongly typed networks")
    return 1 << int(flag)


def configure_precision(trt: Any, config: Any, precision: str, typed: bool, calibrator: Any = None) -> list[str]:
    """Set the builder-config flags for `precision`; returns what was asked (for logs and tests).

    Typed (both versions): the graph's own types decide; only TF32 is cleared for FP32 references.
    Weakly typed (10.x only, the old calibrator path): FP16/INT8 flags, precision constraints and the
    implicit-quantization calibrator."""
    asked: list[str] = []
    if precision == "fp32" and hasattr(getattr(trt, "BuilderFlag", None), "TF32"):
        config.clear_flag(trt.BuilderFlag.TF32)  # TF32 is on by default; FP32 engines are the reference
        asked.append("clear TF32")
    if typed:
        return asked
    major_version(trt)
    if precision in ("fp16", "int8"):
        config.set_flag(_need(trt, "BuilderFlag.FP16", "for FP16 layers"))
        asked.append("FP16")
    if precision == "int8":
        if calibrator is None:
            raise ModelError("a weakly-typed INT8 engine needs a calibrator; pass --calib DIR, or build the "
                             "Q/DQ graph with `ego360 export sam2 --precision int8 --calibration DIR`")
        config.set_flag(_need(trt, "BuilderFlag.INT8", "for implicit INT8"))
        config.set_flag(_need(trt, "BuilderFlag.OBEY_PRECISION_CONSTRAINTS", "to keep layers in FP16 under INT8"))
        _need(trt, "IInt8EntropyCalibrator2", "for INT8 calibration")
        config.int8_calibrator = calibrator
        asked += ["INT8", "OBEY_PRECISION_CONSTRAINTS", "int8_calibrator"]
    return asked
