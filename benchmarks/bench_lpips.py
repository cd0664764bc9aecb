"""LPIPS diversity ``--pairs all``: msgan-eval's batched path vs a per-pair ``lpips.LPIPS`` loop.

Both sides use the same seeded random torchvision backbone (ImageNet weights cannot be downloaded
offline; the cost does not depend on the weight values) and the real v0.1 linear heads, on the
same images and the same pairs. The reference gets the images already decoded and runs under
``torch.no_grad()``; msgan-eval's time is the whole ``lpips_diversity`` call (loading the
backbone included). Prints both times, the ratio (issue 7 target: >= 5x) and the largest
per-pair difference (must be <= 1e-5).

    .venv/bin/python benchmarks/bench_lpips.py [--net alex] [--conditions 10] [--per-condition 12]
        [--size 64] [--threads 2] [--device cpu|cuda]
"""
import argparse
import itertools
import json
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch


def make_images(conditions: int, per_condition: int, size: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    n = conditions * per_condition
    ramp = np.linspace(0, 160, size)[None, :, None] + np.linspace(0, 60, size)[:, None, None]
    noise = rng.integers(0, 96, size=(n, size, size, 3))
    images = np.clip(ramp[None] * rng.uniform(0.2, 1.0, size=(n, 1, 1, 1)) + noise, 0, 255)
    labels = np.repeat(np.arange(conditions), per_condition)
    return images.astype(np.uint8), labels


def reference_loop(model, images, groups, device):
    """What a user of the lpips package writes: one LPIPS call per pair."""
    import lpips

    out = {}
    with torch.no_grad():
        for cond, idx in groups.items():
            out[cond] = np.array([
                model(lpips.im2tensor(images[i]).to(device), lpips.im2tensor(images[j]).to(device)).item()
                for i, j in itertools.combinations(idx, 2)])
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--net", default="alex", choices=("alex", "vgg", "squeeze"))
    parser.add_argument("--conditions", type=int, default=10)
    parser.add_argument("--per-condition", type=int, default=12)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    # A parity check on CUDA too: cuDNN allows TF32 convolutions by default, which would move the
    # lpips.LPIPS reference by ~1e-3 (lpips_diversity turns TF32 off for its own part).
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    warnings.simplefilter("ignore")

    from msgan_eval.evaluate.lpips import lpips_diversity
    from msgan_eval.features.lpips_net import write_random_backbone
    from msgan_eval.images import scan_images
    from msgan_eval.weights import LPIPS_BACKBONES

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ["TORCH_HOME"] = str(tmp / "torch")   # the reference finds the file here
        backbone = write_random_backbone(
            args.net, tmp / "torch" / "hub" / "checkpoints" / LPIPS_BACKBONES[args.net].filename, seed=0)
        images, labels = make_images(args.conditions, args.per_condition, args.size)
        np.savez(tmp / "images.npz", images=images, labels=labels)
        image_set = scan_images(tmp / "images.npz")
        groups = image_set.groups()
        decoded = [image_set[i] for i in range(len(image_set))]

        import lpips

        model = lpips.LPIPS(net=args.net, version="0.1", verbose=False).to(args.device)
        reference_loop(model, decoded, {k: v[:3] for k, v in list(groups.items())[:1]}, args.device)  # warm-up
        t0 = time.perf_counter()
        ref = reference_loop(model, decoded, groups, args.device)
        t_ref = time.perf_counter() - t0

        lpips_diversity(image_set.subset(range(3)), net=args.net, pairs="all", backbone_weights=backbone,
                        device=args.device)  # warm-up
        t0 = time.perf_counter()
        ours = lpips_diversity(image_set, net=args.net, pairs="all", backbone_weights=backbone,
                               device=args.device)
        t_ours = time.perf_counter() - t0

    max_diff = max(float(np.max(np.abs(ours.pair_distances[c] - ref[c]))) for c in groups)
    ref_score = float(np.mean([np.mean(ref[c]) for c in groups]))
    n_pairs = sum(len(v) for v in ref.values())
    report = {"net": args.net, "conditions": args.conditions, "per_condition": args.per_condition,
              "size": args.size, "threads": args.threads, "device": args.device, "pairs": n_pairs,
              "reference_s": t_ref, "msgan_eval_s": t_ours, "ratio": t_ref / t_ours,
              "reference_pairs_per_s": n_pairs / t_ref, "msgan_eval_pairs_per_s": n_pairs / t_ours,
              "max_abs_pair_diff": max_diff, "score": ours.score, "reference_score": ref_score}
    if args.json:
        print(json.dumps(report))
    else:
        print(f"LPIPS {args.net}, --pairs all, {args.conditions} conditions x {args.per_condition} "
              f"images {args.size}x{args.size} ({n_pairs} pairs), {args.threads} threads, {args.device}")
        print(f"  lpips.LPIPS per pair : {t_ref:8.2f} s  ({n_pairs / t_ref:8.1f} pairs/s)")
        print(f"  msgan-eval batched   : {t_ours:8.2f} s  ({n_pairs / t_ours:8.1f} pairs/s)")
        print(f"  ratio                : {t_ref / t_ours:8.2f} x  (target >= 5)")
        print(f"  max |pair diff|      : {max_diff:.2e}  score {ours.score:.6f} vs {ref_score:.6f}")
    ok = max_diff <= 1e-5 and abs(ours.score - ref_score) <= 1e-5
    if not ok:
        print("values disagree beyond 1e-5", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
