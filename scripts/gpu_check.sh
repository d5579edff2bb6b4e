#!/usr/bin/env bash
# The one prepared GPU check (run from the repo root on a lent CUDA machine; installs nothing):
#   1. torch CUDA parity of the streaming tracker with Meta's predictor,
#   2. ONNX Runtime's CUDA execution provider vs PyTorch (where onnxruntime-gpu is importable),
#   3. TensorRT engines FP32/FP16/INT8, FP32 vs PyTorch CUDA, and the INT8/FP16 mask-IoU report
#      (where `import tensorrt` works).
# Each `gpu` test skips itself where its piece is missing. Figures are printed (-s); logs go to $OUT if
# set, else out/gpu_check. Budget: under 8 minutes (the pytest run is capped at 7).
set -uo pipefail
PY=${PY:-.venv/bin/python}
LOG=${OUT:-out/gpu_check}
mkdir -p "$LOG"
{
  "$PY" -c "import torch; assert torch.cuda.is_available(), 'no CUDA'; print('GPU', torch.cuda.get_device_name(0), torch.cuda.get_device_capability(0), 'torch', torch.__version__)"
  "$PY" -c "import onnxruntime as o; print('onnxruntime', o.__version__, o.get_available_providers())" || echo "onnxruntime not importable"
  "$PY" -c "import tensorrt as t; print('TensorRT', t.__version__)" || echo "TensorRT not importable: its tests skip"
} 2>&1 | tee "$LOG/env.txt"
timeout 420 "$PY" -m pytest -s -q -p no:cacheprovider -o addopts="" -m gpu \
  tests/test_sam2_streaming.py tests/test_sam2_export.py tests/test_trt_backend.py tests/test_trt_ort_cuda.py \
  2>&1 | tee "$LOG/pytest.log"
exit "${PIPESTATUS[0]}"
