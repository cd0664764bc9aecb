"""``msgan-eval demo --task text-to-image``: StackGAN++ and StackGAN++ + MS on
fashion-mnist-captions, offline.

Orchestration only, like ``demos/unpaired.py``: train both arms (same seed, data order, noise and
steps; ms-weight 0 is StackGAN-v2's one-noise trainer, ms-weight 1 the MSGAN paper's), draw
``per_caption`` images for each canonical caption, compare them against held-out captioned
items (the joint quality-diversity verdict and the degenerate-sample inspector come with
``compare``), and count: for each caption without a colour ("a sneaker") the distinct palette
hues among its images (the counted diversity: one for a collapsed generator), for each caption
naming a colour the share of its images in that hue (is the text followed?). Both go into
``report.json`` (``details.demo.hues``), a note of every report format, and a table in the HTML.
Sized for <= 15 minutes on 2 CPU cores for one seed (docs/paper-experiments.md).
"""
from __future__ import annotations

import html
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional

import numpy as np

from msgan_eval import defaults
from msgan_eval.demo import DemoEvaluation, arm_name, preflight_weights

from .arms import (
    compare_samples,
    effective_workers,
    sample_arms,
    strip_img,
    total_seconds,
    train_all,
)

SHOWN_CAPTIONS = ("a-sneaker", "a-dress", "a-bag", "a-red-sneaker", "a-blue-dress", "a-green-bag")
ARMS = (("baseline", 0.0), ("msgan", 1.0))
LABELS = {"baseline": "StackGAN++", "msgan": "StackGAN++ + MS"}


@dataclass
class TextDemoConfig(DemoEvaluation):
    ref_per_class: int = defaults.P2P_DEMO_REF_PER_CLASS
    steps: int = defaults.STACKGAN_DEMO_STEPS
    width: float = defaults.STACKGAN_DEMO_WIDTH
    batch_size: int = defaults.STACKGAN_DEMO_BATCH_SIZE
    per_caption: int = defaults.P2P_PER_INPUT
    captions: Optional[int] = None      # the first N canonical captions; None: all 70
    workers: int = 2


def write_captioned_reference(out_dir: Path, per_class: int, seed: int, data_root) -> Path:
    """Held-out items of the test split, tinted as fashion-mnist-captions tints them."""
    from msgan_eval.datasets import FASHION_MNIST_CLASSES, balanced_subset, load_fashion_mnist
    from msgan_eval.images import write_image_folder
    from msgan_eval.train.data import to_training_layout
    from msgan_eval.train.unpaired_data import tint

    images, labels = load_fashion_mnist("test", data_root)
    idx = balanced_subset(labels, per_class, seed)
    tinted = to_training_layout(tint(images[idx], idx % 6)).transpose(0, 2, 3, 1)
    write_image_folder(out_dir, tinted, labels[idx], FASHION_MNIST_CLASSES)
    return out_dir


def _train_arms(out: Path, config: TextDemoConfig, quiet: bool, log) -> Dict[str, dict]:
    from msgan_eval.train.stackgan import StackGanConfig

    jobs, names = [], []
    for seed in range(config.seed, config.seed + config.seeds):
        for arm, ms_weight in ARMS:
            names.append(arm_name(arm, seed, config.seeds))
            train_config = StackGanConfig(data_root=config.data_root, ms_weight=ms_weight,
                                          steps=config.steps, width=config.width,
                                          batch_size=config.batch_size, seed=seed,
                                          checkpoint_every=config.steps)
            jobs.append(("msgan_eval.train.stackgan:train_stackgan", train_config,
                         out / "runs" / names[-1], config.device, quiet or config.workers > 1))
            log(f"demo: training {names[-1]} ({LABELS[arm]}, ms-weight {ms_weight:g}, "
                f"{config.steps} steps, width {config.width:g}, batch {config.batch_size}, seed {seed})")
    return train_all(jobs, names, config.workers)


def hue_details(folders: Dict[str, List[Path]], per_caption: int) -> dict:
    """Each arm's hue counts (one entry per seed, from sample.json) and the uniform expectation."""
    from msgan_eval.metrics.hues import expected_distinct

    arms = {arm: [json.loads((f / "sample.json").read_text(encoding="utf-8"))["hues"] for f in fs]
            for arm, fs in folders.items()}
    return {"per_caption": per_caption,
            "uniform_expectation": round(expected_distinct(6, per_caption), 3), "arms": arms,
            "mean_distinct": {a: float(np.mean([r["colourless"]["mean_distinct"] for r in runs]))
                              for a, runs in arms.items()},
            "named_hue_share": {a: float(np.mean([r["named_hue_share"] for r in runs]))
                                for a, runs in arms.items()}}


