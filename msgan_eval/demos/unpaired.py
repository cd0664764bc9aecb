"""``msgan-eval demo --task unpaired``: DRIT and DRIT + MS on fashion-mnist-tints, offline.

Orchestration only, like ``demo_pairs.py`` (whose out-folder handling, comparison and reference
helpers it shares): train both arms (same seed, data order, noise and steps; ms-weight 0 is DRIT's
own ``--no_ms``, ms-weight 1 the MSGAN paper's DRIT), translate the first ``inputs`` grey test
items ``per_input`` times each, compare the translations against held-out tinted items
(the joint quality-diversity verdict and the degenerate-sample inspector come with ``compare``),
and count the distinct palette hues among each input's translations: the counted diversity,
reported beside LPIPS (``report.json`` ``details.demo.hues``, a note in every report format and
a table in the HTML). Sized for <= 15 minutes on 2 CPU cores for one seed (docs/paper-experiments.md).
"""
from __future__ import annotations

import html
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List

import numpy as np

from msgan_eval import defaults
from msgan_eval.demo import DemoEvaluation, arm_name, preflight_weights
from msgan_eval.train.drit_sampler import sample_drit_run

from .arms import compare_samples, effective_workers, sample_arms, strip_img, total_seconds

SHOWN_INPUTS = 6      # inputs shown in the HTML report with their translations
ARMS = (("baseline", 0.0), ("msgan", 1.0))
LABELS = {"baseline": "DRIT", "msgan": "DRIT + MS"}


@dataclass
class UnpairedDemoConfig(DemoEvaluation):
    ref_per_class: int = defaults.P2P_DEMO_REF_PER_CLASS
    steps: int = defaults.DRIT_DEMO_STEPS
    width: float = defaults.DRIT_DEMO_WIDTH
    batch_size: int = defaults.DRIT_DEMO_BATCH_SIZE
    inputs: int = defaults.P2P_INPUTS
    per_input: int = defaults.P2P_PER_INPUT
    lr: float = defaults.DRIT_DEMO_LR
    workers: int = 2               # arms trained at the same time, one process each


def write_tinted_reference(out_dir: Path, per_class: int, seed: int, data_root) -> Path:
    """Held-out tinted items (domain B of the test split), ``per_class`` of each class."""
    from msgan_eval.datasets import FASHION_MNIST_CLASSES, balanced_subset
    from msgan_eval.images import write_image_folder
    from msgan_eval.train.unpaired_data import load_unpaired_data

    test = load_unpaired_data("fashion-mnist-tints", data_root, split="test")
    idx = balanced_subset(test.labels_b, per_class, seed)
    write_image_folder(out_dir, test.b[idx].transpose(0, 2, 3, 1), test.labels_b[idx],
                       FASHION_MNIST_CLASSES)
    return out_dir


def _train_config(config: "UnpairedDemoConfig", ms_weight: float, seed: int):
    from msgan_eval.train.drit import DritConfig

    return DritConfig(dataset="fashion-mnist-tints", data_root=config.data_root,
                      ms_weight=ms_weight, steps=config.steps, width=config.width,
                      batch_size=config.batch_size, lr=config.lr, seed=seed,
                      checkpoint_every=config.steps)


def train_arms(out: Path, config: "UnpairedDemoConfig", quiet: bool,
               log: Callable[[str], None]) -> Dict[str, Dict[str, float]]:
    """Every (seed, arm) run, ``config.workers`` at a time; {run name: wall and CPU seconds}."""
    from .arms import train_all

    jobs, names = [], []
    for seed in range(config.seed, config.seed + config.seeds):
        for arm, ms_weight in ARMS:
            names.append(arm_name(arm, seed, config.seeds))
            jobs.append(("msgan_eval.train.drit:train_drit", _train_config(config, ms_weight, seed),
                         out / "runs" / names[-1], config.device, quiet or config.workers > 1))
            log(f"demo: training {names[-1]} ({LABELS[arm]}, ms-weight {ms_weight:g}, "
                f"{config.steps} steps, width {config.width:g}, batch {config.batch_size}, "
                f"seed {seed})")
    return train_all(jobs, names, config.workers)


def hue_details(folders: Dict[str, List[Path]], per_input: int) -> dict:
    """Each arm's hue summaries (one per seed, from sample.json) and the uniform expectation."""
    from msgan_eval.metrics.hues import expected_distinct
    from msgan_eval.train.unpaired_data import TINT_PALETTE

    arms = {arm: [json.loads((f / "sample.json").read_text(encoding="utf-8"))["hues"] for f in fs]
            for arm, fs in folders.items()}
    return {"palette": [name for name, _ in TINT_PALETTE], "per_input": per_input,
            "uniform_expectation": round(expected_distinct(len(TINT_PALETTE), per_input), 3),
            "arms": arms,
            "mean_distinct": {arm: float(np.mean([s["mean_distinct"] for s in runs]))
                              for arm, runs in arms.items()}}


