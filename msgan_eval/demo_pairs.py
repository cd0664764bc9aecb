"""The image-to-image demo: pix2pix with noise and its MSGAN twin on fashion-mnist-edges, offline.

Orchestration only, like ``demo.py`` (whose out-folder handling it shares): train both (same
seed, data order, steps and schedule; only the mode-seeking weight differs), write ``per_input``
samples for each of ``inputs`` test outlines (balanced over the classes, none of them in the FID
reference; each training seed samples with its own latent codes), compare them against held-out
test items, and judge each arm's samples (``demo_judges``: class agreement, degenerate fraction).
pix2pix learns to ignore its noise (every sample of one input is nearly the same image); the
mode-seeking term keeps the samples apart. The training settings are the ablation's
(docs/image-to-image.md); sized for <= 10 minutes on 2 CPU cores.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional

from . import defaults
from .demo import (
    DemoEvaluation,
    arm_name,
    compare_arms,
    preflight_weights,
    torch_threads,
    write_demo_reference,
)
from .demo_judges import judge_arms, judges_note

SHOWN_INPUTS = 10     # inputs shown in the HTML report with their samples (one per class)


@dataclass
class PairsDemoConfig(DemoEvaluation):
    ref_per_class: int = defaults.P2P_DEMO_REF_PER_CLASS
    steps: int = defaults.P2P_DEMO_STEPS
    width: float = defaults.P2P_DEMO_WIDTH
    batch_size: int = defaults.P2P_BATCH_SIZE
    inputs: int = defaults.P2P_INPUTS
    per_input: int = defaults.P2P_PER_INPUT
    # The MSGAN arm's term and both arms' training schedule (docs/image-to-image.md: the ablation)
    ms_weight: float = defaults.P2P_DEMO_MS_WEIGHT
    ms_eps: float = defaults.P2P_DEMO_MS_EPS
    ms_cap: Optional[float] = defaults.P2P_DEMO_MS_CAP
    upsample: str = defaults.P2P_DEMO_UPSAMPLE

    def describe_term(self) -> str:
        t = self.trainer_settings()
        cap = "" if self.ms_cap is None else f", capped at lz {self.ms_cap:g}"
        return (f"ms-weight {self.ms_weight:g} on 1 / (lz + {self.ms_eps:g}){cap}, off for "
                f"{t['ms_warmup']} steps then ramped over {t['ms_ramp']}")

    def trainer_settings(self) -> Dict[str, object]:
        """Pix2PixConfig settings both arms share (the schedules scale with ``steps``)."""
        return {"upsample": self.upsample, "ms_eps": self.ms_eps, "ms_cap": self.ms_cap,
                "lr_decay_steps": int(self.steps * defaults.P2P_DEMO_LR_DECAY_FRACTION),
                "ms_warmup": int(self.steps * defaults.P2P_DEMO_MS_WARMUP_FRACTION),
                "ms_ramp": int(self.steps * defaults.P2P_DEMO_MS_RAMP_FRACTION)}


def demo_reference_indices(config: PairsDemoConfig):
    """Test indices of the FID reference (``write_demo_reference``'s draw), which no input may be."""
    from .datasets import balanced_subset, load_fashion_mnist

    _, labels = load_fashion_mnist("test", config.data_root)
    return balanced_subset(labels, config.ref_per_class, config.seed)


def _train_and_sample(out: Path, config: PairsDemoConfig, arm: str, ms_weight: float, seed: int,
                      quiet: bool, log: Callable[[str], None], exclude=()) -> Path:
    from .train.pix2pix import Pix2PixConfig, train_pix2pix
    from .train.pix2pix_sampler import sample_pix2pix_run

    run = arm_name(arm, seed, config.seeds)
    log(f"demo: training {run} (pix2pix, ms-weight {ms_weight:g}, {config.steps} steps, width "
        f"{config.width:g}, seed {seed})")
    train_config = Pix2PixConfig(dataset="fashion-mnist-edges", data_root=config.data_root,
                                 ms_weight=ms_weight, steps=config.steps, width=config.width,
                                 batch_size=config.batch_size, seed=seed,
                                 checkpoint_every=config.steps, **config.trainer_settings())
    # Small convolutions: one thread per process beats two on 2 busy cores (as for the DCGAN).
    with torch_threads(1):
        train_pix2pix(train_config, out / "runs" / run, quiet=quiet, device=config.device)
    log(f"demo: sampling {config.per_input} images for each of {config.inputs} test inputs from {run}")
    # The same inputs for every seed (drawn with config.seed), each seed its own latent codes.
    return sample_pix2pix_run(out / "runs" / run, out / "samples" / run, inputs=config.inputs,
                              per_input=config.per_input, seed=seed, input_seed=config.seed,
                              exclude=exclude, device=config.device, quiet=quiet)


def train_sample_compare_pairs(out: Path, config: PairsDemoConfig, *, quiet: bool,
                               log: Callable[[str], None], command: List[str]) -> tuple:
    """The demo's work, written into ``out``: (report, the ImageSets shown, the HTML rows)."""
    from .report.compare import CompareConfig

    t0, seconds = time.perf_counter(), {}
    folders: Dict[str, list] = {"baseline": [], "msgan": []}
    preflight_weights(config.inception_weights, config.lpips_backbone, log)
    ref_idx = demo_reference_indices(config)
    for seed in range(config.seed, config.seed + config.seeds):
        for arm, ms_weight in (("baseline", 0.0), ("msgan", config.ms_weight)):
            start = time.perf_counter()
            folders[arm].append(_train_and_sample(out, config, arm, ms_weight, seed, quiet, log,
                                                  exclude=ref_idx))
            seconds[arm_name(arm, seed, config.seeds)] = round(time.perf_counter() - start, 1)
    log(f"demo: writing {config.ref_per_class} held-out test items per class as the reference")
    ref = write_demo_reference(out / "reference", config.ref_per_class, config.seed, config.data_root)
    compare_config = CompareConfig(bootstrap=config.bootstrap, seed=config.seed,
                                   ndb_bins=config.ndb_bins, device=config.device, dims=config.dims,
                                   inception_weights=config.inception_weights,
                                   lpips_backbone=config.lpips_backbone)
    start = time.perf_counter()
    samples = {arm: [f / "samples" for f in fs] for arm, fs in folders.items()}
    report, runs = compare_arms(samples, ref, compare_config, quiet=quiet, log=log, command=command)
    seconds["compare"] = round(time.perf_counter() - start, 1)
    start = time.perf_counter()
    log("demo: judging each arm's samples (bundled classifier, inspect's pixel flags)")
    judges = judge_arms(folders, ref, config.device, config.inception_weights)
    seconds["judges"] = round(time.perf_counter() - start, 1)
    seconds["total"] = round(time.perf_counter() - t0, 1)
    report["details"]["demo"] = _demo_details(config, folders, judges, seconds)
    report.setdefault("notes", []).append(judges_note(judges, ARM_LABELS))
    return report, runs, _figure(folders, judges)


ARM_LABELS = {"baseline": "baseline (pix2pix)", "msgan": "MSGAN"}


def _demo_details(config: PairsDemoConfig, folders: Dict[str, list], judges: Dict,
                  seconds: Dict) -> dict:
    return {"task": "image-to-image", "dataset": "fashion-mnist-edges", "steps": config.steps,
            "width": config.width, "batch_size": config.batch_size, "inputs": config.inputs,
            "per_input": config.per_input, "seeds": config.seeds,
            "training_seeds": list(range(config.seed, config.seed + config.seeds)),
            "sampling_seeds": [json.loads((f / "sample.json").read_text())["seed"]
                               for f in folders["msgan"]],
            "input_seed": config.seed, "ms_weight": config.ms_weight,
            "trainer": config.trainer_settings(),
            "ref_per_class": config.ref_per_class, "judges": judges, "seconds": seconds}


def _figure(folders: Dict[str, list], judges: Dict) -> str:
    from .report.pairs import pairs_html

    first = {arm: fs[0] for arm, fs in folders.items()}
    # sample.json lists the inputs in their draw order: one per class, class by class
    names = json.loads((first["baseline"] / "sample.json").read_text())["names"][:SHOWN_INPUTS]
    return pairs_html(first["baseline"] / "inputs", first["baseline"] / "targets",
                      {ARM_LABELS[arm]: first[arm] / "samples" for arm in folders}, names,
                      judges={ARM_LABELS[arm]: judges[arm] for arm in folders})