def hue_note(hues: dict) -> str:
    d, s = hues["mean_distinct"], hues["named_hue_share"]
    return (f"counted diversity: distinct hues per caption without a colour ({hues['per_caption']} "
            f"images, 6 hues; uniform would give {hues['uniform_expectation']:.2f}): "
            f"{LABELS['baseline']} {d['baseline']:.2f}, {LABELS['msgan']} {d['msgan']:.2f}; images "
            f"in the hue their caption names: {LABELS['baseline']} {s['baseline']:.0%}, "
            f"{LABELS['msgan']} {s['msgan']:.0%}")


def train_sample_compare_text(out: Path, config: TextDemoConfig, *, quiet: bool,
                              log: Callable[[str], None], command: List[str]) -> tuple:
    """The demo's work, written into ``out``: (report, the ImageSets shown, the HTML rows)."""
    from msgan_eval.train.stackgan_sampler import sample_stackgan_run

    t0, c0 = time.perf_counter(), time.process_time()
    preflight_weights(config.inception_weights, config.lpips_backbone, log)
    seconds = _train_arms(out, config, quiet, log)
    folders = sample_arms(
        out, config, ARMS,
        lambda run, dest, seed: sample_stackgan_run(run, dest, captions=config.captions,
                                                    per_caption=config.per_caption, seed=seed,
                                                    device=config.device, quiet=quiet),
        f"drawing {config.per_caption} images for each of {config.captions or 'the'} canonical "
        "captions", log)
    log(f"demo: writing {config.ref_per_class} held-out tinted test items per class as the reference")
    ref = write_captioned_reference(out / "reference", config.ref_per_class, config.seed,
                                    config.data_root)
    (report, runs), seconds["compare"] = compare_samples(folders, ref, config, quiet=quiet, log=log,
                                                         command=command)
    seconds["total"] = total_seconds(t0, c0, {k: v for k, v in seconds.items() if k != "compare"},
                                     config.workers)
    hues = hue_details(folders, config.per_caption)
    report["notes"].append(hue_note(hues))
    report["details"]["demo"] = {
        "task": "text-to-image", "dataset": "fashion-mnist-captions", "model": "stackgan",
        "arms": {"baseline": "StackGAN++ (ms-weight 0: StackGAN-v2)",
                 "candidate": "StackGAN++ + MS (ms-weight 1)"},
        "steps": config.steps, "width": config.width, "batch_size": config.batch_size,
        "workers": effective_workers(config.workers), "per_caption": config.per_caption, "seeds": config.seeds,
        "ref_per_class": config.ref_per_class, "seconds": seconds, "hues": hues}
    first = {arm: fs[0] for arm, fs in folders.items()}
    return report, runs, captions_html(first, hues)


def captions_html(first: Dict[str, Path], hues: dict) -> str:
    """A few captions with a row of images per arm, then the hue counts of every run."""
    rows = []
    written = json.loads((first["baseline"] / "captions.json").read_text())
    for name in (n for n in SHOWN_CAPTIONS if n in written):      # demo --captions N: the first N
        text = written[name]["text"]
        for k, (arm, folder) in enumerate(first.items()):
            files = sorted((folder / "samples" / name).glob("*.png"))
            lead = f"<td rowspan='2'>{html.escape(text)}</td>" if k == 0 else ""
            rows.append(f"<tr>{lead}<td>{LABELS[arm]}</td><td>{strip_img(files, LABELS[arm])}</td></tr>")
    table = ("<h2>Captions and images</h2><table><tr><th>caption</th><th>run</th>"
             "<th>images (different noise)</th></tr>" + "".join(rows) + "</table>")
    runs = []
    for arm, entries in hues["arms"].items():
        for k, h in enumerate(entries):
            c = h["colourless"]
            runs.append(f"<tr><td>{LABELS[arm]}{f' (run {k + 1})' if len(entries) > 1 else ''}</td>"
                        f"<td>{c['mean_distinct']:.2f}</td><td>{c['min_distinct']}-{c['max_distinct']}"
                        f"</td><td>{c['no_hue_share']:.0%}</td><td>{h['named_hue_share']:.0%}</td></tr>")
    return (table + f"<h2>Counted diversity</h2><p>{html.escape(hue_note(hues))}</p><table><tr>"
            "<th>run</th><th>distinct hues per colourless caption</th><th>range</th>"
            "<th>no hue</th><th>images in the named hue</th></tr>" + "".join(runs) + "</table>")
