"""Training step of the official MSGAN pix2pix code (``Pix2Pix-Mode-Seeking/models/pix2pix_model.py``).

``optimize_parameters`` is forward -> update_G -> update_D:
- forward: G(A, z1) and G(A, z2) for the same inputs A, in one generator batch;
- update_G (D frozen): LSGAN on both fakes (each against "real", summed over D's scales)
  + lambda_L1 * mean|fake1 - B| + ms_weight * the mode-seeking loss of (fake1, fake2, z1, z2);
- update_D on the same (detached) fakes: LSGAN of fake1, fake2 against "fake" plus twice the
  real pair's loss against "real" (the official ``loss_D_real1 + loss_D_real2``).
``ms_weight = 0`` is the pix2pix baseline with the identical two-fake schedule; the official
MSGAN adds the term with weight 1. D sees (input, output) pairs, concatenated channel-wise.

Run folder, resume, data order, noise, log, checkpoints and DDP are the DCGAN trainer's
(``trainer.Task``): a resumed run ends with the weights of an uninterrupted one.
"""
from __future__ import annotations

import functools
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Callable, Dict, List, Optional

import numpy as np
import torch
import torch.nn.functional as F

from msgan_eval import __version__, defaults

from . import IMAGE_TO_IMAGE as TASK_NAME
from . import runs
from .data import batch_to_tensor
from .losses import mode_seeking_loss
from .paired_data import PairedData, load_paired_data, paired_summary
from .pix2pix_models import MultiScaleDiscriminator, UnetGenerator, init_weights
from .trainer import Dist, Gan, Task, steps_per_epoch, train


@dataclass
class Pix2PixConfig:
    dataset: str = "fashion-mnist-edges"
    data_root: Optional[str] = None
    ms_weight: float = defaults.MS_WEIGHT
    steps: Optional[int] = None            # exactly one of steps / epochs
    epochs: Optional[int] = None
    batch_size: int = defaults.P2P_BATCH_SIZE   # per process under torchrun
    width: float = defaults.P2P_WIDTH
    seed: int = defaults.SEED
    checkpoint_every: int = defaults.TRAIN_CHECKPOINT_EVERY
    subset_per_class: Optional[int] = None
    z_dim: int = defaults.P2P_NZ
    lr: float = defaults.P2P_LR
    beta1: float = defaults.P2P_BETAS[0]
    beta2: float = defaults.P2P_BETAS[1]
    lambda_l1: float = defaults.P2P_LAMBDA_L1
    upsample: str = "basic"                # official --upsample: basic (transposed conv) | bilinear
    lr_decay_steps: int = 0                # official --niter_decay, in steps: the last N decay to 0
    ms_warmup: int = 0                     # steps with the mode-seeking weight at 0 ...
    ms_ramp: int = 0                       # ... then steps over which it rises linearly to ms_weight
    ms_eps: float = defaults.MS_EPS        # official eps = 1e-5 (pix2pix_model.py l.132)
    ms_cap: Optional[float] = None         # DSGAN-style tau: lz counts only up to tau
    d_width: Optional[float] = None        # discriminator's width multiplier (default: width)
    task: str = TASK_NAME


def lsgan_loss(preds: List[torch.Tensor], real: bool) -> torch.Tensor:
    """Official ``GANLoss(mse_loss=True)``: MSE of every scale's map against 1 (real) or 0, summed."""
    target = 1.0 if real else 0.0
    return sum(F.mse_loss(p, torch.full_like(p, target)) for p in preds)


def generator_loss(D, real_a, real_b, fake1, fake2, z1, z2, ms_weight: float, lambda_l1: float,
                   ms_eps: float = defaults.MS_EPS, ms_cap: Optional[float] = None):
    """(total, gan, l1, ms) of ``backward_G``; with ``ms_weight == 0`` ms is only logged."""
    gan = (lsgan_loss(D(torch.cat([real_a, fake1], 1)), True)
           + lsgan_loss(D(torch.cat([real_a, fake2], 1)), True))
    l1 = F.l1_loss(fake1, real_b) * lambda_l1
    if ms_weight == 0:
        with torch.no_grad():
            ms = mode_seeking_loss(fake1, fake2, z1, z2, ms_eps, ms_cap)
        return gan + l1, gan, l1, ms
    ms = mode_seeking_loss(fake1, fake2, z1, z2, ms_eps, ms_cap)
    return gan + l1 + ms_weight * ms, gan, l1, ms


