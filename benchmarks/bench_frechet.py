"""``frechet_distance`` (Cholesky whitening + symmetric eigenvalues) vs pytorch-fid's scipy ``sqrtm`` route.

Same statistics for both: mean/covariance of seeded correlated features at d = 2048 (pool3), with
n = 1000 (rank-deficient covariance, like a small sample set) and n = 10000. The reference is
``pytorch_fid.fid_score.calculate_frechet_distance`` itself. Prints the times, the ratio (issue 7
target: >= 8x) and the relative difference of the two values (target: <= 1e-6). Each size runs in
its own process, each instruction set too (``--isa both``, the default; see ``_cpu.py``). On a
shared machine the eigenvalue solvers are very sensitive to other load:
repeat the run and compare like with like.

    .venv/bin/python benchmarks/bench_frechet.py [--dims 2048] [--n 1000 10000] [--threads 2]
        [--isa both|native|avx2]
"""
import argparse
import json
import time
import warnings

import _cpu
import numpy as np


def statistics(n: int, d: int, seed: int, shift: float):
    """Non-negative correlated features, like averaged ReLU activations."""
    rng = np.random.default_rng(seed)
    mixing = rng.standard_normal((d, d)) / np.sqrt(d)
    feats = np.abs(rng.standard_normal((n, d)) @ mixing + shift)
    return np.mean(feats, axis=0), np.cov(feats, rowvar=False)


def best_time(fn, repeats: int):
    best, value = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - start)
    return best, value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dims", type=int, default=2048)
    parser.add_argument("--n", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--threads", type=int, default=None, help="BLAS threads (default: all)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    _cpu.add_isa_option(parser)
    args = parser.parse_args()
    if args.threads:
        from threadpoolctl import threadpool_limits
        threadpool_limits(args.threads)

    if _cpu.child_isa() is None:
        # One fresh process per size and instruction set, so one measurement's leftovers
        # (allocator, BLAS thread pools) cannot touch the next.
        rows = []
        for n in args.n:
            argv = ["--dims", str(args.dims), "--n", str(n), "--repeats", str(args.repeats)] + (
                ["--threads", str(args.threads)] if args.threads else [])
            for isa, child_rows in _cpu.run_children(__file__, argv, args.isa).items():
                rows += [{**row, "isa": isa} for row in child_rows]
        return report(rows, args.json)
    from pytorch_fid.fid_score import calculate_frechet_distance
    from threadpoolctl import threadpool_info

    from msgan_eval.metrics.fid import frechet_distance

    # OpenBLAS's kernel set (numpy's and scipy's BLAS), which --isa avx2 holds to Haswell.
    blas = ",".join(sorted({str(p.get("architecture")) for p in threadpool_info()
                            if p.get("internal_api") == "openblas"})) or "not OpenBLAS"
    rows = []
    for n in args.n:
        mu1, s1 = statistics(n, args.dims, 1, 0.0)
        mu2, s2 = statistics(n, args.dims, 2, 0.1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # Ours first, so the reference's large complex work cannot slow it down.
            t_ours, ours = best_time(lambda: frechet_distance(mu1, s1, mu2, s2), args.repeats)
            t_ref, ref = best_time(lambda: calculate_frechet_distance(mu1, s1, mu2, s2), 1)
        rows.append({"n": n, "dims": args.dims, "sqrtm_s": t_ref, "ours_s": t_ours,
                     "ratio": t_ref / t_ours, "rel_diff": abs(ours - ref) / abs(ref),
                     "fid": ours, "fid_reference": float(ref), "blas": blas})
    return report(rows, args.json)


def report(rows, as_json: bool) -> int:
    if as_json:
        print(json.dumps(rows))
        return 0
    for r in rows:
        print(f"[{r['isa']}] d={r['dims']} n={r['n']}: sqrtm {r['sqrtm_s']:.2f}s, ours "
              f"{r['ours_s']:.3f}s, ratio {r['ratio']:.1f}x (target >= 8x), rel diff "
              f"{r['rel_diff']:.1e} (target <= 1e-6); OpenBLAS kernels {r['blas']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
