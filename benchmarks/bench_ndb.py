"""NDB fit + evaluate: msgan-eval vs the reference algorithm (tests/reference_ndb.py).

Work (issue 7): bins on the 60k Fashion-MNIST training images as 32x32x3 (28x28 padded by 2,
grey repeated to 3 channels, as the image road reads grey PNGs): d = 3072, so both sides cluster on
a seeded random d // 6 = 512 dimensions; K = 100; the evaluated set is the 10k test split. The
reference is the gans-n-gmms ``NDB`` class with scikit-learn defaults (k-means++, n_init 'auto' = 1,
Lloyd), seeded with ``np.random.seed(seed)``; msgan-eval is ``fit_bins`` + ``evaluate_bins`` with
the same seed. ``--ref-n-init 10`` gives the reference the scikit-learn default of its own time
(n_init was 10 before scikit-learn 1.4), against msgan-eval's single seeded init. Both get the
same float64 arrays (decoding is not timed; imports are done before timing). Prints wall and CPU
times, their ratios (target >= 3x), both NDB / JSD values (target: NDB within 2), and whether the
bins and assignments agree exactly.

    .venv/bin/python benchmarks/bench_ndb.py [--bins 100] [--seed 0] [--n-train 60000]
        [--n-eval 10000] [--ref-n-init auto|N] [--json]
"""
import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))


def as_32x32x3(gray: np.ndarray) -> np.ndarray:
    padded = np.pad(gray, ((0, 0), (2, 2), (2, 2)))
    return np.repeat(padded[..., None], 3, axis=3).reshape(len(gray), -1) / 255.0


def run_reference(train, test, k, seed, n_init):
    from reference_ndb import ReferenceNDB

    np.random.seed(seed)
    start, cpu = time.perf_counter(), time.process_time()
    ref = ReferenceNDB(train, number_of_bins=k, n_init=n_init)
    result = ref.evaluate(test)
    return (time.perf_counter() - start, time.process_time() - cpu), ref, result


def run_ours(train, test, k, seed):
    from msgan_eval.metrics.ndb import assign_bins, evaluate_bins, fit_bins

    start, cpu = time.perf_counter(), time.process_time()
    bins = fit_bins(train, k=k, seed=seed)
    result = evaluate_bins(bins, test)
    elapsed = (time.perf_counter() - start, time.process_time() - cpu)
    return elapsed, bins, result, assign_bins(bins, test)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bins", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-train", type=int, default=60000)
    parser.add_argument("--n-eval", type=int, default=10000)
    parser.add_argument("--ref-n-init", default="auto", help="reference KMeans n_init (auto = 1)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from msgan_eval.datasets import load_fashion_mnist

    train = as_32x32x3(load_fashion_mnist("train")[0][:args.n_train])
    test = as_32x32x3(load_fashion_mnist("test")[0][:args.n_eval])
    n_init = args.ref_n_init if args.ref_n_init == "auto" else int(args.ref_n_init)
    import scipy.sparse  # noqa: F401  (imports are not part of either timing)
    import scipy.stats  # noqa: F401
    import sklearn.cluster  # noqa: F401
    ours_s, bins, ours, labels = run_ours(train, test, args.bins, args.seed)
    ref_s, ref, expected = run_reference(train, test, args.bins, args.seed, n_init)
    match = np.argmin(((bins.centers[:, None] - ref.bin_centers[None]) ** 2).sum(-1), axis=1)
    same_bins = sorted(match) == list(range(args.bins)) and np.allclose(
        bins.centers, ref.bin_centers[match], rtol=0, atol=1e-12)
    same_labels = bool(same_bins and np.array_equal(match[labels], expected["Bin-Assignment"]))
    (ref_wall, ref_cpu), (ours_wall, ours_cpu) = ref_s, ours_s
    out = {"work": f"fit {len(train)} x {train.shape[1]} (K={args.bins}) + evaluate {len(test)}",
           "reference_s": round(ref_wall, 2), "msgan_eval_s": round(ours_wall, 2),
           "ratio": round(ref_wall / ours_wall, 2), "reference_cpu_s": round(ref_cpu, 2),
           "msgan_eval_cpu_s": round(ours_cpu, 2), "cpu_ratio": round(ref_cpu / ours_cpu, 2),
           "load_average": round(os.getloadavg()[0], 2),
           "ndb_reference": int(expected["NDB"]), "ndb_msgan_eval": ours.ndb,
           "jsd_reference": float(expected["JS"]), "jsd_msgan_eval": ours.jsd,
           "same_bins": bool(same_bins), "same_assignments": same_labels,
           "reference_n_init": n_init, "seed": args.seed}
    if args.json:
        print(json.dumps(out))
    else:
        print(f"{out['work']}, seed {args.seed} (1-min load average at the end: "
              f"{out['load_average']})")
        print(f"  reference (gans-n-gmms NDB, sklearn KMeans n_init={n_init}): {ref_wall:7.2f} s wall "
              f"{ref_cpu:7.2f} s CPU  NDB {out['ndb_reference']}  JSD {out['jsd_reference']:.6f}")
        print(f"  msgan-eval fit_bins + evaluate_bins:               {ours_wall:7.2f} s wall "
              f"{ours_cpu:7.2f} s CPU  NDB {ours.ndb}  JSD {ours.jsd:.6f}")
        print(f"  ratio {out['ratio']:.2f}x wall, {out['cpu_ratio']:.2f}x CPU (target >= 3x); "
              f"same bins: {same_bins}; same assignments: {same_labels}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
