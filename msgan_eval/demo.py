"""The whole story offline: train a DCGAN and its MSGAN twin on Fashion-MNIST, sample, compare.

Orchestration only: training lives in ``msgan_eval.train``, evaluation in ``msgan_eval.report``.
Sized for under 15 minutes on 2 CPU cores, evaluation included (see ``defaults.DEMO_*``).
"""
from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

from . import defaults
from .errors import UserError, WeightsUnavailable, first_line
from .fileio import owned_dir

# What a demo writes at the top of --out. A folder holding only these, with a report.json of a
# demo, is a previous demo's output: the next run replaces it (README's command 1 runs twice).
DEMO_ENTRIES = frozenset({"runs", "samples", "reference", "report.json", "report.md", "report.html"})


@dataclass
class DemoEvaluation:
    """What every image demo shares: its seeds and data, and how its arms are compared (the
    reference's size, NDB bins, bootstrap, weights, device). Each task's config adds its
    training and sampling fields (``demo --task``: one keyword per option)."""

    ref_per_class: int = defaults.DEMO_REF_PER_CLASS
    ndb_bins: int = defaults.DEMO_NDB_BINS
    bootstrap: int = defaults.BOOTSTRAP
    seed: int = defaults.SEED
    seeds: int = defaults.DEMO_SEEDS
    data_root: Optional[str] = None
    inception_weights: Optional[str] = None
    lpips_backbone: Optional[str] = None
    dims: int = defaults.FID_DIMS
    device: str = defaults.DEVICE


@dataclass
class DemoConfig(DemoEvaluation):
    steps: int = defaults.DEMO_STEPS
    width: float = defaults.DEMO_WIDTH
    per_class: int = defaults.DEMO_PER_CLASS


def arm_name(arm: str, seed: int, seeds: int) -> str:
    """Run / sample folder of one arm: ``baseline`` with one seed, ``baseline-s3`` with several."""
    return arm if seeds == 1 else f"{arm}-s{seed}"


def compare_arms(samples: Dict[str, list], ref, compare_config, *, quiet: bool, log, command):
    """(report, the ImageSets shown) of one run per arm, or the pooled compare of several."""
    from .evaluate.compare import compare_runs
    from .evaluate.multirun import compare_multirun
    from .images import scan_images
    from .report.compare import Reference

    arms = {arm: [scan_images(p) for p in paths] for arm, paths in samples.items()}
    runs = {"baseline": arms["baseline"][0], "candidate": arms["msgan"][0]}
    reference = Reference(images=scan_images(ref))
    if len(arms["baseline"]) == 1:
        report = compare_runs(runs["baseline"], runs["candidate"], reference, compare_config,
                              quiet=quiet, log=log, command=command)
    else:
        report = compare_multirun(arms["baseline"], arms["msgan"], reference, compare_config,
                                  quiet=quiet, log=log, command=command)
    return report, runs


def write_demo_reference(out_dir: Path, per_class: int, seed: int, data_root) -> Path:
    """Held-out Fashion-MNIST test images, padded to 32x32 exactly as the trainer pads its data."""
    from .datasets import FASHION_MNIST_CLASSES, balanced_subset, load_fashion_mnist
    from .images import write_image_folder
    from .train.data import to_training_layout

    images, labels = load_fashion_mnist("test", data_root)
    idx = balanced_subset(labels, per_class, seed)
    padded = to_training_layout(images[idx]).transpose(0, 2, 3, 1)   # (N, 32, 32, 1)
    write_image_folder(out_dir, padded, labels[idx], FASHION_MNIST_CLASSES)
    return out_dir


def preflight_weights(inception_weights, lpips_backbone, log: Callable[[str], None]) -> None:
    """Find (or convert) the weights before training, so a bad file fails in seconds, not minutes."""
    from .features.inception import resolve_inception_weights
    from .features.lpips_net import resolve_lpips_backbone

    for name, resolve, explicit in (("FID", resolve_inception_weights, inception_weights),
                                    ("LPIPS", lambda f: resolve_lpips_backbone("alex", f), lpips_backbone)):
        try:
            resolve(explicit)
        except WeightsUnavailable as exc:
            if explicit:
                raise
            log(f"demo: {name} will be reported as skipped: {first_line(exc)}")


@contextlib.contextmanager
def torch_threads(n: int):
    """Run the block with ``n`` torch CPU threads, then restore the setting."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def holds_demo_output(folder: Path) -> bool:
    """True when ``folder`` holds a previous demo's output and nothing else."""
    names = {p.name for p in folder.iterdir()}
    if not names <= DEMO_ENTRIES or "report.json" not in names:
        return False
    try:
        report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (isinstance(report, dict) and str(report.get("schema", "")).startswith("msgan-eval/report/")
            and isinstance(report.get("details"), dict) and "demo" in report["details"])


def check_out_folder(out: Path) -> bool:
    """Whether ``out`` holds a previous demo's output, which this run replaces (False: ``out`` is
    new or empty). Anything else there is never touched: UserError naming --out."""
    if not out.exists():
        return False
    if not out.is_dir():
        raise UserError(f"--out {out}: exists and is not a folder; choose a new folder")
    try:
        if not any(out.iterdir()):
            return False
        if holds_demo_output(out):
            return True
    except OSError as exc:
        raise UserError(f"--out {out}: cannot read it ({exc.strerror or exc}); check its permissions")
    raise UserError(f"--out {out}: exists and is not empty, and is not a previous demo's output "
                    "(which would be replaced); choose a new folder or delete it")