def discriminator_loss(D, real_a, real_b, fake1, fake2) -> torch.Tensor:
    """``backward_D``: fakes against "fake", the real pair (counted twice) against "real".

    D runs on each batch separately, as in the official code. Batching them would give the same
    outputs up to rounding (instance norm normalises each image alone), but the conv biases in
    front of instance norm have gradients that are zero up to rounding, which Adam scales up to
    full steps: the official call order keeps runs comparable with the reference to 1e-5."""
    pred_fake1 = D(torch.cat([real_a, fake1.detach()], 1))
    pred_fake2 = D(torch.cat([real_a, fake2.detach()], 1))
    pred_real = D(torch.cat([real_a, real_b], 1))
    return lsgan_loss(pred_fake1, False) + lsgan_loss(pred_fake2, False) + 2 * lsgan_loss(pred_real, True)


def _set_requires_grad(module: torch.nn.Module, flag: bool) -> None:
    for p in module.parameters():
        p.requires_grad_(flag)


def train_step(gan: Gan, real_a: torch.Tensor, real_b: torch.Tensor, z1: torch.Tensor,
               z2: torch.Tensor, ms_weight: float, lambda_l1: float,
               ms_eps: float = defaults.MS_EPS, ms_cap: Optional[float] = None) -> Dict[str, float]:
    """forward, update_G, update_D of the official model."""
    fake = gan.G(torch.cat([real_a, real_a]), torch.cat([z1, z2]))
    fake1, fake2 = torch.split(fake, real_a.shape[0])
    # Official set_requires_grad(netD, False): D's gradients are not needed for G's update.
    # Under DDP the flag must not change after wrapping; D's gradients are then zeroed unused.
    freeze = not hasattr(gan.D, "module")
    if freeze:
        _set_requires_grad(gan.D, False)
    gan.opt_g.zero_grad()
    loss_g, loss_gan, loss_l1, loss_ms = generator_loss(gan.D, real_a, real_b, fake1, fake2, z1,
                                                        z2, ms_weight, lambda_l1, ms_eps, ms_cap)
    loss_g.backward()
    gan.opt_g.step()
    if freeze:
        _set_requires_grad(gan.D, True)
    gan.opt_d.zero_grad()
    loss_d = discriminator_loss(gan.D, real_a, real_b, fake1, fake2)
    loss_d.backward()
    gan.opt_d.step()
    return {"loss_d": loss_d.item(), "loss_g": loss_g.item(), "loss_g_gan": loss_gan.item(),
            "loss_l1": loss_l1.item(), "loss_ms": loss_ms.item()}


def build_pix2pix(config: Pix2PixConfig, input_nc: int, output_nc: int, image_size: int,
                  device: torch.device) -> Gan:
    """Seeded, xavier(0.02)-initialised G and D with the official Adam settings."""
    torch.manual_seed(config.seed)
    G = UnetGenerator(input_nc, output_nc, image_size, config.width, config.z_dim, config.upsample)
    D = MultiScaleDiscriminator(input_nc + output_nc, image_size,
                                config.width if config.d_width is None else config.d_width)
    init_weights(G)
    init_weights(D)
    G, D = G.to(device), D.to(device)
    betas = (config.beta1, config.beta2)
    return Gan(G, D, torch.optim.Adam(G.parameters(), lr=config.lr, betas=betas),
               torch.optim.Adam(D.parameters(), lr=config.lr, betas=betas))


def describe_run(config: Pix2PixConfig, data: PairedData, per_epoch: int, world_size: int) -> dict:
    """config.json: the settings, the data's shape and the step plan."""
    from msgan_eval.errors import UserError

    if (config.steps is None) == (config.epochs is None):
        raise UserError("give exactly one of --steps N or --epochs N")
    total = config.steps if config.steps is not None else config.epochs * per_epoch
    return {"version": __version__, **asdict(config), **paired_summary(data),
            "world_size": world_size, "steps_per_epoch": per_epoch, "total_steps": int(total)}


