"""Ablation of the image-to-image MSGAN (issue 21): which settings give samples that are diverse
AND plausible?

Each arm trains pix2pix-with-noise on fashion-mnist-edges with the demo's data order (the same
seed gives every arm the same batches and noise), samples ``--per-input`` images for each of
``--inputs`` test outlines drawn balanced over the classes and disjoint from the FID reference
(the demo's protocol), and is judged by:

- FID against the demo's reference (50 held-out test items per class, pytorch-fid's numbers);
- LPIPS diversity (AlexNet, 10 random pairs per input, the MSGAN protocol);
- class agreement: the bundled Fashion-MNIST classifier (``msgan_eval.features.classifier``) on
  each sample (its 28x28 centre) names the input's class;
- degenerate fraction: a detector of this script's own (not the package's ``inspect``):
  blank / saturated / noise flags from pixel statistics beyond the 0.1 / 99.9 percentiles of 5000
  real training items (see ``pixel_stats``); its rate on held-out real items is printed by
  ``calibrate``.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_pix2pix_ablation.py run --out DIR --name NAME \
        [--seed 0] [--set ms_weight=1 upsample=bilinear steps=1500 ...]
    PYTHONPATH=. .venv/bin/python benchmarks/bench_pix2pix_ablation.py table --out DIR
    PYTHONPATH=. .venv/bin/python benchmarks/bench_pix2pix_ablation.py calibrate

``--set`` takes any ``Pix2PixConfig`` field (ms_weight, steps, width, batch_size, lr, upsample,
lr_decay_steps, ms_warmup, ms_ramp, ms_eps, ms_cap, d_width). Defaults: the demo's (1500 steps,
width 0.25, batch 16). Runs already trained or judged in ``--out`` are reused.
"""
import argparse
import json
import sys
import time
from dataclasses import fields
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

REF_PER_CLASS, INPUTS, PER_INPUT = 50, 20, 10


def pixel_stats(images: np.ndarray) -> dict:
    """Per-image statistics of uint8 (N, H, W) grey images: ink = fraction of pixels >= 32,
    bright = fraction >= 250, std = spread of the grey levels (a flat frame has none), hf = the
    5-point Laplacian's energy over the image's variance (scale free: high for static and
    checkerboards whatever their contrast, ~2 for real items), checker = mean |2x2 checkerboard filter| (transposed-conv
    artefacts), tv = mean |horizontal and vertical neighbour difference| (pixel noise)."""
    x = images.astype(np.float32) / 255.0
    checker = np.abs(x[:, :-1, :-1] - x[:, 1:, :-1] - x[:, :-1, 1:] + x[:, 1:, 1:]).mean((1, 2))
    tv = (np.abs(np.diff(x, axis=1)).mean((1, 2)) + np.abs(np.diff(x, axis=2)).mean((1, 2))) / 2
    p = np.pad(x, ((0, 0), (1, 1), (1, 1)), mode="reflect")
    lap = p[:, :-2, 1:-1] + p[:, 2:, 1:-1] + p[:, 1:-1, :-2] + p[:, 1:-1, 2:] - 4 * x
    var = x.var((1, 2))
    hf = np.where(var > 1e-8, (lap ** 2).mean((1, 2)) / np.maximum(var, 1e-8), 0.0)
    return {"ink": (images >= 32).mean((1, 2)), "bright": (images >= 250).mean((1, 2)),
            "checker": checker, "tv": tv, "std": x.std((1, 2)), "hf": hf}


def thresholds() -> dict:
    """0.1 / 99.9 percentiles of the statistics of 5000 real training items (padded to 32)."""
    from msgan_eval.datasets import load_fashion_mnist

    images, _ = load_fashion_mnist("train")
    real = np.pad(images[np.random.default_rng(0).permutation(len(images))[:5000]],
                  ((0, 0), (2, 2), (2, 2)))
    s = pixel_stats(real)
    return {"ink_low": float(np.percentile(s["ink"], 0.1)),
            "std_low": float(np.percentile(s["std"], 0.1)),
            "bright_high": float(np.percentile(s["bright"], 99.9)),
            "checker_high": float(np.percentile(s["checker"], 99.9)),
            "tv_high": float(np.percentile(s["tv"], 99.9)),
            "hf_high": float(np.percentile(s["hf"], 99.9))}


def degenerate_flags(images: np.ndarray, th: dict) -> dict:
    s = pixel_stats(images)
    return {"blank": (s["ink"] < th["ink_low"]) | (s["std"] < th["std_low"]), "saturated": s["bright"] > th["bright_high"],
            "noise": (s["checker"] > th["checker_high"]) | (s["tv"] > th["tv_high"])
            | (s["hf"] > th["hf_high"])}


def read_samples(folder: Path):
    """(uint8 (N, 32, 32) samples, (N,) input labels, (N,) input index) of a sample folder."""
    from PIL import Image

    manifest = json.loads((folder / "sample.json").read_text())
    images, labels, which = [], [], []
    classes = manifest.get("classes") or manifest["labels"]   # older folders: ints in "labels"
    for k, (name, label) in enumerate(zip(manifest["names"], classes)):
        for png in sorted((folder / "samples" / name).glob("*.png")):
            images.append(np.asarray(Image.open(png).convert("L")))
            labels.append(label)
            which.append(k)
    return np.stack(images), np.asarray(labels), np.asarray(which)


