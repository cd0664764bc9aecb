"""StackGAN++ and its mode-seeking twin (HelenMao/MSGAN ``StackGAN++-Mode-Seeking``), text to
image, as a ``trainer.Task``; the update is ``stackgan_losses.train_step``.

Two stages by default (16 -> 32 pixels; the paper's CUB model has three, 64 -> 128 -> 256).
``ms_weight > 0`` is MSGAN (two noises per text, the mode-seeking term x ``ms_weight``; the
official weight is 1); ``ms_weight == 0`` is StackGAN-v2 itself (hanzhanggit/StackGAN-v2, one
noise), as DRIT's baseline is DRIT's ``--no_ms``. The noises of step ``t`` are the trainer's
``z1, z2`` (``Z_DIM`` 100); conditioning augmentation draws from a generator keyed (seed, rank,
t), wrong images and caption choices from one keyed (seed, rank, t, 1); the step counter is a
buffer of the discriminators, so a resumed run ends with the weights of an uninterrupted one.
A run is sampled with the running average of G's weights, as the official saves it
(``save_model``: trainer.py:178-182), and G's batch-norm statistics. One process (no torchrun).
"""
from __future__ import annotations

import copy
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Callable, Dict, Optional

import numpy as np
import torch
from torch import nn

from msgan_eval import __version__, defaults
from msgan_eval.errors import UserError

from . import TEXT_TO_IMAGE, runs
from .data import batch_to_tensor
from .optimizers import OptimizerGroup
from .seeding import keyed_generator
from .stackgan_losses import AVERAGE_DECAY, train_step
from .stackgan_models import EMBEDDING_DIM, R_NUM, Z_DIM, DNet, GNet, weights_init
from .trainer import Dist, Gan, Task, train


@dataclass
class StackGanConfig:
    dataset: str = "fashion-mnist-captions"
    data_root: Optional[str] = None
    ms_weight: float = defaults.MS_WEIGHT
    steps: Optional[int] = None            # exactly one of steps / epochs
    epochs: Optional[int] = None
    batch_size: int = defaults.STACKGAN_BATCH_SIZE
    width: float = defaults.STACKGAN_WIDTH
    seed: int = defaults.SEED
    checkpoint_every: int = defaults.TRAIN_CHECKPOINT_EVERY
    subset_per_class: Optional[int] = None
    z_dim: int = Z_DIM
    lr: float = defaults.STACKGAN_LR               # TRAIN.GENERATOR_LR = DISCRIMINATOR_LR
    beta1: float = defaults.STACKGAN_BETAS[0]
    beta2: float = defaults.STACKGAN_BETAS[1]
    branch_num: int = defaults.STACKGAN_BRANCH_NUM
    base_size: int = defaults.STACKGAN_BASE_SIZE
    embedding_dim: int = EMBEDDING_DIM
    task: str = TEXT_TO_IMAGE
    model: str = "stackgan"

    @property
    def stage_sizes(self):
        return tuple(self.base_size * 2 ** i for i in range(self.branch_num))


class StackGanGenerators(nn.Module):
    """G being trained and the running average of its weights (``avg_param_G``)."""

    def __init__(self, t_dim: int, config: StackGanConfig):
        super().__init__()
        self.net = GNet(t_dim, config.branch_num, config.base_size, config.width,
                        config.embedding_dim, config.z_dim, R_NUM)
        self.average = copy.deepcopy(self.net).requires_grad_(False)

    @torch.no_grad()
    def update_average(self, decay: float = AVERAGE_DECAY) -> None:
        """trainer.py:743-744: ``avg_p = 0.999 avg_p + 0.001 p``."""
        for avg, p in zip(self.average.parameters(), self.net.parameters()):
            avg.mul_(decay).add_(p.detach(), alpha=1 - decay)

    def sampling_net(self) -> GNet:
        """G with the averaged weights and the batch-norm statistics of training (save_model)."""
        net = copy.deepcopy(self.net)
        for p, avg in zip(net.parameters(), self.average.parameters()):
            p.data.copy_(avg.data)
        return net.eval()


class StackGanDiscriminators(nn.Module):
    """One discriminator per stage and the step counter."""

    def __init__(self, config: StackGanConfig):
        super().__init__()
        self.nets = nn.ModuleList(DNet(size, config.width, config.embedding_dim)
                                  for size in config.stage_sizes)
        self.register_buffer("iterations", torch.zeros((), dtype=torch.int64))


