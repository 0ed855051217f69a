#!/usr/bin/env bash
# The GPU checks, run once on a lent accelerator machine (no network there):
#   the CUDA-only tests (AMP wrappers, no host sync) and the per-step cost
#   benchmark on the GPU. Pure-Python dependencies travel in build/_devsite
#   (make devsite); the machine has its own torch.
# Usage (from the repo root, on the device): bash tools/device/gpu_checks.sh
set -u
export PYTHONPATH="$PWD:$PWD/build/_devsite:${PYTHONPATH:-}"
OUT=${OUT:-reports/gpu}
mkdir -p "$OUT"
{
  date -u +%FT%TZ
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  python -c 'import sys, torch; print(sys.version.split()[0], torch.__version__, torch.version.cuda)'
  python -m pytest tests/test_engine_amp.py tests/test_cuda_sync.py \
    -q -p no:cacheprovider -rs 2>&1 | tail -20
  python tools/benchmark_step_cost.py --device cuda --iters 100 \
    --batch 128 --width 64 --out "$OUT"
} 2>&1 | tee "$OUT/gpu_checks.log"
