"""Is the image-to-image demo's LPIPS verdict stable across training seeds? (issue 12)

Trains N baseline (pix2pix with noise) and N MSGAN runs on fashion-mnist-edges with the demo's
settings (seeds SEED .. SEED+N-1), samples each as the demo does, then prints per seed each arm's
LPIPS diversity and that seed's own one-run verdict, and the pooled verdict over all seeds
(two-level bootstrap over runs then samples, ``metrics/multirun.py``), for ``--metrics``
(default lpips: FID's Inception is the slow part on a busy CPU; ``--metrics fid,lpips,ndb`` adds
the rest against the demo's reference). Wall and CPU times are printed (CPU time is the honest
figure on a shared machine). Runs already trained in ``--out`` are reused.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_pix2pix_seeds.py [--seeds 3] [--seed 0]
        [--out DIR] [--steps N] [--metrics lpips] [--lpips-backbone FILE] [--json]
"""
import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def train_and_sample(args, seeds) -> dict:
    """{arm: [samples folder per seed]}, training and sampling what is not in --out yet."""
    from msgan_eval.demo import arm_name
    from msgan_eval.demo_pairs import PairsDemoConfig, _train_and_sample

    config = PairsDemoConfig(seeds=len(seeds), seed=args.seed,
                             **({"steps": args.steps} if args.steps else {}))
    folders = {"baseline": [], "msgan": []}
    for seed in seeds:
        for arm, ms_weight in (("baseline", 0.0), ("msgan", 1.0)):
            done = args.out / "samples" / arm_name(arm, seed, len(seeds))
            if not (done / "sample.json").is_file():
                _train_and_sample(args.out, config, arm, ms_weight, seed, quiet=True,
                                  log=lambda m: print(m, file=sys.stderr, flush=True))
            folders[arm].append(done / "samples")
    return folders


def compare(folders: dict, args, seeds) -> tuple:
    from msgan_eval.demo import compare_arms, write_demo_reference
    from msgan_eval.report.compare import CompareConfig

    ref = args.out / "reference"
    if not ref.is_dir():
        write_demo_reference(ref, 50, args.seed, None)
    config = CompareConfig(metrics=tuple(args.metrics.split(",")), lpips_backbone=args.lpips_backbone,
                           ndb_bins=20)
    pooled, _ = compare_arms(folders, ref, config, quiet=True, log=lambda m: None, command=[])
    lpips_only = CompareConfig(metrics=("lpips",), lpips_backbone=args.lpips_backbone)
    rows = []
    for i, seed in enumerate(seeds):
        one, _ = compare_arms({arm: [fs[i]] for arm, fs in folders.items()}, ref, lpips_only,
                              quiet=True, log=lambda m: None, command=[])
        rows.append({"seed": seed, "baseline": one["runs"]["baseline"]["lpips"],
                     "msgan": one["runs"]["candidate"]["lpips"], "delta": one["deltas"]["lpips"],
                     "verdict": one["verdicts"]["lpips"]})
    return rows, pooled


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=None, help="default: the demo's")
    parser.add_argument("--out", type=Path, default=Path("bench-pix2pix-seeds"))
    parser.add_argument("--lpips-backbone", default=None)
    parser.add_argument("--metrics", default="lpips", help="comma-separated subset of fid,lpips,ndb")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.seeds < 2:
        parser.error("--seeds must be at least 2 (the point is the spread between seeds)")
    import torch

    torch.set_num_threads(1)       # as the demo trains; small convolutions gain nothing from more
    seeds = list(range(args.seed, args.seed + args.seeds))
    t0, c0 = time.perf_counter(), time.process_time()
    folders = train_and_sample(args, seeds)
    rows, report = compare(folders, args, seeds)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    pooled = {m: {"baseline": report["runs"]["baseline"][m], "msgan": report["runs"]["candidate"][m],
                  "delta": report["deltas"][m], "verdict": report["verdicts"][m]}
              for m in report["metrics"]}
    result = {"seeds": seeds, "per_seed_lpips": rows, "pooled": pooled,
              "skipped": report["skipped"], "per_run": report["details"]["multirun"]["metrics"],
              "wall_seconds": round(wall, 1), "cpu_seconds": round(cpu, 1)}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for r in rows:
        print(f"seed {r['seed']}: LPIPS baseline {r['baseline']['value']:.4f} "
              f"[{r['baseline']['ci'][0]:.4f}, {r['baseline']['ci'][1]:.4f}]  MSGAN "
              f"{r['msgan']['value']:.4f} [{r['msgan']['ci'][0]:.4f}, {r['msgan']['ci'][1]:.4f}]  "
              f"-> {r['verdict']}")
    for m, p in pooled.items():
        print(f"pooled {m}: baseline {p['baseline']['value']:.4g} MSGAN {p['msgan']['value']:.4g} "
              f"delta {p['delta']['value']:+.4g} [{p['delta']['ci'][0]:+.4g}, "
              f"{p['delta']['ci'][1]:+.4g}] -> {p['verdict']}")
    for m, reason in report["skipped"].items():
        print(f"pooled {m}: skipped ({reason})")
    print(f"{len(seeds)} seeds x 2 runs: {wall:.0f} s wall, {cpu:.0f} s CPU (this process)")


if __name__ == "__main__":
    main()
