"""k-NN metrics and KID against their references, in the same run, and how they move with n.

``speed`` (default): precision/recall/density/coverage of msgan-eval (float32 screening + float64
recheck, row blocks) against ``prdc.compute_prdc`` on the same seeded n x n features, and KID
against torch-fidelity's ``kid_features_to_metric``. Each measurement runs in a fresh process, so
its peak RSS above the features already in memory is its own. Issue 14 targets: k-NN >= 5x faster
than prdc at 10k x 10k, memory flat as n grows.

``small-n``: KID, precision/recall and density/coverage of two disjoint real Fashion-MNIST sets
(test split) at several n, on the real FID Inception (pool3), for the table in docs/metrics/kid.md.

    .venv/bin/python benchmarks/bench_prdc.py speed [--n 2000 5000 10000] [--kid-subsets 100]
        [--kid-n 2000 5000 10000] [--no-prdc]
    .venv/bin/python benchmarks/bench_prdc.py small-n [--n 100 500 2000] [--repeats 5]
"""
import argparse
import json
import subprocess
import sys
import time

import numpy as np

D = 2048


def features(n: int, seed: int, d: int = D, dtype: str = "float32") -> np.ndarray:
    """Non-negative clustered features (like pool3): 50 modes, unit noise. float32 by default, as
    Inception features come (pytorch-fid's ``get_activations``, torch-fidelity, ours);
    ``--dtype float64`` is prdc's fastest case (sklearn then skips its float64 up-cast)."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(1234).standard_normal((50, d)) * 0.5
    x = np.abs(centres[rng.integers(0, 50, n)] + 0.3 * rng.standard_normal((n, d)))
    return x.astype(dtype)


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        import os

        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _reset_peak() -> bool:
    """Start the peak RSS afresh (Linux >= 4.0): making the features has float64 temporaries of
    several n x 2048 arrays, whose peak would otherwise count as the metric's."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _peak_mib(reset: bool) -> float:
    """Peak RSS since :func:`_reset_peak` (VmHWM), else since the process started."""
    import resource

    if reset:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def one(task: str, n: int, subsets: int, dtype: str) -> dict:
    """Run one measurement in this process (called in a fresh child)."""
    import contextlib
    import io

    import torch
    from prdc import compute_prdc
    from torch_fidelity.metric_kid import kid_features_to_metric

    from msgan_eval.metrics.kid import kid
    from msgan_eval.metrics.prdc import prdc

    real, fake = features(n, 0, dtype=dtype), features(n, 1, dtype=dtype)
    base = _rss_mib()          # libraries and features loaded: what follows is the metric's own
    reset = _reset_peak()
    start = time.perf_counter()
    if task == "ours-prdc":
        out = prdc(real, fake, k=5)
    elif task == "ref-prdc":
        with contextlib.redirect_stdout(io.StringIO()):
            out = {k: float(v) for k, v in compute_prdc(real, fake, 5).items()}
    elif task == "ours-kid":
        e = kid(fake, real, subsets=subsets, subset_size=1000, seed=0)
        out = {"kid": e.kid, "kid_std": e.kid_std, "method": e.method}
    else:
        r = kid_features_to_metric(torch.from_numpy(fake), torch.from_numpy(real), kid_subsets=subsets,
                                   kid_subset_size=1000, rng_seed=0, verbose=False, kid_kernel="poly",
                                   kid_kernel_poly_degree=3, kid_kernel_poly_gamma=None,
                                   kid_kernel_poly_coef0=1)
        out = {"kid": r["kernel_inception_distance_mean"], "kid_std": r["kernel_inception_distance_std"]}
    seconds = time.perf_counter() - start
    peak = _peak_mib(reset)
    return {"task": task, "n": n, "dtype": dtype, "seconds": round(seconds, 2),
            "extra_peak_mib": round(peak - base), "threads": torch.get_num_threads(), "result": out}


