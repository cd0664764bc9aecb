"""PacGAN's 2D experiment (Table 1): GAN, PacGAN-m and their mode-seeking twins on the ring or
grid, all trials of an arm trained as one batched model (``toy2d_models``).

The setup of ``synthetic_data_experiments/2DRing_GAN&PacGAN/`` (fjxmlzn/PacGAN 190853e; ``RING/``,
``LIB/`` = ``PacGAN/pacgan/``), read in /work/shared/refs/modes-protocol.md:
- data: 100,000 points per run from the mixture (``config.py`` l.30), packed as m bootstrap
  resamplings side by side (``LIB/datasets.py`` l.73-83), batches of 100 in a fresh shuffle each
  epoch (``LIB/streams.py`` l.31), 400 epochs (``config.py`` l.15);
- z ~ N(0, I_2) (l.33-36), one generator call per packed sample (``LIB/bricks.py`` l.63-67), the
  m outputs concatenated along the feature axis, D on real and packed fake rows;
- losses ``softplus(-D(x)) + softplus(D(x~))`` / ``softplus(D(x)) + softplus(-D(x~))``
  (``LIB/bricks.py`` l.69-72), D and G updated **simultaneously** (gradients at the same point,
  ALI ``ali/algorithms.py`` l.28-43) with Blocks' Adam lr 1e-4, beta1 0.8 (``config.py`` l.23-24);
- batch-norm population statistics: updated every step (``pacgan_task.py`` l.127-149) and, as the
  training monitor does with ``updates=bn_updates`` (l.178-180; Blocks' DataStreamMonitoring runs
  before the first epoch and after every epoch), over 50 more batches of 100 codes at those times.

The mode-seeking arm (``ms_weight > 0``) adds one more generator call z' per step, not seen by D,
and the MSGAN term ``mode_seeking_loss(G(z_1), G(z'), z_1, z')`` (``losses.py``) to each trial's
generator loss; ``ms_weight == 0`` is PacGAN's step exactly (no extra call).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable, Dict, Optional

import numpy as np
import torch
import torch.nn.functional as F

from msgan_eval import __version__, defaults
from msgan_eval.errors import UserError
from msgan_eval.metrics.modes import mixture

from .losses import mode_seeking_loss
from .seeding import keyed_generator
from .toy2d_models import BlocksAdam, Generator2D, MaxoutDiscriminator

TASK_NAME = "toy2d"
DATASETS_2D = ("ring", "grid")
EVAL_SEED = 2333      # LIB/extensions.py l.52-54: the 2500 evaluation codes come from MRG(2333)
EVAL_SAMPLES = 2500   # config.py l.32


@dataclass
class Toy2DConfig:
    dataset: str = "ring"
    ms_weight: float = 0.0
    pack: int = 1
    trials: int = 10
    steps: Optional[int] = None            # exactly one of steps / epochs
    epochs: Optional[int] = None
    batch_size: int = 100
    n_train: int = 100_000
    width: float = 1.0                     # multiplies the hidden sizes (1.0 = 400 / 200)
    seed: int = defaults.SEED
    checkpoint_every: int = defaults.TRAIN_CHECKPOINT_EVERY
    lr: float = 1e-4
    beta1: float = 0.8
    beta2: float = 0.999
    latent: int = 2
    g_hidden: int = 400
    g_layers: int = 4
    d_hidden: int = 200
    d_layers: int = 3
    d_pieces: int = 5
    init_std: float = 0.02
    g_batchnorm: bool = True               # False: Linear + bias + ReLU (unrolled-GAN's G)
    d_activation: str = "maxout"           # or "relu" (unrolled-GAN's D)
    bn_refresh_batches: int = 50           # the monitor's ShuffledScheme(5000, 100), streams.py l.33
    task: str = TASK_NAME

    @property
    def groups(self) -> int:
        """Generator calls per step and trial: the m packed ones, plus z' for the MS term."""
        return self.pack + (1 if self.ms_weight > 0 else 0)

    @property
    def z_dim(self) -> int:
        # The trainer loop draws one (batch, z_dim) noise matrix per step, keyed by the step.
        return self.trials * self.groups * self.latent

    def hidden(self, base: int) -> int:
        return max(1, int(round(base * self.width)))


