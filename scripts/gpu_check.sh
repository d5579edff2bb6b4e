#!/usr/bin/env bash
# The one prepared GPU check for the SAM2 tracker (run on a lent CUDA machine from the repo root):
# CUDA parity of the streaming tracker with Meta's predictor, then every `gpu`-marked SAM2 test
# (TensorRT ones skip themselves where tensorrt is not importable). Figures are printed (-s).
set -euo pipefail
PY=${PY:-.venv/bin/python}
"$PY" -c "import torch; assert torch.cuda.is_available(), 'no CUDA'; print(torch.cuda.get_device_name(0))"
"$PY" -c "import tensorrt as trt; print('TensorRT', trt.__version__)" || echo "TensorRT not importable: its tests skip"
exec timeout 540 "$PY" -m pytest -m gpu -s -q -p no:cacheprovider tests/test_sam2_streaming.py tests/test_sam2_export.py