def judge(samples: Path, ref: Path, th: dict, known: dict = None) -> dict:
    """The judges' figures; FID and LPIPS are taken from ``known`` when given (re-judging)."""
    import msgan_eval
    from msgan_eval.features.classifier import load_classifier

    images, labels, _ = read_samples(samples)
    pred, _ = load_classifier().classify(images[:, 2:30, 2:30])
    flags = degenerate_flags(images, th)
    degenerate = flags["blank"] | flags["saturated"] | flags["noise"]
    if known:
        fid, lp = known["fid"], known["lpips"]
    else:
        fid = msgan_eval.fid(ref, samples / "samples", device="cpu").fid
        lp = msgan_eval.lpips_diversity(samples / "samples", device="cpu").lpips
    return {"fid": round(float(fid), 2), "lpips": round(float(lp), 4),
            "class_agreement": round(float((pred == labels).mean()), 4),
            "class_agreement_clean": round(float((pred == labels)[~degenerate].mean()), 4)
            if (~degenerate).any() else None,
            "degenerate": round(float(degenerate.mean()), 4),
            **{k: round(float(v.mean()), 4) for k, v in flags.items()}, "n": int(len(images))}


def reference(out: Path) -> Path:
    from msgan_eval.demo import write_demo_reference

    ref = out / "reference"
    if not ref.is_dir():
        write_demo_reference(ref, REF_PER_CLASS, 0, None)
    return ref


def parse_sets(pairs) -> dict:
    from msgan_eval.train.pix2pix import Pix2PixConfig

    types = {f.name: f.type for f in fields(Pix2PixConfig)}
    out = {}
    for pair in pairs or []:
        key, _, value = pair.partition("=")
        if key not in types:
            raise SystemExit(f"--set {pair}: not a Pix2PixConfig field")
        kind = str(types[key])
        out[key] = (None if value == "None" else value if "str" in kind
                    else int(value) if "int" in kind else float(value))
    return out


def run_arm(args) -> dict:
    import torch

    from msgan_eval.datasets import balanced_subset, load_fashion_mnist
    from msgan_eval.train.pix2pix import Pix2PixConfig, train_pix2pix
    from msgan_eval.train.pix2pix_sampler import sample_pix2pix_run

    torch.set_num_threads(1)
    arm = args.out / args.name
    settings = {"steps": 1500, "width": 0.25, "batch_size": 16, **parse_sets(args.set)}
    config = Pix2PixConfig(dataset="fashion-mnist-edges", seed=args.seed,
                           checkpoint_every=10 ** 9, **settings)
    t0, c0 = time.perf_counter(), time.process_time()
    if not (arm / "run" / "checkpoint.pt").is_file():
        train_pix2pix(config, arm / "run", quiet=True)
    train_s = (time.perf_counter() - t0, time.process_time() - c0)
    ref = reference(args.out)
    _, test_labels = load_fashion_mnist("test")
    ref_idx = balanced_subset(test_labels, REF_PER_CLASS, 0)
    if not (arm / "samples" / "sample.json").is_file():
        sample_pix2pix_run(arm / "run", arm / "samples", inputs=INPUTS, per_input=PER_INPUT,
                           seed=args.seed, input_seed=0, exclude=ref_idx, quiet=True)
    result = {"name": args.name, "seed": args.seed, "settings": settings,
              **judge(arm / "samples", ref, thresholds()),
              "train_wall_s": round(train_s[0], 1), "train_cpu_s": round(train_s[1], 1),
              "command": " ".join(sys.argv[1:])}
    (arm / "result.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def table(out: Path) -> str:
    rows = ["| arm | seed | settings | FID | LPIPS | class agreement | degenerate (blank/sat/noise) "
            "| train CPU s |", "|---|---|---|---|---|---|---|---|"]
    for path in sorted(out.glob("*/result.json")):
        r = json.loads(path.read_text())
        s = " ".join(f"{k}={v}" for k, v in r["settings"].items())
        rows.append(f"| {r['name']} | {r['seed']} | {s} | {r['fid']:.1f} | {r['lpips']:.3f} | "
                    f"{100 * r['class_agreement']:.1f}% | {100 * r['degenerate']:.1f}% "
                    f"({100 * r['blank']:.1f}/{100 * r['saturated']:.1f}/{100 * r['noise']:.1f}) "
                    f"| {r['train_cpu_s']:.0f} |")
    return "\n".join(rows)


def rejudge(out: Path) -> None:
    """Recompute class agreement and the flags of every judged arm (FID, LPIPS kept)."""
    th = thresholds()
    for path in sorted(out.glob("*/result.json")):
        r = json.loads(path.read_text())
        r.update(judge(path.parent / "samples", out / "reference", th, known=r))
        path.write_text(json.dumps(r, indent=2) + "\n")


def calibrate() -> None:
    """The detector's flag rate on held-out real items (test split, padded), and the thresholds."""
    from msgan_eval.datasets import load_fashion_mnist

    th = thresholds()
    images, _ = load_fashion_mnist("test")
    flags = degenerate_flags(np.pad(images, ((0, 0), (2, 2), (2, 2))), th)
    rates = {k: float(v.mean()) for k, v in flags.items()}
    print(json.dumps({"thresholds": th, "real_test_flag_rates": rates,
                      "real_test_degenerate": float(np.mean(flags["blank"] | flags["saturated"]
                                                            | flags["noise"]))}, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("run", "table", "calibrate", "rejudge"))
    parser.add_argument("--out", type=Path, default=Path("bench-pix2pix-ablation"))
    parser.add_argument("--name", default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", nargs="*", default=[])
    args = parser.parse_args()
    if args.command == "calibrate":
        calibrate()
    elif args.command == "rejudge":
        rejudge(args.out)
    elif args.command == "table":
        print(table(args.out))
    else:
        if not args.name:
            parser.error("run needs --name")
        print(json.dumps(run_arm(args), indent=2))


if __name__ == "__main__":
    main()