class Toy2DData:
    """Per trial: ``n_train`` mixture points and m bootstrap index rows (the packed dataset)."""

    def __init__(self, config: Toy2DConfig, device: torch.device = torch.device("cpu")):
        check_config(config)
        mix = mixture(config.dataset)
        t, n, m = config.trials, config.n_train, config.pack
        points = np.empty((t, n, 2), dtype=np.float32)
        boot = np.empty((t, m, n), dtype=np.int64)
        for trial in range(t):
            rng = np.random.default_rng([config.seed, trial, 2])
            k = rng.integers(0, mix.modes_total, n)           # uniform priors (config.py l.29)
            points[trial] = mix.centres[k] + rng.standard_normal((n, 2)) * mix.sigma
            boot[trial] = rng.integers(0, n, (m, n))           # LIB/datasets.py l.74
        self.points = torch.from_numpy(points).to(device)
        self.boot = torch.from_numpy(boot).to(device)
        self.device = device
        self.class_names = (config.dataset,)

    def __len__(self) -> int:
        return self.points.shape[1]

    def to(self, device: torch.device) -> "Toy2DData":
        self.points, self.boot, self.device = self.points.to(device), self.boot.to(device), device
        return self

    def batch(self, idx: np.ndarray) -> torch.Tensor:
        """Packed real rows (T, B, 2 m): slot j of row i is point ``boot[j, idx[i]]``."""
        rows = self.boot[:, :, torch.from_numpy(idx).to(self.device)]          # (T, m, B)
        t = torch.arange(rows.shape[0], device=self.device)[:, None, None]
        x = self.points[t, rows]                                                 # (T, m, B, 2)
        return x.permute(0, 2, 1, 3).reshape(x.shape[0], x.shape[2], -1)


def check_config(config: Toy2DConfig) -> None:
    if config.dataset not in DATASETS_2D:
        raise UserError(f"--dataset {config.dataset}: the 2D trainer runs ring or grid")
    for name in ("pack", "trials", "batch_size", "n_train", "latent", "g_layers", "d_layers"):
        if getattr(config, name) < 1:
            raise UserError(f"--{name.replace('_', '-')} {getattr(config, name)}: use at least 1")
    if config.d_activation not in ("maxout", "relu"):
        raise UserError(f"d_activation {config.d_activation!r}: use maxout or relu")
    if config.d_activation == "maxout" and config.d_pieces < 2:
        raise UserError(f"d_pieces {config.d_pieces}: a maxout layer needs at least 2 pieces")
    if config.n_train < config.batch_size:
        raise UserError(f"--batch-size {config.batch_size}: larger than the {config.n_train} "
                        "training points")


def build_toy2d(config: Toy2DConfig, data, device: torch.device):
    from .trainer import Gan

    check_config(config)
    gen = keyed_generator(config.seed, 1)
    G = Generator2D(config.trials, config.latent, config.hidden(config.g_hidden), config.g_layers,
                    config.init_std, gen, batchnorm=config.g_batchnorm)
    D = MaxoutDiscriminator(config.trials, 2 * config.pack, config.hidden(config.d_hidden),
                            config.d_layers, config.d_pieces, config.init_std, gen,
                            relu=config.d_activation == "relu")
    G, D = G.to(device), D.to(device)
    # One Blocks Adam for both nets in PacGAN (pacgan_task.py l.157-158); it is per-parameter, so
    # two instances with the same settings are the same optimiser.
    opts = [BlocksAdam(net.parameters(), config.lr, config.beta1, config.beta2) for net in (G, D)]
    return Gan(G, D, opts[0], opts[1])


def describe_toy2d(config: Toy2DConfig, data, per_epoch: int, world_size: int) -> dict:
    if world_size != 1:
        raise UserError("the 2D trainer runs its trials batched in one process; run it without "
                        "torchrun")
    if (config.steps is None) == (config.epochs is None):
        raise UserError("give exactly one of --steps N or --epochs N")
    total = config.steps if config.steps is not None else config.epochs * per_epoch
    return {"version": __version__, **asdict(config), "class_names": list(data.class_names),
            "n_train_points": len(data), "world_size": 1, "steps_per_epoch": per_epoch,
            "total_steps": int(total)}


