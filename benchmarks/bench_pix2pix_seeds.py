"""Do the image-to-image demo's verdicts hold across training seeds? (issues 12 and 21)

Trains N baseline (pix2pix with noise) and N MSGAN runs on fashion-mnist-edges with the demo's
settings (seeds SEED .. SEED+N-1; the demo's protocol: inputs balanced over the classes and
disjoint from the FID reference, each seed its own sampling noise), then prints per seed and pooled
each arm's FID, LPIPS diversity, class agreement (the bundled Fashion-MNIST classifier names the
input's class) and degenerate fraction (``msgan-eval inspect``'s blank / saturated / noise
flags), each seed's own one-run verdicts and the pooled verdicts (two-level bootstrap over runs
then samples, ``metrics/multirun.py``). Wall and CPU times are printed (CPU time is the honest
figure on a shared machine). Runs already trained in ``--out`` are reused.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_pix2pix_seeds.py [--seeds 3] [--seed 0]
        [--out DIR] [--steps N] [--metrics fid,lpips] [--lpips-backbone FILE] [--json]
"""
import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def train_and_sample(args, seeds) -> dict:
    """{arm: [sample folder per seed]}, training and sampling what is not in --out yet."""
    from msgan_eval.demo import arm_name
    from msgan_eval.demo_pairs import PairsDemoConfig, _train_and_sample, demo_reference_indices

    config = PairsDemoConfig(seeds=len(seeds), seed=args.seed,
                             **({"steps": args.steps} if args.steps else {}))
    exclude = demo_reference_indices(config)
    folders = {"baseline": [], "msgan": []}
    for seed in seeds:
        for arm, ms_weight in (("baseline", 0.0), ("msgan", config.ms_weight)):
            done = args.out / "samples" / arm_name(arm, seed, len(seeds))
            if not (done / "sample.json").is_file():
                _train_and_sample(args.out, config, arm, ms_weight, seed, quiet=True,
                                  log=lambda m: print(m, file=sys.stderr, flush=True),
                                  exclude=exclude)
            folders[arm].append(done)
    return folders


def judges(folders: dict, ref: Path) -> dict:
    """Class agreement and degenerate fraction per arm and seed (the demo's judges)."""
    from msgan_eval.demo_judges import judge_arms

    return judge_arms(folders, ref, "cpu")


def compare(folders: dict, args, seeds) -> tuple:
    from msgan_eval.demo import compare_arms, write_demo_reference
    from msgan_eval.report.compare import CompareConfig

    ref = args.out / "reference"
    if not ref.is_dir():
        write_demo_reference(ref, 50, args.seed, None)
    samples = {arm: [f / "samples" for f in fs] for arm, fs in folders.items()}
    config = CompareConfig(metrics=tuple(args.metrics.split(",")), lpips_backbone=args.lpips_backbone,
                           ndb_bins=20)
    pooled, _ = compare_arms(samples, ref, config, quiet=True, log=lambda m: None, command=[])
    rows = []
    for i, seed in enumerate(seeds):
        one, _ = compare_arms({arm: [fs[i]] for arm, fs in samples.items()}, ref, config,
                              quiet=True, log=lambda m: None, command=[])
        rows.append({"seed": seed, **{m: {"baseline": one["runs"]["baseline"][m]["value"],
                                          "msgan": one["runs"]["candidate"][m]["value"],
                                          "verdict": one["verdicts"][m]}
                                      for m in one["metrics"]}})
    return rows, pooled, ref


def print_result(result: dict) -> None:
    j = result["judges"]
    for i, r in enumerate(result["per_seed"]):
        metrics = "  ".join(f"{m} {v['baseline']:.4g} vs {v['msgan']:.4g} ({v['verdict']})"
                            for m, v in r.items() if m != "seed")
        judged = "  ".join(
            f"{arm}: agree {100 * j[arm]['per_seed'][i]['class_agreement']:.1f}% degenerate "
            f"{100 * j[arm]['per_seed'][i]['degenerate_fraction']:.1f}%" for arm in ("baseline", "msgan"))
        print(f"seed {r['seed']}: {metrics}\n         {judged}")
    for m, p in result["pooled"].items():
        print(f"pooled {m}: baseline {p['baseline']['value']:.4g} MSGAN {p['msgan']['value']:.4g} "
              f"delta {p['delta']['value']:+.4g} [{p['delta']['ci'][0]:+.4g}, "
              f"{p['delta']['ci'][1]:+.4g}] -> {p['verdict']}")
    for arm in ("baseline", "msgan"):
        print(f"pooled {arm}: class agreement {100 * j[arm]['class_agreement']:.1f}%, degenerate "
              f"{100 * j[arm]['degenerate_fraction']:.1f}% (inspect's blank/saturated/noise)")
    lp = result["pooled"].get("lpips")
    if lp:
        print(f"LPIPS ratio MSGAN / baseline: {lp['msgan']['value'] / lp['baseline']['value']:.1f}")
    print(f"{len(result['seeds'])} seeds x 2 runs: {result['wall_seconds']:.0f} s wall, "
          f"{result['cpu_seconds']:.0f} s CPU (this process)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=None, help="default: the demo's")
    parser.add_argument("--out", type=Path, default=Path("bench-pix2pix-seeds"))
    parser.add_argument("--lpips-backbone", default=None)
    parser.add_argument("--metrics", default="fid,lpips", help="comma-separated subset of fid,lpips,ndb")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.seeds < 2:
        parser.error("--seeds must be at least 2 (the point is the spread between seeds)")
    import torch

    torch.set_num_threads(1)       # as the demo trains; small convolutions gain nothing from more
    seeds = list(range(args.seed, args.seed + args.seeds))
    t0, c0 = time.perf_counter(), time.process_time()
    folders = train_and_sample(args, seeds)
    rows, report, ref = compare(folders, args, seeds)
    judged = judges(folders, ref)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    pooled = {m: {"baseline": report["runs"]["baseline"][m], "msgan": report["runs"]["candidate"][m],
                  "delta": report["deltas"][m], "verdict": report["verdicts"][m]}
              for m in report["metrics"]}
    result = {"seeds": seeds, "per_seed": rows, "pooled": pooled, "judges": judged,
              "skipped": report["skipped"], "wall_seconds": round(wall, 1),
              "cpu_seconds": round(cpu, 1)}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_result(result)


if __name__ == "__main__":
    main()
