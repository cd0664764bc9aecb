"""``msgan-eval demo --task modes``: GAN, PacGAN2, MSGAN and MSGAN+PacGAN2 on the 2D ring and
grid, 10 trials per arm (one batched model each), counted as PacGAN counts them, beside PacGAN's
Table 1, with verdicts over trials.

Two settings:
- the default, SHORT: a setting of our own, found by measurement, in which the baseline GAN
  collapses within minutes on a CPU (smaller networks, a larger learning rate, fewer points, far
  fewer steps: see docs/modes.md). It is NOT PacGAN's protocol and its numbers are not Table 1's;
- ``full``: PacGAN's protocol exactly (``Toy2DConfig``'s defaults, 400 epochs of 1000 steps),
  meant for a GPU (``device="cuda"``).
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

from msgan_eval import __version__, defaults
from msgan_eval.errors import UserError
from msgan_eval.fileio import atomic_dir

SCHEMA = "msgan-eval/modes-demo/1"
LAYOUTS = ("ring", "grid")
# (name, ms_weight, pack); ms_weight 1 as the MSGAN paper's DCGAN and pix2pix.
ARMS: Tuple[Tuple[str, float, int], ...] = (("GAN", 0.0, 1), ("PacGAN2", 0.0, 2),
                                            ("MSGAN", 1.0, 1), ("MSGAN+PacGAN2", 1.0, 2))
COMPARISONS = (("GAN", "PacGAN2"), ("GAN", "MSGAN"), ("PacGAN2", "MSGAN+PacGAN2"))
# PacGAN Table 1 (synthetic_data_experiments/results/Table1.png): mean ± SE over 10 trials.
PACGAN_TABLE1 = {
    "ring": {"GAN": {"modes": (6.3, 0.5), "hq": (98.2, 0.2), "kl": (0.45, 0.09)},
             "PacGAN2": {"modes": (7.9, 0.1), "hq": (95.6, 2.0), "kl": (0.07, 0.03)}},
    "grid": {"GAN": {"modes": (17.3, 0.8), "hq": (94.8, 0.7), "kl": (0.70, 0.07)},
             "PacGAN2": {"modes": (23.8, 0.7), "hq": (91.3, 0.8), "kl": (0.13, 0.04)}}}
# The short setting (docs/modes.md, "Finding the short setting"): the unrolled-GAN paper's 2D
# networks (G 2 x 128 ReLU without batch norm, z 256; D 1 x 128 ReLU; Metz et al. 2017, app. A)
# with a 10x larger learning rate, 10,000 points and 2000 steps. Data, metric, losses, simultaneous
# updates and packing are PacGAN's.
SHORT = dict(steps=2000, n_train=10_000, lr=1e-3, beta1=0.5, latent=256, g_batchnorm=False,
             g_layers=2, g_hidden=128, d_activation="relu", d_layers=1, d_hidden=128, init_std=0.05)
FULL = dict(epochs=400)
OUT_ENTRIES = frozenset({"runs", "report.json", "report.md", "report.html", "ring.png", "grid.png"})


@dataclass
class ModesDemoConfig:
    full: bool = False
    trials: int = 10
    seed: int = defaults.SEED
    layouts: Tuple[str, ...] = LAYOUTS
    device: str = "cpu"
    workers: int = 2
    overrides: Dict[str, object] = field(default_factory=dict)   # Toy2DConfig fields (tests)

    @property
    def setting(self) -> dict:
        return {**(FULL if self.full else SHORT), **self.overrides}


def arm_config(layout: str, arm: Tuple[str, float, int], config: ModesDemoConfig):
    from msgan_eval.train.toy2d import Toy2DConfig

    name, ms_weight, pack = arm
    settings = {"checkpoint_every": 10 ** 9, **config.setting}
    return Toy2DConfig(dataset=layout, ms_weight=ms_weight, pack=pack, trials=config.trials,
                       seed=config.seed, **settings)


def _train_one(job) -> Tuple[str, str, float, float]:
    """One arm on one layout, in its own process with one torch thread: (layout, arm, wall s,
    CPU s). A module-level function so a process pool can run it."""
    import torch

    from msgan_eval.train.toy2d_run import train_toy2d

    layout, arm, config, run_dir, quiet = job
    torch.set_num_threads(1)
    t0, c0 = time.perf_counter(), time.process_time()
    train_toy2d(arm_config(layout, arm, config), run_dir, quiet=quiet, device=config.device)
    return layout, arm[0], time.perf_counter() - t0, time.process_time() - c0


def train_all(build: Path, config: ModesDemoConfig, quiet: bool, log: Callable[[str], None]) -> Dict:
    """Train every (layout, arm), ``workers`` at a time; {run key: (wall, cpu) seconds}."""
    jobs = [(layout, arm, config, build / "runs" / f"{layout}-{arm[0]}", True)
            for layout in config.layouts for arm in ARMS]
    seconds = {}
    if config.workers <= 1:
        results = (_train_one(job[:4] + (quiet,)) for job in jobs)
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        pool = ProcessPoolExecutor(config.workers, mp_context=multiprocessing.get_context("spawn"))
        results = pool.map(_train_one, jobs)
    try:
        for layout, arm, wall, cpu in results:
            log(f"demo: {layout} {arm}: {config.trials} trials trained in {wall:.0f} s "
                f"({cpu:.0f} s CPU)")
            seconds[f"{layout}-{arm}"] = {"wall": round(wall, 1), "cpu": round(cpu, 1)}
    finally:
        if config.workers > 1:
            pool.shutdown(cancel_futures=True)
    return seconds


def _layout_report(build: Path, layout: str, config: ModesDemoConfig):
    from msgan_eval.evaluate.modes_trials import compare_trials

    arms, points = {}, {}
    for name, _, _ in ARMS:
        run = build / "runs" / f"{layout}-{name}"
        result = json.loads((run / "modes.json").read_text(encoding="utf-8"))
        arms[name] = {"run": f"runs/{layout}-{name}", "summary": result["summary"],
                      "trials": result["trials"], "step": result["step"]}
        points[name] = np.load(run / "points.npy")
    comparisons = []
    for base, cand in COMPARISONS:
        c = compare_trials(build / "runs" / f"{layout}-{base}", build / "runs" / f"{layout}-{cand}")
        comparisons.append({"baseline": base, "candidate": cand, "metrics": c.metrics,
                            "verdicts": c.verdicts, "overall": c.overall, "notes": c.notes})
    total = arms["GAN"]["trials"][0]["modes_total"]
    report = {"modes_total": total, "arms": arms, "paper": PACGAN_TABLE1[layout],
              "comparisons": comparisons, "scatter": f"{layout}.png"}
    return report, points


def collapse_shown(layout_report: dict) -> bool:
    """The goal of the short setting: GAN below PacGAN2 in modes, or above it in reverse KL, with
    95% intervals of the difference that exclude 0 (verdict candidate-better for PacGAN2)."""
    c = next(c for c in layout_report["comparisons"] if c["baseline"] == "GAN"
             and c["candidate"] == "PacGAN2")
    return "candidate-better" in (c["verdicts"]["modes"], c["verdicts"]["reverse_kl"])


def _notes(config: ModesDemoConfig) -> List[str]:
    if config.full:
        return ["PacGAN's protocol: 400 epochs of 1000 steps, networks, optimiser and data of "
                "PacGAN's 2D code (docs/modes.md lists the deviations)"]
    setting = {k: v for k, v in config.setting.items() if v is not None}
    return ["short setting, NOT PacGAN's protocol: " + ", ".join(f"{k} {v}" for k, v in setting.items())
            + " (PacGAN: 400 epochs of 1000 steps, 100,000 points, G 4 x 400 with batch norm, "
            "z 2, D 3 x 200 maxout, lr 1e-4, beta1 0.8); compare the arms with each other, not "
            "with the PacGAN columns",
            "MSGAN arms: ms-weight 1, one extra generator call per step for the mode-seeking term"]


def check_out(out: Path) -> bool:
    """True when ``out`` holds a previous modes demo (replaced at the end); refuses anything else."""
    if not out.exists():
        return False
    if not out.is_dir():
        raise UserError(f"--out {out}: exists and is not a folder; choose a new folder")
    names = {p.name for p in out.iterdir()}
    if not names:
        return False
    try:
        previous = json.loads((out / "report.json").read_text(encoding="utf-8")).get("schema")
    except (OSError, ValueError, AttributeError):
        previous = None
    if names <= OUT_ENTRIES and previous == SCHEMA:
        return True
    raise UserError(f"--out {out}: exists and is not empty, and is not a previous modes demo "
                    "(which would be replaced); choose a new folder or delete it")


def run_modes_demo(out: Path, config: ModesDemoConfig, *, quiet: bool, log: Callable[[str], None],
                   command: List[str]) -> Tuple[dict, Dict[str, Path]]:
    """Train all arms, count, compare and write the report; ``out`` appears whole at the end."""
    from .modes_report import write_report_files

    out = Path(out)
    if check_out(out):
        log(f"demo: {out} holds a previous modes demo; it is replaced when this run completes")
    arm_config(config.layouts[0], ARMS[0], config)        # bad settings fail before any work
    t0 = time.perf_counter()
    with atomic_dir(out) as build:
        seconds = train_all(build, config, quiet, log)
        layouts, points = {}, {}
        for layout in config.layouts:
            layouts[layout], points[layout] = _layout_report(build, layout, config)
        seconds["total"] = round(time.perf_counter() - t0, 1)
        report = {"schema": SCHEMA, "version": __version__, "command": command,
                  "setting": "PacGAN's protocol" if config.full else "short (not PacGAN's protocol)",
                  "settings": arm_config(config.layouts[0], ARMS[0], config).__dict__,
                  "trials": config.trials, "seed": config.seed, "device": config.device,
                  "layouts": layouts, "seconds": seconds, "notes": _notes(config),
                  "collapse_shown": {k: collapse_shown(v) for k, v in layouts.items()}}
        files = write_report_files(build, report, points)
        check_out(out)
    return report, {k: out / v.name for k, v in files.items()}


def demo_config(full: bool, trials: int, seed: int, device: str, workers: int,
                steps: Optional[int] = None) -> ModesDemoConfig:
    overrides = {} if steps is None else {"steps": steps, "epochs": None}
    return ModesDemoConfig(full=full, trials=trials, seed=seed, device=device, workers=workers,
                           overrides=overrides)