def speed(args) -> None:
    rows = []
    prdc_n = [] if args.no_prdc else args.n
    tasks = [("ours-prdc", n) for n in prdc_n] + [("ref-prdc", n) for n in prdc_n if n <= args.ref_max]
    tasks += [(t, n) for n in args.kid_n for t in ("ours-kid", "ref-kid")] if args.kid_subsets else []
    for task, n in tasks:
        dtype = "float64" if task.endswith("kid") else args.dtype
        done = subprocess.run([sys.executable, __file__, "one", task, str(n), str(args.kid_subsets),
                               dtype],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(done.stderr[-2000:])
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(json.dumps(rows[-1]), flush=True)
    by = {(r["task"], r["n"]): r for r in rows}
    for n in prdc_n:
        if ("ref-prdc", n) in by:
            ours, ref = by[("ours-prdc", n)], by[("ref-prdc", n)]
            same = all(ours["result"][m] == ref["result"][m] for m in ("precision", "recall", "coverage"))
            print(f"prdc n={n}: ours {ours['seconds']} s / {ours['extra_peak_mib']} MiB, prdc "
                  f"{ref['seconds']} s / {ref['extra_peak_mib']} MiB: {ref['seconds'] / ours['seconds']:.1f}x "
                  f"faster, counts equal: {same}")
        else:
            print(f"prdc n={n}: ours {by[('ours-prdc', n)]['seconds']} s / "
                  f"{by[('ours-prdc', n)]['extra_peak_mib']} MiB")
    for n in args.kid_n if args.kid_subsets else []:
        ours, ref = by[("ours-kid", n)], by[("ref-kid", n)]
        rel = abs(ours["result"]["kid"] - ref["result"]["kid"]) / abs(ref["result"]["kid"])
        print(f"kid n={n}, {args.kid_subsets} subsets of 1000: ours ({ours['result']['method']}) "
              f"{ours['seconds']} s / {ours['extra_peak_mib']} MiB, torch-fidelity {ref['seconds']} s / "
              f"{ref['extra_peak_mib']} MiB: {ref['seconds'] / ours['seconds']:.1f}x faster, "
              f"relative difference {rel:.1e}")


def small_n(args) -> None:
    import msgan_eval
    from msgan_eval.datasets import load_fashion_mnist
    from msgan_eval.evaluate.features import inception_features
    from msgan_eval.evaluate.inputs import as_image_set
    from msgan_eval.features.inception import resolve_inception_weights
    from msgan_eval.metrics.kid import kid
    from msgan_eval.metrics.prdc import prdc

    images, _ = load_fashion_mnist("test")
    order = np.random.default_rng(0).permutation(len(images))
    top = max(args.n)
    weights = resolve_inception_weights()
    feats = [inception_features(as_image_set(images[order[i * top:(i + 1) * top]], param="x"),
                                weights=weights, quiet=False) for i in (0, 1)]
    print(f"msgan-eval {msgan_eval.__version__}, weights {weights.sha256[:12]} ({weights.source})")
    print("| n | KID (x1e3) | precision | recall | density | coverage |")
    print("|---|---|---|---|---|---|")
    for n in args.n:
        vals = []
        for rep in range(args.repeats if n < top else 1):
            pick = [np.random.default_rng([rep, s]).choice(top, n, replace=False) for s in (0, 1)]
            a, b = feats[0][pick[0]], feats[1][pick[1]]
            vals.append([kid(b, a, seed=rep).kid * 1e3, *prdc(a, b, k=5).values()])
        m, s = np.mean(vals, axis=0), np.std(vals, axis=0)
        cells = [f"{mu:.2f} +- {sd:.2f}" if len(vals) > 1 else f"{mu:.2f}" for mu, sd in zip(m, s)]
        print(f"| {n} | " + " | ".join(cells) + " |", flush=True)


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "one":
        print(json.dumps(one(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", choices=("speed", "small-n"), default="speed")
    parser.add_argument("--n", type=int, nargs="+", default=None)
    parser.add_argument("--ref-max", type=int, default=10000, help="largest n given to prdc")
    parser.add_argument("--kid-subsets", type=int, default=100, help="0 skips KID")
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32",
                        help="speed: prdc's feature dtype (Inception features are float32); KID is "
                             "always timed on float64, where torch-fidelity computes in float64 too")
    parser.add_argument("--kid-n", type=int, nargs="+", default=None,
                        help="set sizes for KID (default: the largest --n)")
    parser.add_argument("--no-prdc", action="store_true", help="speed: time KID only")
    parser.add_argument("--repeats", type=int, default=5, help="small-n: draws per n")
    args = parser.parse_args()
    if args.mode == "speed":
        args.n = args.n or [2000, 5000, 10000]
        args.kid_n = args.kid_n or [max(args.n)]
        speed(args)
    else:
        args.n = args.n or [100, 500, 2000]
        small_n(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
