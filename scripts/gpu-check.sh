#!/usr/bin/env bash
# The GPU checks in one pass, for a CUDA machine lent for a short while (`npm run check:gpu -- [bench options]`):
#   1. build the CUDA addon against the machine's own torch (LIBTORCH, else python3's torch), all cores;
#   2. the CUDA tests (test/engine/cuda.test.ts: parity with transformers, generation, gradients, bf16, OOM);
#   3. a profile of greedy generation on the 1B model at batch 1 and 50 (bench/profile.mjs): where each step's
#      time goes, per op and per CUDA kernel; traces and summaries in GREATER_PROFILE_OUT (default
#      bench/.work/profiles), the top of each summary printed;
#   4. the GPU bench, stopped after GREATER_GPU_BENCH_SECONDS (default 420) so that a lease's end never cuts
#      the output off; bench options default to the 1B model with 128-token steps (what fits a 15-minute lease).
# Each stage prints its own timing; a failing stage stops the script with its exit code.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! nvidia-smi -L >/dev/null 2>&1; then
  echo "gpu-check: no NVIDIA GPU here (nvidia-smi -L failed); the CUDA checks need one" >&2
  exit 2
fi
stage() { echo "== $(date -u +%T) $*"; }

stage "device: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader)"
if [ -z "${LIBTORCH:-}" ]; then
  LIBTORCH=$(python3 -c 'import os, torch; print(os.path.dirname(torch.__file__))') || {
    echo "gpu-check: set LIBTORCH to a CUDA libtorch, or install a CUDA torch for python3" >&2
    exit 2
  }
fi
export LIBTORCH CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}

stage "build the CUDA addon against $LIBTORCH"
node scripts/build-native.mjs
node -e 'import("./dist/index.js").then((m) => { const i = m.engineInfo(); console.log(JSON.stringify({ libtorch: i.libtorchVersion, variant: i.variant, devices: i.devices })); if (!i.cudaAvailable) process.exit(1); })' || {
  echo "gpu-check: the addon built but cannot use CUDA (see engineInfo above)" >&2
  exit 1
}

stage "CUDA tests"
node node_modules/vitest/vitest.mjs run test/engine/cuda.test.ts

stage "profile generation on gpu-1b"
# A diagnosis, not a figure: its failure is reported and the bench still runs.
timeout --signal=TERM 180 node bench/profile.mjs --profile gpu-1b --out "${GREATER_PROFILE_OUT:-bench/.work/profiles}" ||
  echo "gpu-check: the profile failed or ran past 180 s (exit $?); going on to the bench" >&2

stage "GPU bench"
bench_args=("$@")
[ ${#bench_args[@]} -eq 0 ] && bench_args=(--models gpu-1b --step-tokens 128)
# The bench kills its running side when stopped (bench/lib/children.mjs), so the timeout leaves nothing behind.
timeout --signal=TERM "${GREATER_GPU_BENCH_SECONDS:-420}" node bench/run.mjs --gpu "${bench_args[@]}"
stage "done"
