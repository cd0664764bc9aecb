"""LPIPS diversity ``--pairs all``: msgan-eval's batched path vs a per-pair ``lpips.LPIPS`` loop.

Both sides use the same seeded random torchvision backbone (ImageNet weights cannot be downloaded
offline; the cost does not depend on the weight values) and the real v0.1 linear heads, on the
same images and the same pairs. The reference gets the images already decoded and runs under
``torch.no_grad()``; msgan-eval's time is the whole ``lpips_diversity`` call (loading the
backbone included). Prints both times, the ratio (issue 7 target: >= 5x) and the largest
per-pair difference (must be <= 1e-5).

On the CPU each instruction set runs in its own child process (``--isa both``, the default:
native, then the kernels held to AVX2; see ``_cpu.py``).

    .venv/bin/python benchmarks/bench_lpips.py [--net alex] [--conditions 10] [--per-condition 12]
        [--size 64] [--threads 2] [--device cpu|cuda] [--isa both|native|avx2]
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

import _cpu
import numpy as np


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
    import torch

    out = {}
    with torch.no_grad():
        for cond, idx in groups.items():
            out[cond] = np.array([
                model(lpips.im2tensor(images[i]).to(device), lpips.im2tensor(images[j]).to(device)).item()
                for i, j in itertools.combinations(idx, 2)])
    return out


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--net", default="alex", choices=("alex", "vgg", "squeeze"))
    parser.add_argument("--conditions", type=int, default=10)
    parser.add_argument("--per-condition", type=int, default=12)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", action="store_true")
    _cpu.add_isa_option(parser)
    return parser.parse_args()


def measure(args) -> dict:
    """Both sides on this process's instruction set (a child of :func:`main`)."""
    import torch

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
    return {"isa": _cpu.isa_record(args.isa), "net": args.net, "conditions": args.conditions,
            "per_condition": args.per_condition, "size": args.size, "threads": args.threads,
            "device": args.device, "pairs": n_pairs, "reference_s": t_ref, "msgan_eval_s": t_ours,
            "ratio": t_ref / t_ours, "reference_pairs_per_s": n_pairs / t_ref,
            "msgan_eval_pairs_per_s": n_pairs / t_ours, "max_abs_pair_diff": max_diff,
            "score": ours.score, "reference_score": ref_score}


def agrees(report: dict) -> bool:
    return (report["max_abs_pair_diff"] <= 1e-5
            and abs(report["score"] - report["reference_score"]) <= 1e-5)


def print_report(isa: str, r: dict) -> None:
    n_pairs, t_ref, t_ours = r["pairs"], r["reference_s"], r["msgan_eval_s"]
    print(f"[{isa}] LPIPS {r['net']}, --pairs all, {r['conditions']} conditions x "
          f"{r['per_condition']} images {r['size']}x{r['size']} ({n_pairs} pairs), "
          f"{r['threads']} threads, {r['device']}; ATen {r['isa']['aten']}, "
          f"oneDNN {r['isa']['onednn']}")
    print(f"  lpips.LPIPS per pair : {t_ref:8.2f} s  ({n_pairs / t_ref:8.1f} pairs/s)")
    print(f"  msgan-eval batched   : {t_ours:8.2f} s  ({n_pairs / t_ours:8.1f} pairs/s)")
    print(f"  ratio                : {t_ref / t_ours:8.2f} x  (target >= 5)")
    print(f"  max |pair diff|      : {r['max_abs_pair_diff']:.2e}  score {r['score']:.6f} vs "
          f"{r['reference_score']:.6f}")


def main() -> int:
    args = parse_args()
    if _cpu.child_isa() is None and args.device == "cpu":   # one child per instruction set
        argv = ["--net", args.net, "--conditions", str(args.conditions), "--per-condition",
                str(args.per_condition), "--size", str(args.size), "--threads", str(args.threads)]
        reports = _cpu.run_children(__file__, argv, args.isa)
    else:       # a child, or CUDA (the instruction set of the host does not matter there)
        args.isa = args.isa if args.device == "cpu" else "native"
        reports = {args.isa: measure(args)}
    if args.json:
        print(json.dumps(reports if _cpu.child_isa() is None else next(iter(reports.values()))))
    else:
        for isa, report in reports.items():
            print_report(isa, report)
    ok = all(agrees(r) for r in reports.values())
    if not ok:
        print("values disagree beyond 1e-5", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
