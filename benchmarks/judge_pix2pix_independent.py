"""Independent judges of image-to-image samples (issue 21's acceptance): does each sample keep its
input's item, and is it an image at all? Independent of what ``msgan-eval demo`` reports.

The demo judges with the package's own bundled CNN (``msgan_eval.features.classifier``) and
``msgan-eval inspect``'s flags. These judges share neither:

- classifier: scikit-learn PCA (50 components) + 5-nearest-neighbours on the raw pixels of the
  60,000 Fashion-MNIST training items (no learned features, no torch); its test accuracy on the
  10,000 test items is printed;
- detector: ``bench_pix2pix_ablation``'s pixel statistics (ink, spread, brightness, checkerboard
  filter, total variation, Laplacian energy) flagged beyond the 0.1 / 99.9 percentiles of 5000
  real training items; its rate on the real test items is printed.

    PYTHONPATH=. python benchmarks/judge_pix2pix_independent.py demo DEMO_OUT [--bench BENCH.json]
    PYTHONPATH=. python benchmarks/judge_pix2pix_independent.py folders DIR [DIR ...]

``demo`` judges every ``DEMO_OUT/samples/<arm>[-sN]`` folder, per seed and pooled per arm, and
prints issue 21's acceptance checks with the pooled FID verdict and LPIPS values (from
``DEMO_OUT/report.json``, or ``--bench``: ``bench_pix2pix_seeds.py --json`` on the same folder);
``folders`` judges sample folders (``sample.json`` + ``samples/``) one by one (the ablation's arms).
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_pix2pix_ablation as ablation  # noqa: E402  (its detector and sample reader)

PAD = 2   # samples are 32x32: the 28x28 item padded by 2 black pixels (train/data.py)


def fit_classifier():
    """(fitted PCA + kNN pipeline, its accuracy on the Fashion-MNIST test split)."""
    from sklearn.decomposition import PCA
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline

    from msgan_eval.datasets import load_fashion_mnist

    x, y = load_fashion_mnist("train")
    xt, yt = load_fashion_mnist("test")
    clf = make_pipeline(PCA(n_components=50, random_state=0), KNeighborsClassifier(n_neighbors=5))
    clf.fit(x.reshape(len(x), -1).astype(np.float32) / 255.0, y)
    acc = float((clf.predict(xt.reshape(len(xt), -1).astype(np.float32) / 255.0) == yt).mean())
    return clf, acc


def judge_folder(folder: Path, clf, th: dict) -> dict:
    images, labels, _ = ablation.read_samples(folder)
    items = images[:, PAD:-PAD, PAD:-PAD].reshape(len(images), -1).astype(np.float32) / 255.0
    agree = clf.predict(items) == labels
    flags = ablation.degenerate_flags(images, th)
    degenerate = flags["blank"] | flags["saturated"] | flags["noise"]
    return {"agree": agree, "degenerate": degenerate}


def summary(parts: list) -> dict:
    agree = np.concatenate([p["agree"] for p in parts])
    degenerate = np.concatenate([p["degenerate"] for p in parts])
    return {"class_agreement": round(float(agree.mean()), 4),
            "degenerate_fraction": round(float(degenerate.mean()), 4), "n": int(len(agree))}


def detector_rate(th: dict) -> float:
    from msgan_eval.datasets import load_fashion_mnist

    images, _ = load_fashion_mnist("test")
    flags = ablation.degenerate_flags(np.pad(images, ((0, 0), (PAD, PAD), (PAD, PAD))), th)
    return float(np.mean(flags["blank"] | flags["saturated"] | flags["noise"]))


def pooled_fid_lpips(out: Path, bench: Path = None) -> tuple:
    """(pooled FID verdict, {arm: pooled LPIPS}) from the demo's report.json, or from the JSON
    that ``bench_pix2pix_seeds.py --json`` printed for the same folder (``bench``)."""
    if bench is not None:
        pooled = json.loads(bench.read_text())["pooled"]
        return pooled["fid"]["verdict"], {a: pooled["lpips"][a]["value"] for a in ("baseline", "msgan")}
    report = json.loads((out / "report.json").read_text())
    return report["verdicts"]["fid"], {a: report["runs"][k]["lpips"]["value"]
                                       for a, k in (("baseline", "baseline"), ("msgan", "candidate"))}


def acceptance(arms: dict, fid_verdict: str, lp: dict) -> dict:
    """Issue 21's 'Done when' checks: the pooled FID verdict and LPIPS, these judges."""
    b, m = arms["baseline"]["pooled"], arms["msgan"]["pooled"]
    return {"fid_verdict": fid_verdict,
            "fid_not_baseline_better": fid_verdict != "baseline-better",
            "lpips_ratio": round(lp["msgan"] / lp["baseline"], 2),
            "lpips_ratio_at_least_10": lp["msgan"] >= 10 * lp["baseline"],
            "msgan_degenerate_at_most_2pct": m["degenerate_fraction"] <= 0.02,
            "msgan_agreement_at_least_70pct": m["class_agreement"] >= 0.70,
            "msgan_agreement_within_5_points": m["class_agreement"] >= b["class_agreement"] - 0.05}


def judge_demo(out: Path, clf, th: dict, bench: Path = None) -> dict:
    arms = {}
    for arm in ("baseline", "msgan"):
        folders = sorted(p for p in (out / "samples").iterdir()
                         if p.name == arm or p.name.startswith(arm + "-s"))
        parts = [judge_folder(f, clf, th) for f in folders]
        arms[arm] = {"per_seed": {f.name: summary([p]) for f, p in zip(folders, parts)},
                     "pooled": summary(parts)}
    return {"arms": arms, "acceptance": acceptance(arms, *pooled_fid_lpips(out, bench))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("demo", "folders"))
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--bench", type=Path, default=None,
                        help="demo: bench_pix2pix_seeds.py --json output for the folder (no report.json)")
    args = parser.parse_args()
    clf, acc = fit_classifier()
    th = ablation.thresholds()
    result = {"classifier": "PCA-50 + 5-NN on Fashion-MNIST train pixels (scikit-learn)",
              "classifier_test_accuracy": round(acc, 4),
              "detector": "bench_pix2pix_ablation pixel flags (0.1/99.9 percentiles of real items)",
              "detector_rate_on_real_test_items": round(detector_rate(th), 4)}
    if args.command == "demo":
        result.update(judge_demo(args.paths[0], clf, th, args.bench))
    else:
        result["folders"] = {str(p): summary([judge_folder(p, clf, th)]) for p in args.paths}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