def build_stackgan(config: StackGanConfig, t_dim: int, device: torch.device) -> Gan:
    """Seeded networks, ``weights_init`` (trainer.py:55-65, 105-125) and the official Adam
    settings (``define_optimizers``, trainer.py:159-175)."""
    torch.manual_seed(config.seed)
    G = StackGanGenerators(t_dim, config)
    G.net.apply(weights_init)
    G.average.load_state_dict(G.net.state_dict())      # copy_G_params at the start (trainer.py:677)
    D = StackGanDiscriminators(config)
    D.nets.apply(weights_init)
    G, D = G.to(device), D.to(device)
    betas = (config.beta1, config.beta2)
    opt_d = OptimizerGroup({f"D{i}": torch.optim.Adam(d.parameters(), lr=config.lr, betas=betas)
                            for i, d in enumerate(D.nets)})
    return Gan(G, D, torch.optim.Adam(G.net.parameters(), lr=config.lr, betas=betas), opt_d)


def _make_step(gan: Gan, data, config: StackGanConfig, dist: Dist) -> Callable:
    def step(idx: np.ndarray, z1: torch.Tensor, z2: torch.Tensor) -> Dict[str, float]:
        t = int(gan.D.iterations)
        real, wrong, embedding = data.batch(idx, np.random.default_rng([config.seed, dist.rank, t, 1]))
        real = [batch_to_tensor(x).to(dist.device) for x in real]
        wrong = [batch_to_tensor(x).to(dist.device) for x in wrong]
        embedding = torch.from_numpy(np.ascontiguousarray(embedding)).to(dist.device)
        losses = train_step(gan, real, wrong, embedding, z1, z2,
                            keyed_generator(config.seed, dist.rank, t), config.ms_weight)
        gan.D.iterations += 1
        return losses
    return step


def describe_run(config: StackGanConfig, data, per_epoch: int, world_size: int) -> dict:
    """config.json: the settings, the data's shape and the step plan."""
    if (config.steps is None) == (config.epochs is None):
        raise UserError("give exactly one of --steps N or --epochs N")
    if world_size > 1:
        raise UserError("--model stackgan trains in one process; run it without torchrun")
    total = config.steps if config.steps is not None else config.epochs * per_epoch
    return {"version": __version__, **asdict(config), "n_train": len(data),
            "image_size": data.image_size, "stage_sizes": list(config.stage_sizes),
            "t_dim": int(data.embeddings.shape[1]), "world_size": world_size,
            "steps_per_epoch": per_epoch, "total_steps": int(total)}


def load_data(config: StackGanConfig):
    from .caption_sets import load_captioned_data

    return load_captioned_data(config.dataset, config.data_root, "train", config.stage_sizes,
                               config.subset_per_class, config.seed)


def _build_generator(state: dict, path: Path, device):
    from .stackgan_sampler import build_stackgan_generator

    return build_stackgan_generator(state, path, device)


def _caption_images(G, run: dict, spec, device) -> dict:
    """--eval-every: the first ``spec.inputs`` captions, ``spec.per_input`` images each, exactly
    what ``sample --captions N --per-input M`` writes."""
    from .stackgan_sampler import caption_images, conditions

    names, _, embeddings = conditions(run, spec.inputs)
    return {name: caption_images(G, embeddings[i], i, spec.per_input, spec.seed, int(run["z_dim"]),
                                 device) for i, name in enumerate(names)}


STACKGAN_TASK = Task(
    load_data=load_data, describe=describe_run,
    build=lambda c, data, device: build_stackgan(c, int(data.embeddings.shape[1]), device),
    make_step=_make_step, build_generator=_build_generator, images=_caption_images)


def train_stackgan(config: StackGanConfig, out_dir: "str | os.PathLike[str]", resume: bool = False,
                   quiet: bool = False, device: str = defaults.DEVICE, loop=None) -> Path:
    """Train (or with ``resume`` continue) the text-to-image run in ``out_dir``."""
    return train(config, out_dir, resume=resume, quiet=quiet, device=device, task=STACKGAN_TASK,
                 loop=loop)


def config_from_run(run_dir: "str | os.PathLike[str]") -> StackGanConfig:
    """The StackGanConfig stored in a run's config.json (what ``--resume`` starts from)."""
    stored = runs.read_run_config(Path(run_dir), option="--resume")
    names = {f.name for f in fields(StackGanConfig)}
    return StackGanConfig(**{k: v for k, v in stored.items() if k in names})