def run_demo(out: Path, config, *, quiet: bool, log: Callable[[str], None],
             command: List[str], work: Optional[Callable] = None) -> Tuple[dict, Dict[str, Path]]:
    """Train both GANs (same seed, data order and steps; only the mode-seeking weight differs),
    sample them, compare them against held-out images; returns the report and its files.

    Everything is built in a folder beside ``out`` that takes its place at the end, so an
    interrupted run leaves no half-written ``out`` and a previous demo's output survives until
    the new one is complete.
    """
    from .report.compare import write_report

    out = Path(out)
    if check_out_folder(out):
        log(f"demo: {out} holds a previous demo's output; it is replaced when this run completes")
    with owned_dir(out, "--out", holds_demo_output) as build:
        report, runs, *extra = (work or _train_sample_compare)(build, config, quiet=quiet, log=log,
                                                               command=command)
        report = relocated(report, build, out)    # inputs, every run's path, the provenance
        for manifest in sorted(build.glob("samples/*/sample.json")):
            manifest.write_text(json.dumps(relocated(json.loads(manifest.read_text()), build, out),
                                           indent=2) + "\n")
        check_out_folder(out)     # refuses, keeping both, if someone wrote into out meanwhile
        files = write_report(build, report, runs, *extra, swap=False)   # build is swapped in whole
    return report, {kind: _moved(path, build, out) for kind, path in files.items()}


def relocated(obj, build: Path, out: Path):
    """``obj`` (JSON values) with every path inside the build folder rewritten to where it is once
    the build folder has become ``out``: no report or sample.json points at a ``.part`` folder
    that no longer exists."""
    if isinstance(obj, dict):
        return {k: relocated(v, build, out) for k, v in obj.items()}
    if isinstance(obj, list):
        return [relocated(v, build, out) for v in obj]
    if isinstance(obj, str) and (obj == str(build) or obj.startswith(str(build) + "/")):
        return str(out) + obj[len(str(build)):]
    return obj


def _moved(path: Path, build: Path, out: Path) -> Path:
    """Where ``path`` inside the build folder is once the build folder has become ``out``."""
    try:
        return out / path.relative_to(build)
    except ValueError:
        return path


def _train_sample_compare(out: Path, config: DemoConfig, *, quiet: bool, log: Callable[[str], None],
                          command: List[str]) -> tuple:
    """The demo's work, written into ``out``: (report, the two runs' ImageSets)."""
    from .report.compare import CompareConfig
    from .train.sampler import sample_run
    from .train.trainer import TrainConfig, train

    t0, seconds = time.perf_counter(), {}
    samples: Dict[str, list] = {"baseline": [], "msgan": []}
    preflight_weights(config.inception_weights, config.lpips_backbone, log)
    for seed in range(config.seed, config.seed + config.seeds):
        for arm, ms_weight in (("baseline", 0.0), ("msgan", 1.0)):
            run = arm_name(arm, seed, config.seeds)
            log(f"demo: training {run} (ms-weight {ms_weight:g}, {config.steps} steps, width "
                f"{config.width:g}, seed {seed})")
            start = time.perf_counter()
            train_config = TrainConfig(dataset="fashion-mnist", data_root=config.data_root,
                                       ms_weight=ms_weight, steps=config.steps, width=config.width,
                                       seed=seed, checkpoint_every=config.steps)
            # The reduced DCGAN's layers are too small to split across threads: on 2 busy cores one
            # thread measured 0.17 s/step against 1.9 s/step with two (thread hand-offs dominate).
            with torch_threads(1):
                train(train_config, out / "runs" / run, quiet=quiet, device=config.device)
            log(f"demo: sampling {config.per_class} images per class from {run}")
            samples[arm].append(sample_run(out / "runs" / run, out / "samples" / run,
                                           per_class=config.per_class, seed=config.seed,
                                           device=config.device, quiet=quiet))
            seconds[run] = round(time.perf_counter() - start, 1)
    log(f"demo: writing {config.ref_per_class} held-out test images per class as the reference")
    ref = write_demo_reference(out / "reference", config.ref_per_class, config.seed, config.data_root)
    compare_config = CompareConfig(bootstrap=config.bootstrap, seed=config.seed,
                                   ndb_bins=config.ndb_bins, device=config.device, dims=config.dims,
                                   inception_weights=config.inception_weights,
                                   lpips_backbone=config.lpips_backbone)
    start = time.perf_counter()
    report, runs = compare_arms(samples, ref, compare_config, quiet=quiet, log=log, command=command)
    seconds["compare"] = round(time.perf_counter() - start, 1)
    seconds["total"] = round(time.perf_counter() - t0, 1)
    report["details"]["demo"] = {"task": "categorical", "steps": config.steps, "width": config.width,
                                 "per_class": config.per_class, "seeds": config.seeds,
                                 "ref_per_class": config.ref_per_class, "seconds": seconds}
    return report, runs
