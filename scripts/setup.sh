#!/usr/bin/env bash
# Sets up ego360 on a fresh Debian machine (root, PyPI + apt reachable): system packages when
# missing, the virtual environment at .venv, and the package. `--dev` adds everything the test
# suite needs (torch, sam2, transformers, onnx, audio server). Idempotent: reruns are quick.
set -euo pipefail
cd "$(dirname "$0")/.."

DEV=0
for arg in "$@"; do
  case "$arg" in
    --dev) DEV=1 ;;
    *) echo "setup.sh: unknown option '$arg'; use --dev or nothing" >&2; exit 2 ;;
  esac
done

APT_PKGS=(ffmpeg espeak-ng libespeak-ng1 libportaudio2 libsndfile1)
[ "$DEV" = 1 ] && APT_PKGS+=(pulseaudio pulseaudio-utils libasound2-plugins)
[ "$DEV" = 1 ] && APT_PKGS+=(chromium)  # the dashboard's test drives headless Chromium
missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "[setup] apt: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

PY=${PYTHON:-python3}
"$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
  || { echo "setup.sh: Python >= 3.11 required (found $("$PY" --version)); set PYTHON=python3.11" >&2; exit 2; }
[ -x .venv/bin/python ] || "$PY" -m venv .venv
PIP=(.venv/bin/python -m pip install -q --disable-pip-version-check)
"${PIP[@]}" --upgrade pip 2>&1 | grep -v "is ignored: it is neither" || true

if [ "$DEV" = 1 ]; then
  echo "[setup] python: torch, sam2, transformers, onnx, audio, eval, dev tools (first run takes minutes)"
  "${PIP[@]}" torch==2.14.1 torchvision==0.29.1 2>&1 | grep -v "is ignored: it is neither" || true
  "${PIP[@]}" -e ".[audio,voice,onnx,vlm,eval,dev,detect]" 2>&1 | grep -v "is ignored: it is neither" || true
  if ! .venv/bin/python -c "import sam2" 2>/dev/null; then
    SAM2_BUILD_CUDA=0 "${PIP[@]}" --no-build-isolation sam2==1.1.0 2>&1 | grep -v "is ignored: it is neither" || true
  fi
else
  echo "[setup] python: ego360 with audio"
  "${PIP[@]}" -e ".[audio,detect]" 2>&1 | grep -v "is ignored: it is neither" || true
fi
# The shipped person detector and segmenter: two .tflite files (Apache-2.0) taken out of the mediapipe
# 0.10.21 wheel (downloaded without its dependencies; nothing of it is installed), checked by sha256.
MP_DIR=.models/mediapipe
MP_SUMS=models/detectors/mediapipe_models.sha256
if ! (cd "$MP_DIR" 2>/dev/null && grep -v '^#' "../../$MP_SUMS" | sha256sum -c --quiet - >/dev/null 2>&1); then
  echo "[setup] models: extracting the MediaPipe person detector and segmenter into $MP_DIR"
  WHL_TMP=$(mktemp -d)
  trap 'rm -rf "$WHL_TMP"' EXIT
  .venv/bin/python -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
    mediapipe==0.10.21 -d "$WHL_TMP" 2>&1 | grep -v "is ignored: it is neither" || true
  mkdir -p "$MP_DIR"
  .venv/bin/python - "$WHL_TMP" "$MP_DIR" <<'PY'
import sys, zipfile, pathlib
whl = next(pathlib.Path(sys.argv[1]).glob("mediapipe-0.10.21-*.whl"))
with zipfile.ZipFile(whl) as z:
    for name in ("pose_detection/pose_detection.tflite", "selfie_segmentation/selfie_segmentation.tflite"):
        (pathlib.Path(sys.argv[2]) / name.split("/")[1]).write_bytes(z.read("mediapipe/modules/" + name))
PY
  (cd "$MP_DIR" && grep -v '^#' "../../$MP_SUMS" | sha256sum -c --quiet -) \
    || { echo "setup.sh: the MediaPipe models do not match $MP_SUMS; delete $MP_DIR and rerun" >&2; exit 1; }
fi
.venv/bin/python -c "import runtime, cv2, av, pycocotools" || { echo "setup.sh: install failed" >&2; exit 1; }
echo "[setup] ready: .venv/bin/ego360 --help"
