"""A training run's checkpoints as a series ``track`` evaluates: each step's samples made in
memory exactly as ``sample --step N`` writes them (same seed, same conditions, same pixels).

Training composes its sampler with the evaluation layer here (``evaluate.track`` takes any
series); evaluation never imports this. Each trainer says how to rebuild and sample its generator
on its :class:`~msgan_eval.train.trainer.Task` (``build_generator``, ``images``).
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict

import numpy as np

from msgan_eval import defaults
from msgan_eval.errors import UserError

from . import IMAGE_TO_IMAGE, runs, snapshots


@dataclass(frozen=True)
class SampleSpec:
    """What ``sample`` is told: per_class (categorical), inputs / per_input (image-to-image), seed."""

    per_class: int = defaults.SAMPLES_PER_CLASS
    inputs: int = defaults.P2P_INPUTS
    per_input: int = defaults.P2P_PER_INPUT
    seed: int = defaults.SEED


def task_of(run: dict):
    """The Task that trained a run (from its config.json / checkpoint description)."""
    if run.get("task") == IMAGE_TO_IMAGE:
        from .pix2pix import PIX2PIX_TASK

        return PIX2PIX_TASK
    from .trainer import DCGAN_TASK

    return DCGAN_TASK


def sampling_record(run: dict, spec: SampleSpec) -> dict:
    """The sampling settings that matter for this run's task (recorded in track.json)."""
    if run.get("task") == IMAGE_TO_IMAGE:
        return {"kind": "run", "inputs": spec.inputs, "per_input": spec.per_input, "seed": spec.seed}
    return {"kind": "run", "per_class": spec.per_class, "seed": spec.seed}


def generator_images(task, state: dict, path: Path, spec: SampleSpec,
                     device) -> Dict[str, np.ndarray]:
    """condition -> uint8 (N, H, W, C) samples of the generator in ``state`` (global torch RNG
    untouched: building a network draws initial weights from it)."""
    import torch

    if task.build_generator is None or task.images is None:
        raise UserError("this trainer cannot sample its generator for evaluation (its Task has no "
                        "build_generator / images)")
    forked = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=forked):
        G = task.build_generator(state, path, device)
        return task.images(G, state["run"], spec, device)


class RunSeries:
    """Every checkpoint of the run in ``run_dir`` (snapshots and checkpoint.pt) as a series."""

    def __init__(self, run_dir: "str | os.PathLike[str]", spec: SampleSpec = SampleSpec(),
                 device: str = defaults.DEVICE):
        from msgan_eval.device import resolve_device

        self.run_dir, self.spec = Path(run_dir), spec
        self.run = runs.read_run_config(self.run_dir, option="RUN")
        self.device = resolve_device(device)
        self.task = task_of(self.run)
        self.steps = list(snapshots.available_steps(self.run_dir))
        if not self.steps:
            raise UserError(f"RUN {self.run_dir}: the run has no checkpoints (no "
                            f"{snapshots.SNAPSHOT_DIR}/step-*.pt, no {runs.CHECKPOINT_FILE}); train "
                            f"it first (msgan-eval train --out {self.run_dir} ...)")
        self.sampling = sampling_record(self.run, spec)

    def state(self, step: int):
        """(state, file) of ``step``: its snapshot, checkpoint.pt, or best.pt of that step."""
        best = self.run_dir / snapshots.BEST_FILE
        if step not in snapshots.available_steps(self.run_dir) and best.is_file():
            state = snapshots.load_snapshot(best, self.device)
            if state["step"] == step:
                return state, best
        state, path = snapshots.load_generator_state(self.run_dir, step, map_location=self.device)
        return state, path

    def images(self, step: int) -> Dict[str, np.ndarray]:
        state, path = self.state(step)
        if state["step"] != step:
            raise runs.damaged_checkpoint(path, f"it holds step {state['step']}, its name says {step}")
        _check_same_model(self.run, state["run"], path)
        return generator_images(self.task, state, path, self.spec, self.device)

    def describe(self) -> dict:
        return {"run": str(self.run_dir), **asdict(self.spec)}


# Entries of a run description that fix the generator's architecture and its conditions.
_MODEL_KEYS = ("task", "class_names", "channels", "width", "z_dim", "image_size",
               "input_channels", "output_channels", "dataset")


def _check_same_model(run: dict, stored: dict, path: Path) -> None:
    """A checkpoint copied in from another run (another model or data) is refused by name."""
    for key in _MODEL_KEYS:
        if run.get(key) != stored.get(key):
            raise UserError(f"{path}: a checkpoint of another model ({key} is {stored.get(key)!r}, "
                            f"the run's config.json says {run.get(key)!r}); remove it from the run "
                            "folder or track the run it belongs to")
