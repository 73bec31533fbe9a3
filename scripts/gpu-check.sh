#!/usr/bin/env bash
# The one-shot GPU check: is margin-lab's webgpu backend correct on this machine's GPU, and how fast?
#
# Made for a lent GPU machine with no network and perhaps no Node. `npm run gpu:pack` puts this
# script beside margin-lab-gpu.tar.xz (a Node binary, the built project, the node_modules it needs
# and Fashion-MNIST) and the Vulkan loader packages. Run it there; it needs bash, tar, and xz or a
# python3 to unpack:
#
#   bash gpu-check.sh [--quick] [--workdir DIR] [--log FILE] [--data DIR]
#
# (--data DIR: the folder with Fashion-MNIST's four .gz files, for a bundle packed with --no-data.
# A bundle packed with --split travels as margin-lab-gpu.tar.xz.part-NN files, joined here.)
#
# In a built checkout (npm run build && npm run build:test) it runs in place:
#
#   bash scripts/gpu-check.sh --in-place [--quick]
#
# In one go, each step timed and everything written to one log (default gpu-check.log beside the
# bundle, or in the checkout):
#   1. npm run doctor                       (node scripts/doctor.js: every adapter Dawn sees)
#   2. the webgpu correctness tests         (node --test build/test/webgpu.test.js, adapter required)
#   3. npm run bench -- --backends webgpu,wasm --batches 128,512
#   4. npm run train, 2 epochs of Fashion-MNIST with the reference net on webgpu, timed
#   5. npm run benchmark in quick mode (the face-recognition recipe, shipped glyph subset) on webgpu
#   6. the bench against PyTorch on CUDA, when python3 has a CUDA torch
# then a summary. `--quick` is the dry run for a machine without a GPU (the software adapter,
# SwiftShader): the same steps, with the bench at batch 16 for 2 steps and training capped at 3
# steps per epoch. Exit status: 0 when every step passed, else the number of failed steps.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
QUICK=0
IN_PLACE=0
WORKDIR=""
LOG=""
DATA=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --in-place) IN_PLACE=1 ;;
    --workdir) WORKDIR="${2:?--workdir needs a folder}"; shift ;;
    --log) LOG="${2:?--log needs a file}"; shift ;;
    --data) DATA="$(cd "${2:?--data needs a folder}" && pwd)" || exit 2; shift ;;
    -h | --help) sed -n '2,23p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "gpu-check: unknown argument '$1' (expected --quick, --in-place, --workdir DIR, --log FILE, --data DIR, --help)" >&2; exit 2 ;;
  esac
  shift
done

if [ "$IN_PLACE" = 1 ]; then
  [ -n "$WORKDIR$DATA" ] && { echo "gpu-check: --workdir and --data apply to a bundle, not to --in-place" >&2; exit 2; }
  PROJECT="$(cd "$HERE/.." && pwd)"
  NODE="$(command -v node || true)"
  [ -n "$NODE" ] || { echo "gpu-check: --in-place needs node on PATH" >&2; exit 2; }
  LOG="${LOG:-$PROJECT/gpu-check.log}"
else
  TARBALL="$HERE/margin-lab-gpu.tar.xz"
  WORKDIR="${WORKDIR:-$HERE/work}"
  if [ ! -f "$TARBALL" ] && ls "$TARBALL".part-* >/dev/null 2>&1; then
    mkdir -p "$WORKDIR" && cat "$TARBALL".part-* >"$WORKDIR/margin-lab-gpu.tar.xz" || { echo "gpu-check: joining the parts failed" >&2; exit 2; }
    TARBALL="$WORKDIR/margin-lab-gpu.tar.xz"
  fi
  [ -f "$TARBALL" ] || { echo "gpu-check: $TARBALL not found: run this script from the folder npm run gpu:pack made, or use --in-place in a checkout" >&2; exit 2; }
  LOG="${LOG:-$HERE/gpu-check.log}"
fi
: >"$LOG" || { echo "gpu-check: cannot write the log $LOG" >&2; exit 2; }

log() { echo "$*" | tee -a "$LOG"; }
FAILED=0
SUMMARY=()

