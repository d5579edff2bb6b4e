#!/usr/bin/env bash
# The one prepared GPU check (run from the repo root on a CUDA machine; installs nothing, < 8 minutes):
#   1. the `gpu` tests: torch CUDA parity of the streaming tracker with Meta's predictor, ONNX Runtime's
#      CUDA provider and TensorRT engines where those are importable (each skips itself otherwise);
#   2. `ego360 bench tracker`: hiera_t @512/@1024, 1 and 3 objects, fp32/bf16, beside sam2's own
#      propagate_in_video; 3 follow-views in one batch; hiera_s/b+/l; torch.compile last (slowest);
#   3. `ego360 bench replay scenario:stealing` with the SAM2 tracker (random weights) @512 and @1024:
#      processed frames/s, tracker p50/p95, capture→earcon in the camera-paced run, peak RSS.
# Python: $PY, else the first of .venv/bin/python and python3 that imports torch with CUDA (any Python
# with torch + CUDA works; the repo runs from the checkout through PYTHONPATH). Without CUDA the GPU
# parts are skipped (GPU_CHECK_QUICK=1 runs the same steps tiny on the CPU, to check the script itself).
# Reports go to $OUT (at most 8 files) if set, else out/gpu_check; every figure is also printed.
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
has_cuda() { "$1" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; }
if [ -z "${PY:-}" ]; then
  for c in .venv/bin/python python3 python; do
    if command -v "$c" >/dev/null 2>&1 && has_cuda "$c"; then PY=$c; break; fi
  done
fi
QUICK=${GPU_CHECK_QUICK:-0}
if [ -z "${PY:-}" ]; then
  if [ "$QUICK" != 1 ]; then echo "gpu_check: no Python here imports torch with CUDA; nothing to check"; exit 0; fi
  PY=.venv/bin/python
fi
LOG=${OUT:-out/gpu_check}
WORK=$(mktemp -d)
mkdir -p "$LOG"
step() { echo; echo "=== $* ($(date +%T))"; }
{
  step environment
  "$PY" -c "import sys, torch; print('python', sys.version.split()[0], sys.executable); print('torch', torch.__version__, 'CUDA', torch.version.cuda, torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no GPU')"
  "$PY" -c "import sam2; print('sam2 importable from', sam2.__path__[0])" || echo "sam2 not importable: SAM2 steps will fail"
  "$PY" -c "import onnxruntime as o; print('onnxruntime', o.__version__, o.get_available_providers())" || echo "onnxruntime not importable"
  "$PY" -c "import tensorrt as t; print('TensorRT', t.__version__)" 2>/dev/null || echo "TensorRT not importable: its tests skip"
  nproc; free -g | head -2
} 2>&1 | tee "$LOG/env.txt"

EGO=("$PY" -m ego360)
if [ "$QUICK" = 1 ]; then
  SIZES=(--size 256); BIG=256; FR=(--frames 3 --warmup 1); REPLAY_SET=(--set tracker.backend=classical)
  REPLAY_CMP=(--compare tracker.max_entities=2 --label max2)
else
  SIZES=(--size 512 --size 1024); BIG=1024; FR=(--frames 40 --warmup 8)
  REPLAY_SET=(--set tracker.backend=sam2-torch --set tracker.checkpoint=random:0 --set tracker.image_size=512
              --set tracker.view_size=512 --set tracker.dtype=bf16)
  REPLAY_CMP=(--compare tracker.image_size=1024,tracker.view_size=1024 --label sam2@1024)
fi
{
  step "gpu tests"
  timeout 150 "$PY" -m pytest -s -q -p no:cacheprovider -o addopts="" -m gpu tests/models/sam2 tests/export
  echo "pytest rc=$?"

  step "bench tracker: hiera_t, 1 and 3 objects in one image, fp32/bf16, beside sam2 propagate_in_video"
  timeout 150 "${EGO[@]}" bench tracker "${SIZES[@]}" --objects 1 --objects 3 --dtype fp32 --dtype bf16 \
    --reference "${FR[@]}" --out "$WORK/t_main"

  step "bench replay scenario:stealing (SAM2 tracker, random weights)"
  timeout 200 "${EGO[@]}" bench replay scenario:stealing "${REPLAY_SET[@]}" "${REPLAY_CMP[@]}" --out "$WORK/replay"
  echo "replay rc=$?"

  step "bench tracker: follow-views (one stream per object, encoder batched)"
  timeout 60 "${EGO[@]}" bench tracker --size 512 --size "$BIG" --objects 1 --objects 3 --dtype bf16 --views \
    "${FR[@]}" --out "$WORK/t_views"

  step "bench tracker: larger models @$BIG bf16"
  timeout 90 "${EGO[@]}" bench tracker --size "$BIG" --model sam2.1_hiera_s --model sam2.1_hiera_b+ \
    --model sam2.1_hiera_l --dtype bf16 "${FR[@]}" --out "$WORK/t_models"

  step "bench tracker: torch.compile (image + memory encoders) @$BIG bf16"
  timeout 150 "${EGO[@]}" bench tracker --size "$BIG" --objects 1 --objects 3 --dtype bf16 --compile \
    "${FR[@]}" --out "$WORK/t_compile"
  echo "compile rc=$?"
} 2>&1 | tee "$LOG/gpu_check.log"

for t in t_main t_views t_models t_compile; do
  [ -f "$WORK/$t/tracker.md" ] && { cat "$WORK/$t/tracker.md"; echo; }
done > "$LOG/tracker.md"
[ -f "$WORK/t_main/tracker.png" ] && cp "$WORK/t_main/tracker.png" "$LOG/tracker.png"
[ -f "$WORK/replay/bench.md" ] && cp "$WORK/replay/bench.md" "$LOG/replay.md"
[ -f "$WORK/replay/bench.json" ] && cp "$WORK/replay/bench.json" "$LOG/replay.json"
step "summary"
cat "$LOG/tracker.md" "$LOG/replay.md" 2>/dev/null
rm -rf "$WORK"
