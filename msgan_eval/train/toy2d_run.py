"""A 2D run folder: train (the shared ``trainer`` loop with the toy2d Task), then sample every
trial's final generator on PacGAN's fixed 2500 codes and count its modes.

Files: ``config.json``, ``log.jsonl``, ``checkpoint.pt`` (the trainer's), ``points.npy`` (trials x
2500 x 2, float32) and ``modes.json`` (one result per trial and their mean +- standard error, the
object ``msgan-eval compare`` reads).
"""
from __future__ import annotations

import copy
import os
from dataclasses import fields
from pathlib import Path

import numpy as np
import torch

from msgan_eval import __version__, defaults
from msgan_eval.device import resolve_device
from msgan_eval.fileio import atomic_path, write_json_atomic

from . import runs
from .toy2d import (
    EVAL_SAMPLES,
    TASK_NAME,
    Toy2DConfig,
    Toy2DData,
    build_toy2d,
    describe_toy2d,
    generate_points,
    make_toy2d_step,
    refresh_population,
)
from .trainer import Task, train

MODES_FILE = "modes.json"
POINTS_FILE = "points.npy"

TOY2D_TASK = Task(
    load_data=lambda c: Toy2DData(c),
    describe=describe_toy2d,
    build=build_toy2d,
    make_step=make_toy2d_step)


def config_from_run(run_dir: "str | os.PathLike[str]") -> Toy2DConfig:
    """The Toy2DConfig stored in a run's config.json (what ``--resume`` starts from)."""
    stored = runs.read_run_config(Path(run_dir), option="--resume")
    names = {f.name for f in fields(Toy2DConfig)}
    try:
        return Toy2DConfig(**{k: v for k, v in stored.items() if k in names})
    except TypeError as exc:
        raise runs.damaged_config(Path(run_dir) / runs.CONFIG_FILE, str(exc)) from None


def train_toy2d(config: Toy2DConfig, out_dir: "str | os.PathLike[str]", resume: bool = False,
                quiet: bool = False, device: str = defaults.DEVICE, loop=None) -> Path:
    """Train every trial of the arm in ``out_dir``, then write points.npy and modes.json;
    ``loop`` as for :func:`msgan_eval.train.trainer.train` (snapshots kept, TensorBoard)."""
    out_dir = Path(out_dir)
    train(config, out_dir, resume=resume, quiet=quiet, device=device, task=TOY2D_TASK, loop=loop)
    evaluate_run(out_dir, device=device)
    return out_dir


def load_run_generator(run_dir: Path, device: torch.device):
    """(generator of the run's last checkpoint, its config)."""
    checkpoint = runs.load_checkpoint(run_dir, map_location=device)
    config = config_from_run(run_dir)
    gan = build_toy2d(config, None, device)
    runs.load_state(run_dir / runs.CHECKPOINT_FILE, gan.G, checkpoint["generator"], "generator")
    return gan.G.eval(), config, int(checkpoint["step"])


def evaluate_run(run_dir: "str | os.PathLike[str]", device: str = defaults.DEVICE,
                 n: int = EVAL_SAMPLES) -> dict:
    """Sample each trial on the fixed codes and count its modes; writes points.npy, modes.json."""
    from msgan_eval.evaluate.modes import modes_2d
    from msgan_eval.evaluate.modes_trials import summarise

    run_dir = Path(run_dir)
    dev = resolve_device(device)
    G, config, step = load_run_generator(run_dir, dev)
    per_epoch = config.n_train // config.batch_size
    if step % per_epoch:        # PacGAN evaluates right after the monitor's refresh (epoch ends)
        G = copy.deepcopy(G)
        refresh_population(G, config, dev, 4, step)
    points = generate_points(G, n)
    with atomic_path(run_dir / POINTS_FILE, suffix=".npy") as tmp:
        np.save(tmp, points.astype(np.float32))
    trials = []
    for t, pts in enumerate(points):
        r = modes_2d(config.dataset, pts.astype(np.float32)).to_dict()
        trials.append({"trial": t, **{k: r[k] for k in ("modes", "modes_total", "high_quality",
                                                         "reverse_kl", "counts", "n")}})
    result = {"schema": "msgan-eval/modes-trials/1", "version": __version__, "task": TASK_NAME,
              "layout": config.dataset, "arm": arm_label(config), "ms_weight": config.ms_weight,
              "pack": config.pack, "step": step, "epochs": step / per_epoch,
              "run": str(run_dir), "trials": trials, "summary": summarise(trials)}
    write_json_atomic(run_dir / MODES_FILE, result)
    return result


def arm_label(config: Toy2DConfig) -> str:
    """GAN, PacGAN2, MSGAN, MSGAN+PacGAN2 ..."""
    pac = f"PacGAN{config.pack}" if config.pack > 1 else ""
    if config.ms_weight > 0:
        return "MSGAN" + (f"+{pac}" if pac else "")
    return pac or "GAN"