def ms_weight_at(config: Pix2PixConfig, step: int) -> float:
    """The mode-seeking weight of step ``step`` (0-based): 0 during the warm-up, then a linear
    ramp over ``ms_ramp`` steps up to ``ms_weight`` (the official code: ``ms_weight`` throughout)."""
    if step < config.ms_warmup:
        return 0.0
    if step < config.ms_warmup + config.ms_ramp:
        return config.ms_weight * (step - config.ms_warmup + 1) / config.ms_ramp
    return config.ms_weight


def lr_factor(step: int, total: int, decay_steps: int) -> float:
    """Official ``lambda_rule`` (networks.py l.46-49, ``--lr_policy lambda``) counted in steps:
    1 until the last ``decay_steps`` steps, then linearly down to 1 / (decay_steps + 1)."""
    if decay_steps <= 0:
        return 1.0
    return 1.0 - max(0, step - (total - decay_steps)) / float(decay_steps + 1)


def _steps_done(opt: torch.optim.Optimizer) -> int:
    """Updates this optimiser has made (Adam counts them per parameter; 0 before the first).
    A resumed run restores the optimiser, so the schedules below continue where they stopped."""
    for state in opt.state.values():
        return int(state["step"])
    return 0


def _make_step(gan: Gan, data: PairedData, config: Pix2PixConfig, dist: Dist) -> Callable:
    total = config.steps if config.steps is not None else \
        config.epochs * steps_per_epoch(len(data), config.batch_size, dist.world_size)

    def step(idx: np.ndarray, z1: torch.Tensor, z2: torch.Tensor) -> Dict[str, float]:
        t = _steps_done(gan.opt_g)
        lr = config.lr * lr_factor(t, total, config.lr_decay_steps)
        for opt in (gan.opt_g, gan.opt_d):
            for group in opt.param_groups:
                group["lr"] = lr
        real_a = batch_to_tensor(data.inputs[idx]).to(dist.device)
        real_b = batch_to_tensor(data.targets[idx]).to(dist.device)
        return train_step(gan, real_a, real_b, z1, z2, ms_weight_at(config, t), config.lambda_l1,
                          config.ms_eps, config.ms_cap)
    return step


@functools.lru_cache(maxsize=2)
def _test_split(dataset: str, data_root: Optional[str]) -> PairedData:
    # Loaded once per process: --eval-every samples the same test inputs at every evaluation.
    return load_paired_data(dataset, data_root, split="test")


def _input_images(G, run: dict, spec, device) -> dict:
    from .pix2pix_sampler import input_images

    test = _test_split(run["dataset"], run.get("data_root"))
    if spec.inputs > len(test):
        from msgan_eval.errors import UserError

        raise UserError(f"--inputs {spec.inputs}: the test split has {len(test)} pairs; ask for fewer")
    return input_images(G, run, spec.inputs, spec.per_input, spec.seed, device, test=test)


def _build_generator(state: dict, path: Path, device):
    from .pix2pix_sampler import build_pix2pix_generator

    return build_pix2pix_generator(state, path, device)


PIX2PIX_TASK = Task(
    load_data=lambda c: load_paired_data(c.dataset, c.data_root, "train", c.subset_per_class,
                                         c.seed),
    describe=describe_run,
    build=lambda c, data, device: build_pix2pix(c, int(data.inputs.shape[1]),
                                                int(data.targets.shape[1]), data.image_size, device),
    make_step=_make_step, build_generator=_build_generator, images=_input_images)


def train_pix2pix(config: Pix2PixConfig, out_dir: "str | os.PathLike[str]", resume: bool = False,
                  quiet: bool = False, device: str = defaults.DEVICE, loop=None) -> Path:
    """Train (or with ``resume`` continue) the image-to-image run in ``out_dir``; ``loop`` as
    for :func:`msgan_eval.train.trainer.train`."""
    return train(config, out_dir, resume=resume, quiet=quiet, device=device, task=PIX2PIX_TASK,
                 loop=loop)


def config_from_run(run_dir: "str | os.PathLike[str]") -> Pix2PixConfig:
    """The Pix2PixConfig stored in a run's config.json (what ``--resume`` starts from)."""
    stored = runs.read_run_config(Path(run_dir), option="--resume")
    names = {f.name for f in fields(Pix2PixConfig)}
    return Pix2PixConfig(**{k: v for k, v in stored.items() if k in names})