# Runs one step with its output in the log; records its time and status for the summary.
step() {
  local name="$1"
  shift
  log ""
  log "=== $name"
  log "\$ $*"
  local t0 t1 rc
  t0=$(date +%s.%N)
  "$@" 2>&1 | tee -a "$LOG"
  rc=${PIPESTATUS[0]}
  t1=$(date +%s.%N)
  local secs
  secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
  log "=== $name: exit $rc after ${secs} s"
  SUMMARY+=("$(printf '%-34s %s, %s s' "$name" "$([ "$rc" = 0 ] && echo passed || echo "FAILED (exit $rc)")" "$secs")")
  [ "$rc" = 0 ] || FAILED=$((FAILED + 1))
}

log "margin-lab GPU check, $(date -u '+%Y-%m-%d %H:%M:%S UTC') on $(uname -n) ($(uname -m)), $(nproc) cores$([ "$QUICK" = 1 ] && echo ', QUICK dry run')"

# --- 1. Unpack the bundle (Node, project, data) ---------------------------------------------------
if [ "$IN_PLACE" = 0 ]; then
  mkdir -p "$WORKDIR" || exit 2
  log "unpacking $TARBALL into $WORKDIR"
  if command -v xz >/dev/null; then
    tar -xJf "$TARBALL" -C "$WORKDIR" || { log "gpu-check: tar -xJf failed"; exit 2; }
  elif command -v python3 >/dev/null; then
    python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1], "r:xz").extractall(sys.argv[2])' "$TARBALL" "$WORKDIR" \
      || { log "gpu-check: unpacking with python3 failed"; exit 2; }
  else
    log "gpu-check: neither xz nor python3 is here to unpack $TARBALL"
    exit 2
  fi
  PROJECT="$WORKDIR/margin-lab"
  NODE="$WORKDIR/node/bin/node"
  chmod +x "$NODE"
  # The data travels uncompressed (xz packs it smaller than its gzip); the loader reads .gz.
  for f in "$PROJECT"/data/fashion-mnist/*-ubyte; do
    [ -f "$f" ] && gzip -1 -f "$f"
  done
  # The data: --data DIR, else the bundle's own (packed --with-data), else the checkout's data/
  # around the bundle (gpu-pack/ in a checkout: the default, since the checkout carries them).
  CHECKOUT_DATA="$(cd "$HERE/.." && pwd)/data"
  mkdir -p "$PROJECT/data"
  if [ -n "$DATA" ]; then
    rm -rf "$PROJECT/data/fashion-mnist"
    ln -s "$DATA" "$PROJECT/data/fashion-mnist"
    log "data: Fashion-MNIST from $DATA"
  elif [ ! -d "$PROJECT/data/fashion-mnist" ]; then
    if [ -f "$CHECKOUT_DATA/fashion-mnist/train-images-idx3-ubyte.gz" ]; then
      ln -s "$CHECKOUT_DATA/fashion-mnist" "$PROJECT/data/fashion-mnist"
      log "data: Fashion-MNIST from the checkout around the bundle ($CHECKOUT_DATA/fashion-mnist)"
    else
      log "gpu-check: this bundle has no data and no checkout's data/ is around it ($CHECKOUT_DATA): give --data DIR, the folder with Fashion-MNIST's .gz files, or pack with --with-data"
      exit 2
    fi
  fi
  if [ ! -d "$PROJECT/data/hangul-glyphs" ] && [ -f "$CHECKOUT_DATA/hangul-glyphs/meta.json" ]; then
    ln -s "$CHECKOUT_DATA/hangul-glyphs" "$PROJECT/data/hangul-glyphs"
    log "data: the Hangul glyph subset from the checkout around the bundle"
  fi
fi
export PATH="$(dirname "$NODE"):$PATH"
log "node: $NODE ($("$NODE" --version))"

# --- 2. Vulkan: the loader (libvulkan.so.1) and a driver ------------------------------------------
if ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1'; then
  log "vulkan loader: the system's ($(ldconfig -p | grep -m1 'libvulkan\.so\.1' | sed 's/.*=> //'))"
elif ls "$HERE"/debs/libvulkan1_*.deb >/dev/null 2>&1; then
  VK="$WORKDIR/vulkan"
  mkdir -p "$VK"
  for deb in "$HERE"/debs/*.deb; do dpkg -x "$deb" "$VK" || log "gpu-check: dpkg -x $deb failed"; done
  export LD_LIBRARY_PATH="$VK/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  log "vulkan loader: none installed; using the bundled $(basename "$HERE"/debs/libvulkan1_*.deb) via LD_LIBRARY_PATH"
else
  log "vulkan loader: none installed and none bundled; webgpu will find no adapter"
fi
if [ -z "${VK_ICD_FILENAMES:-}${VK_DRIVER_FILES:-}" ] \
  && ! ls /usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json >/dev/null 2>&1 \
  && [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  log "vulkan driver: no ICD registered; using $VK_DRIVER_FILES"
fi
if [ "$QUICK" = 1 ] && [ -z "${VK_ICD_FILENAMES:-}${VK_DRIVER_FILES:-}" ] && [ -f /usr/lib/chromium/vk_swiftshader_icd.json ]; then
  export VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json
  log "vulkan driver (quick dry run): SwiftShader, $VK_ICD_FILENAMES"
fi
command -v nvidia-smi >/dev/null && nvidia-smi -L 2>&1 | tee -a "$LOG"

cd "$PROJECT" || exit 2
# A fresh tree has no self-link; the tests import the library as 'margin-lab'.
[ -e node_modules/margin-lab ] || ln -s .. node_modules/margin-lab

# --- 3. The steps ---------------------------------------------------------------------------------
export MARGIN_LAB_WEBGPU_REQUIRED=1
if [ "$QUICK" = 1 ]; then
  BATCHES=16
  BENCH_STEPS=(--steps 2 --warmup 1)
  TRAIN_CAP=(--max-steps 3)
  RECIPE_CAP=(--epochs 1 --max-steps 2 --identities 20)
else
  BATCHES=128,512
  BENCH_STEPS=()
  TRAIN_CAP=()
  RECIPE_CAP=()
fi
RUN_DIR="$(mktemp -d "${TMPDIR:-/tmp}/margin-lab-gpu-check-XXXXXX")/run"

step "doctor" "$NODE" scripts/doctor.js
step "webgpu correctness tests" "$NODE" --test build/test/webgpu.test.js
step "bench webgpu vs wasm" env MARGIN_LAB_BACKEND= "$NODE" dist/cli/bench.js --backends webgpu,wasm \
  --batches "$BATCHES" "${BENCH_STEPS[@]}"
step "train fashion-mnist 2 epochs" env MARGIN_LAB_BACKEND=webgpu "$NODE" dist/cli/train.js --dataset fashion-mnist \
  --backbone reference --loss arcface --epochs 2 --run "$RUN_DIR" "${TRAIN_CAP[@]}"
# The face-recognition recipe's benchmark in its quick mode (softmax and ArcFace, BN backbone and
# neck, SGD with warm-up and cosine) on the shipped glyph subset, on webgpu.
if [ -f "$PROJECT/data/hangul-glyphs/meta.json" ]; then
  step "recipe benchmark (quick) on webgpu" env MARGIN_LAB_BACKEND=webgpu MARGIN_LAB_QUICK=1 "$NODE" dist/cli/benchmark.js \
    --data shipped --out "$(dirname "$RUN_DIR")/benchmark" "${RECIPE_CAP[@]}"
else
  log "recipe benchmark: skipped (no data/hangul-glyphs: run the bundle inside a checkout, or pack it --with-data)"
fi
# PyTorch on the GPU beside webgpu, when this machine's python3 has a CUDA build.
if python3 -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' >/dev/null 2>&1; then
  step "bench webgpu vs PyTorch on CUDA" env MARGIN_LAB_BACKEND= "$NODE" dist/cli/bench.js --backends webgpu \
    --torch-device cuda --python python3 --batches "$BATCHES" "${BENCH_STEPS[@]}"
else
  log "bench against PyTorch on CUDA: skipped (python3 has no torch that sees a CUDA device)"
fi

# --- 4. Summary -----------------------------------------------------------------------------------
log ""
log "=== SUMMARY"
found=$(grep -m1 '^backend ' "$LOG"; grep -m1 '^webgpu adapters' "$LOG")
while IFS= read -r l; do [ -n "$l" ] && log "  $l"; done <<<"$found"
for s in "${SUMMARY[@]}"; do log "  $s"; done
found=$(grep -E '^# (pass|fail|skipped) |worst (gradient|errors)|margin-lab backend: webgpu' "$LOG" | sort -u)
while IFS= read -r l; do [ -n "$l" ] && log "  $l"; done <<<"$found"
log "  log: $LOG"
exit "$FAILED"
