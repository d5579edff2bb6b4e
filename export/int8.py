"""INT8 calibrators in TensorRT's calibrator protocol, with device upload behind a pluggable allocator.

Why pluggable: TensorRT pulls calibration batches through `get_batch(names) -> [device pointers]` and
reads/writes an opaque cache; the batching, shape checks and cache handling are plain Python, so they
run on CPU with `HostAllocator` (numpy buffers) in tests, and with `TorchCudaAllocator` on a GPU.
`as_trt()` wraps a calibrator in the real `tensorrt.IInt8EntropyCalibrator2` / `IInt8MinMaxCalibrator`
subclass only when TensorRT is there (TensorRT 10 still accepts these implicit-quantization calibrators).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ego360.core.errors import ConfigError, ModelError

log = logging.getLogger(__name__)
Batch = Mapping[str, np.ndarray]


class HostBuffer:
    """A numpy buffer standing in for device memory (CPU tests); `ptr` is its real address."""

    def __init__(self, nbytes: int) -> None:
        self.data = np.zeros(nbytes, dtype=np.uint8)
        self.ptr = int(self.data.ctypes.data)

    def upload(self, array: np.ndarray) -> None:
        self.data[:] = np.ascontiguousarray(array).view(np.uint8).ravel()


class HostAllocator:
    def __init__(self) -> None:
        self.buffers: list[HostBuffer] = []

    def __call__(self, nbytes: int) -> HostBuffer:
        buf = HostBuffer(nbytes)
        self.buffers.append(buf)
        return buf


class TorchCudaBuffer:
    def __init__(self, nbytes: int) -> None:
        import torch

        self.tensor = torch.empty(nbytes, dtype=torch.uint8, device="cuda")
        self.ptr = int(self.tensor.data_ptr())

    def upload(self, array: np.ndarray) -> None:
        import torch

        host = torch.from_numpy(np.ascontiguousarray(array).view(np.uint8).ravel())
        self.tensor.copy_(host)
        torch.cuda.synchronize()


def TorchCudaAllocator() -> Callable[[int], TorchCudaBuffer]:  # noqa: N802 (allocator factory, like HostAllocator)
    return TorchCudaBuffer


class _Calibrator:
    """TensorRT's calibrator protocol over an iterable of {input name: array} batches.

    Explicit-batch networks: `get_batch_size()` is 1 and each batch holds full input shapes. A cache
    file, when present (and `fresh` is off), is handed to TensorRT, which then skips every batch.
    """

    algorithm = ""

    def __init__(self, batches: Iterable[Batch], cache_path: Path, allocator: Callable[[int], Any] | None = None,
                 fresh: bool = False) -> None:
        self._batches: Iterator[Batch] = iter(batches)
        self.cache_path = Path(cache_path)
        self._allocator = allocator or HostAllocator()
        self._buffers: dict[str, Any] = {}
        self._shapes: dict[str, tuple[tuple[int, ...], np.dtype]] = {}
        self.fresh = fresh
        self.batches_served = 0

    def get_batch_size(self) -> int:
        return 1

    def get_batch(self, names: list[str]) -> list[int] | None:
        """Device pointers of the next batch in the order of `names`, or None when the set is exhausted."""
        batch = next(self._batches, None)
        if batch is None:
            return None
        missing = [n for n in names if n not in batch]
        if missing:
            raise ModelError(f"calibration batch {self.batches_served} lacks input(s) {', '.join(missing)}; "
                             "rebuild the calibration set with `ego360 export calib`")
        ptrs = []
        for name in names:
            arr = np.ascontiguousarray(batch[name])
            key = (tuple(arr.shape), arr.dtype)
            if self._shapes.setdefault(name, key) != key:
                raise ModelError(f"calibration batch {self.batches_served}: {name} is {arr.dtype}{list(arr.shape)}, "
                                 f"earlier batches were {key[1]}{list(self._shapes[name][0])}; rebuild the set")
            if name not in self._buffers:
                self._buffers[name] = self._allocator(arr.nbytes)
            self._buffers[name].upload(arr)
            ptrs.append(int(self._buffers[name].ptr))
        self.batches_served += 1
        return ptrs

    def read_calibration_cache(self) -> bytes | None:
        if self.fresh or not self.cache_path.is_file():
            return None
        log.info("INT8: reusing calibration cache %s (no batches needed)", self.cache_path)
        return self.cache_path.read_bytes()

    def write_calibration_cache(self, cache: bytes | memoryview) -> None:
        self.cache_path.parent.mkdir(parents=True, exist_ok=True)
        self.cache_path.write_bytes(bytes(cache))

    def as_trt(self) -> Any:
        """This calibrator as a TensorRT object. An exception inside `get_batch` is logged and kept in
        `.error` (TensorRT would only see a failed build); `build_engine` re-raises it."""
        import tensorrt as trt

        base = {"ENTROPY_CALIBRATION_2": trt.IInt8EntropyCalibrator2,
                "MINMAX_CALIBRATION": trt.IInt8MinMaxCalibrator}[self.algorithm]
        core = self

        class TrtCalibrator(base):  # type: ignore[misc, valid-type]
            def __init__(self) -> None:
                base.__init__(self)
                self.error: Exception | None = None

            def get_batch_size(self) -> int:
                return core.get_batch_size()

            def get_batch(self, names: list[str]) -> list[int] | None:
                try:
                    return core.get_batch(names)
                except Exception as exc:  # surfaced after the build; TensorRT cannot carry it
                    log.error("INT8 calibration batch failed: %s", exc)
                    self.error = exc
                    return None

            def read_calibration_cache(self) -> bytes | None:
                return core.read_calibration_cache()

            def write_calibration_cache(self, cache: Any) -> None:
                core.write_calibration_cache(cache)

        return TrtCalibrator()


class EntropyCalibrator(_Calibrator):
    """KL-divergence thresholds (TensorRT's default, robust to activation outliers)."""

    algorithm = "ENTROPY_CALIBRATION_2"


class MinMaxCalibrator(_Calibrator):
    """Full-range thresholds (better where outliers carry signal, e.g. attention logits)."""

    algorithm = "MINMAX_CALIBRATION"


CALIBRATORS: dict[str, type[_Calibrator]] = {"entropy": EntropyCalibrator, "minmax": MinMaxCalibrator}


def calibrator_for_graph(graph: str, calib_dir: Path | None, image_size: int, cache_path: Path,
                         kind: str = "entropy", allocator: Callable[[int], Any] | None = None,
                         fresh: bool = False) -> _Calibrator:
    """A calibrator feeding `graph` from a calibration set (`ego360.export.calib_dataset`); only the image
    encoder is calibrated from the set (the views the tracker sees)."""
    from ego360.export.calib_dataset import image_encoder_batches

    if kind not in CALIBRATORS:
        raise ConfigError(f"calibrator {kind!r}; valid: {', '.join(CALIBRATORS)}")
    if graph != "image_encoder":
        raise ModelError(f"no INT8 calibration data for {graph}; only image_encoder is built in INT8")
    if calib_dir is None and not (cache_path.is_file() and not fresh):
        raise ModelError("INT8 needs a calibration set; build one with `ego360 export calib --out DIR` "
                         "and pass --calib DIR")
    batches: Iterable[Batch] = image_encoder_batches(calib_dir, image_size) if calib_dir is not None else ()
    if allocator is None:
        allocator = TorchCudaAllocator()
    return CALIBRATORS[kind](batches, cache_path, allocator, fresh)