@torch.no_grad()
def refresh_population(G: Generator2D, config: Toy2DConfig, device, *key: int) -> None:
    """The training monitor's batch-norm updates: ``bn_refresh_batches`` batches of the m packed
    generator calls, each followed by the population update (see the module docstring)."""
    gen = keyed_generator(config.seed, *key)
    for _ in range(config.bn_refresh_batches if G.batchnorm else 0):
        z = torch.randn(config.trials, config.pack, config.batch_size, config.latent, generator=gen)
        _, stats = G(z.to(device), train=True)
        G.update_population(stats, config.pack)


def split_noise(z1: torch.Tensor, config: Toy2DConfig) -> torch.Tensor:
    """The step's (B, z_dim) noise as (T, groups, B, latent) codes."""
    b = z1.shape[0]
    return z1.view(b, config.trials, config.groups, config.latent).permute(1, 2, 0, 3)


def losses_of(gan, real: torch.Tensor, z: torch.Tensor, config: Toy2DConfig):
    """Per-trial (loss_d, loss_g, ms) and the batch statistics of one forward pass."""
    m, b = config.pack, real.shape[1]
    fake, stats = gan.G(z, train=True)
    packed = fake[:, :m].permute(0, 2, 1, 3).reshape(fake.shape[0], b, 2 * m)
    logits = gan.D(torch.cat([real, packed], dim=1))          # LIB/bricks.py l.46-48
    d_real, d_fake = logits[:, :b, 0], logits[:, b:, 0]
    loss_d = (F.softplus(-d_real) + F.softplus(d_fake)).mean(dim=1)
    loss_g = (F.softplus(d_real) + F.softplus(-d_fake)).mean(dim=1)
    ms = None
    if config.ms_weight > 0:
        ms = torch.func.vmap(mode_seeking_loss)(fake[:, 0], fake[:, m], z[:, 0], z[:, m])
    return loss_d, loss_g, ms, stats


def make_toy2d_step(gan, data: Toy2DData, config: Toy2DConfig, dist) -> Callable:
    per_epoch = len(data) // config.batch_size
    data.to(dist.device)
    d_params, g_params = list(gan.D.parameters()), list(gan.G.parameters())

    def step(idx: np.ndarray, z1: torch.Tensor, z2: torch.Tensor) -> Dict[str, float]:
        G = gan.G
        if int(G.steps_done) == 0:
            refresh_population(G, config, dist.device, 3, 0)     # before_first_epoch
        loss_d, loss_g, ms, stats = losses_of(gan, data.batch(idx), split_noise(z1, config), config)
        total_g = loss_g.sum() + (config.ms_weight * ms.sum() if ms is not None else 0.0)
        grads_d = torch.autograd.grad(loss_d.sum(), d_params, retain_graph=True)
        grads_g = torch.autograd.grad(total_g, g_params)
        for params, grads in ((d_params, grads_d), (g_params, grads_g)):
            for p, g in zip(params, grads):
                p.grad = g
        gan.opt_d.step()
        gan.opt_g.step()
        if stats is not None:
            G.update_population(stats, config.pack)
        G.steps_done += 1
        if int(G.steps_done) % per_epoch == 0:
            refresh_population(G, config, dist.device, 3, int(G.steps_done) // per_epoch)
        out = {"loss_d": float(loss_d.detach().mean()), "loss_g": float(loss_g.detach().mean())}
        if ms is not None:
            out["loss_ms"] = float(ms.detach().mean())
        return out
    return step


@torch.no_grad()
def generate_points(G: Generator2D, n: int = EVAL_SAMPLES, seed: int = EVAL_SEED) -> np.ndarray:
    """(T, n, 2) samples of every trial from the same fixed codes, with the population batch-norm
    statistics (PacGAN's GraphLogger applies the decoder outside the training context, l.71-73)."""
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(n, G.weights[0].shape[1], generator=gen)
    trials = G.weights[0].shape[0]
    device = G.weights[0].device
    x, _ = G(z.to(device).expand(trials, 1, n, -1).contiguous(), train=False)
    return x[:, 0].double().cpu().numpy()
