"""The whole story offline: train a DCGAN and its MSGAN twin on Fashion-MNIST, sample, compare.

Orchestration only: training lives in ``msgan_eval.train``, evaluation in ``msgan_eval.report``.
Sized for under 15 minutes on 2 CPU cores, evaluation included (see ``defaults.DEMO_*``).
"""
from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

from . import defaults
from .errors import UserError, WeightsUnavailable


@dataclass
class DemoConfig:
    steps: int = defaults.DEMO_STEPS
    width: float = defaults.DEMO_WIDTH
    per_class: int = defaults.DEMO_PER_CLASS
    ref_per_class: int = defaults.DEMO_REF_PER_CLASS
    ndb_bins: int = defaults.DEMO_NDB_BINS
    bootstrap: int = defaults.BOOTSTRAP
    seed: int = defaults.SEED
    data_root: Optional[str] = None
    inception_weights: Optional[str] = None
    lpips_backbone: Optional[str] = None
    dims: int = defaults.FID_DIMS
    device: str = defaults.DEVICE


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
            log(f"demo: {name} will be reported as skipped: {str(exc).split(';')[0]}")


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


def require_fresh_folder(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError(f"--out {out}: exists and is not empty; choose a new folder or delete it")


def run_demo(out: Path, config: DemoConfig, *, quiet: bool, log: Callable[[str], None],
             command: List[str]) -> Tuple[dict, Dict[str, Path]]:
    """Train both GANs (same seed, data order and steps; only the mode-seeking weight differs),
    sample them, compare them against held-out images; returns the report and its files."""
    from .images import scan_images
    from .report.compare import CompareConfig, Reference, compare_runs, write_report
    from .train.sampler import sample_run
    from .train.trainer import TrainConfig, train

    out = Path(out)
    require_fresh_folder(out)
    t0, seconds, samples = time.perf_counter(), {}, {}
    preflight_weights(config.inception_weights, config.lpips_backbone, log)
    for run, ms_weight in (("baseline", 0.0), ("msgan", 1.0)):
        log(f"demo: training {run} (ms-weight {ms_weight:g}, {config.steps} steps, width {config.width:g})")
        start = time.perf_counter()
        train_config = TrainConfig(dataset="fashion-mnist", data_root=config.data_root,
                                   ms_weight=ms_weight, steps=config.steps, width=config.width,
                                   seed=config.seed, checkpoint_every=config.steps)
        # The reduced DCGAN's layers are too small to split across threads: on 2 busy cores one
        # thread measured 0.17 s/step against 1.9 s/step with two (thread hand-offs dominate).
        with torch_threads(1):
            train(train_config, out / "runs" / run, quiet=quiet, device=config.device)
        log(f"demo: sampling {config.per_class} images per class from {run}")
        samples[run] = sample_run(out / "runs" / run, out / "samples" / run, per_class=config.per_class,
                                  seed=config.seed, device=config.device, quiet=quiet)
        seconds[run] = round(time.perf_counter() - start, 1)
    log(f"demo: writing {config.ref_per_class} held-out test images per class as the reference")
    ref = write_demo_reference(out / "reference", config.ref_per_class, config.seed, config.data_root)
    compare_config = CompareConfig(bootstrap=config.bootstrap, seed=config.seed,
                                   ndb_bins=config.ndb_bins, device=config.device, dims=config.dims,
                                   inception_weights=config.inception_weights,
                                   lpips_backbone=config.lpips_backbone)
    runs = {"baseline": scan_images(samples["baseline"]), "candidate": scan_images(samples["msgan"])}
    start = time.perf_counter()
    report = compare_runs(runs["baseline"], runs["candidate"], Reference(images=scan_images(ref)),
                          compare_config, quiet=quiet, log=log, command=command)
    seconds["compare"] = round(time.perf_counter() - start, 1)
    seconds["total"] = round(time.perf_counter() - t0, 1)
    report["details"]["demo"] = {"steps": config.steps, "width": config.width,
                                 "per_class": config.per_class,
                                 "ref_per_class": config.ref_per_class, "seconds": seconds}
    return report, write_report(out, report, runs)