def hue_note(hues: dict) -> str:
    """The counted diversity in one line (a note of the report: md, html, terminal)."""
    means = hues["mean_distinct"]
    return (f"counted diversity: distinct hues per input ({hues['per_input']} translations, "
            f"{len(hues['palette'])} hues; uniform over the palette would give "
            f"{hues['uniform_expectation']:.2f}): {LABELS['baseline']} {means['baseline']:.2f}, "
            f"{LABELS['msgan']} {means['msgan']:.2f}")


def train_sample_compare_unpaired(out: Path, config: UnpairedDemoConfig, *, quiet: bool,
                                  log: Callable[[str], None], command: List[str]) -> tuple:
    """The demo's work, written into ``out``: (report, the ImageSets shown, the HTML rows)."""
    t0, c0 = time.perf_counter(), time.process_time()
    preflight_weights(config.inception_weights, config.lpips_backbone, log)
    seconds = train_arms(out, config, quiet, log)
    folders = sample_arms(
        out, config, ARMS,
        lambda run, dest, seed: sample_drit_run(run, dest, inputs=config.inputs,
                                                per_input=config.per_input, seed=seed,
                                                device=config.device, quiet=quiet),
        f"translating each of {config.inputs} grey test items {config.per_input} times", log)
    log(f"demo: writing {config.ref_per_class} held-out tinted test items per class as the reference")
    ref = write_tinted_reference(out / "reference", config.ref_per_class, config.seed, config.data_root)
    (report, runs), seconds["compare"] = compare_samples(folders, ref, config, quiet=quiet, log=log,
                                                         command=command)
    seconds["total"] = total_seconds(t0, c0, {k: v for k, v in seconds.items() if k != "compare"},
                                     config.workers)
    hues = hue_details(folders, config.per_input)
    report["notes"].append(hue_note(hues))
    report["details"]["demo"] = {
        "task": "unpaired", "dataset": "fashion-mnist-tints", "model": "drit",
        "arms": {"baseline": "DRIT (ms-weight 0: --no_ms)", "candidate": "DRIT + MS (ms-weight 1)"},
        "steps": config.steps, "width": config.width, "batch_size": config.batch_size,
        "lr": config.lr, "workers": effective_workers(config.workers),
        "inputs": config.inputs, "per_input": config.per_input, "seeds": config.seeds,
        "ref_per_class": config.ref_per_class, "seconds": seconds, "hues": hues}
    first = {arm: fs[0] for arm, fs in folders.items()}
    names = runs["baseline"].conditions[:SHOWN_INPUTS]
    return report, runs, unpaired_html(first, names, hues)


def unpaired_html(first: Dict[str, Path], names, hues: dict) -> str:
    """Per input: the grey input and a row of translations per arm with its distinct hues; then
    the hue table of every seed."""
    counts = {arm: dict(zip(json.loads((f / "sample.json").read_text())["names"],
                            json.loads((f / "sample.json").read_text())["hues"]["per_input"]))
              for arm, f in first.items()}
    rows = []
    for name in names:
        cells = []
        for k, (arm, folder) in enumerate(first.items()):
            files = sorted((folder / "samples" / name).glob("*.png"))
            lead = (f"<td rowspan='2'>{html.escape(name)}</td><td rowspan='2'>"
                    f"{strip_img([folder / 'inputs' / f'{name}.png'], 'input')}</td>") if k == 0 else ""
            cells.append(f"<tr>{lead}<td>{LABELS[arm]}</td><td>{strip_img(files, LABELS[arm])}"
                         f"</td><td>{counts[arm].get(name, '')}</td></tr>")
        rows.append("".join(cells))
    table = ("<h2>Inputs and translations</h2><table><tr><th>input name</th><th>input</th>"
             "<th>run</th><th>translations (different attribute codes)</th><th>distinct hues</th>"
             "</tr>" + "".join(rows) + "</table>")
    return table + _hue_table(hues)


def _hue_table(hues: dict) -> str:
    head = "".join(f"<th>{html.escape(p)}</th>" for p in hues["palette"])
    rows = []
    for arm, runs in hues["arms"].items():
        for k, s in enumerate(runs):
            shares = "".join(f"<td>{x:.0%}</td>" for x in s["hue_shares"])
            rows.append(f"<tr><td>{LABELS[arm]}{f' (run {k + 1})' if len(runs) > 1 else ''}</td>"
                        f"<td>{s['mean_distinct']:.2f}</td><td>{s['min_distinct']}-"
                        f"{s['max_distinct']}</td>{shares}<td>{s['no_hue_share']:.0%}</td></tr>")
    return (f"<h2>Counted diversity: distinct hues per input</h2><p>{html.escape(hue_note(hues))}"
            "</p><table><tr><th>run</th><th>mean distinct</th><th>range</th>" + head
            + "<th>no hue</th></tr>" + "".join(rows) + "</table>")
