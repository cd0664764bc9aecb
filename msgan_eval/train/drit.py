"""DRIT and its mode-seeking twin (HelenMao/MSGAN ``DRIT-Mode-Seeking``: ``train.py``,
``model.py``), unpaired image-to-image translation, as a ``trainer.Task``.

One step is one batch of the official loop (``train.py:38-52``, its ``it``): of every ``d_iter``
(3) steps the first two update the content discriminator alone (``update_D_content``), the third
runs the whole forward pass and updates the four domain discriminators, the content
discriminator (``update_D``), then the encoders and the generator (``update_EG``); the last two
batches of an epoch always get the full update, as ``it < len(train_loader) - 2`` has it.

``ms_weight > 0`` is MSGAN: a second random attribute code, the second discriminators see both
random-code outputs, and ``ms_weight`` x the mode-seeking terms of both directions join
``backward_G_alone`` (the official weight is 1). ``ms_weight == 0`` is DRIT itself, the authors'
``--no_ms`` switch of HsinYingLee/DRIT (``src/model.py``): one random code and no mode-seeking
term, so the baseline is the paper's baseline rather than MSGAN's schedule with a zero weight.

One change from the official order, forced by PyTorch: ``update_EG`` steps the encoders and
generator, then back-propagates ``backward_G_alone`` through the graph built before that step.
PyTorch 0.4 allowed it (its optimisers wrote ``p.data``, unseen by autograd's version counters);
PyTorch >= 1.5 refuses it (HsinYingLee/DRIT#62). Here the gradients of ``backward_G_alone`` are
taken from the same graph *before* the first step and applied after it: the same update up to
the first-order effect of one step on the weights the old backward read.

Every random draw of step ``t`` comes from a generator keyed (seed, rank, t), and partners of the
smaller domain from one keyed (seed, rank, t, 1); the step counter is a buffer of the
discriminators, so a resumed run ends with the weights of an uninterrupted one. DRIT trains in
one process (several networks updated in turn do not fit DistributedDataParallel's one-forward
contract).
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Callable, Dict, Optional

import numpy as np
import torch
from torch import nn

from msgan_eval import __version__, defaults
from msgan_eval.errors import UserError

from . import UNPAIRED, runs
from .data import batch_to_tensor
from .drit_losses import (
    content_step,
    discriminator_steps,
    encoder_generator_loss,
    forward,
    random_code_loss,
)
from .drit_models import (
    NZ,
    DisContent,
    EAttrConcat,
    EContent,
    GConcat,
    MultiScaleDis,
    dis_layers,
    gaussian_weights_init,
)
from .optimizers import OptimizerGroup
from .seeding import keyed_generator
from .trainer import Dist, Gan, Task, train
from .unpaired_data import UnpairedData, load_unpaired_data, unpaired_summary

CONTENT_LR_DIVISOR = 2.5     # model.py:11 lr_dcontent = lr / 2.5
CONTENT_CLIP = 5.0           # model.py:203, 241


@dataclass
class DritConfig:
    dataset: str = "fashion-mnist-tints"
    data_root: Optional[str] = None
    ms_weight: float = defaults.MS_WEIGHT
    steps: Optional[int] = None            # exactly one of steps / epochs
    epochs: Optional[int] = None
    batch_size: int = defaults.DRIT_BATCH_SIZE
    width: float = defaults.DRIT_WIDTH
    seed: int = defaults.SEED
    checkpoint_every: int = defaults.TRAIN_CHECKPOINT_EVERY
    subset_per_class: Optional[int] = None
    z_dim: int = NZ
    lr: float = defaults.DRIT_LR
    beta1: float = defaults.DRIT_BETAS[0]
    beta2: float = defaults.DRIT_BETAS[1]
    weight_decay: float = defaults.DRIT_WEIGHT_DECAY
    d_iter: int = defaults.DRIT_D_ITER
    task: str = UNPAIRED
    model: str = "drit"


class DritGenerators(nn.Module):
    """What a trained run is sampled with: the two encoders and the generator."""

    def __init__(self, input_dim_a: int, input_dim_b: int, width: float):
        super().__init__()
        self.enc_c = EContent(input_dim_a, input_dim_b, width)
        self.enc_a = EAttrConcat(input_dim_a, input_dim_b, NZ, width)
        self.gen = GConcat(input_dim_a, input_dim_b, NZ, width)

    @torch.no_grad()
    def translate_a2b(self, image_a: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """``test_forward(a2b=True)`` (model.py:91-99): A's content with attribute codes ``z``."""
        return self.gen.forward_b(self.enc_c.forward_a(image_a), z)


class DritDiscriminators(nn.Module):
    """The four domain discriminators, the content discriminator and the step counter."""

    def __init__(self, input_dim_a: int, input_dim_b: int, image_size: int, width: float,
                 content_channels: int):
        super().__init__()
        n_layer = dis_layers(image_size)
        for name, dim in (("disA", input_dim_a), ("disB", input_dim_b), ("disA2", input_dim_a),
                          ("disB2", input_dim_b)):
            setattr(self, name, MultiScaleDis(dim, n_layer, width=width))
        self.disContent = DisContent(content_channels, image_size // 4)
        self.register_buffer("iterations", torch.zeros((), dtype=torch.int64))


def build_drit(config: DritConfig, input_dim_a: int, input_dim_b: int, image_size: int,
               device: torch.device) -> Gan:
    """Seeded networks, N(0, 0.02) convolutions (``initialize``, model.py:55-63), and the
    official Adam settings (model.py:43-50)."""
    torch.manual_seed(config.seed)
    G = DritGenerators(input_dim_a, input_dim_b, config.width)
    D = DritDiscriminators(input_dim_a, input_dim_b, image_size, config.width, G.enc_c.out_channels)
    G.apply(gaussian_weights_init)
    D.apply(gaussian_weights_init)
    G, D = G.to(device), D.to(device)

    def adam(module, lr):
        return torch.optim.Adam(module.parameters(), lr=lr, betas=(config.beta1, config.beta2),
                                weight_decay=config.weight_decay)
    opt_d = {name: adam(getattr(D, name), config.lr) for name in ("disA", "disB", "disA2", "disB2")}
    opt_d["disContent"] = adam(D.disContent, config.lr / CONTENT_LR_DIVISOR)
    opt_g = {name: adam(getattr(G, name), config.lr) for name in ("enc_c", "enc_a", "gen")}
    return Gan(G, D, OptimizerGroup(opt_g), OptimizerGroup(opt_d))


def update_encoders_generator(gan: Gan, f, ms_weight: float) -> Dict[str, float]:
    """``update_EG`` (model.py:273-288): the encoders and generator step on ``backward_EG``, then
    the content encoder and generator on ``backward_G_alone`` (gradients taken before the first
    step: see the module docstring). The attribute encoder's share of the second loss is dropped,
    as the official never steps ``enc_a`` after it."""
    G, D, opts = gan.G, gan.D, gan.opt_g
    loss_eg, eg_parts = encoder_generator_loss(D, f)
    loss_alone, alone_parts = random_code_loss(D, f, ms_weight)
    second = [*G.enc_c.parameters(), *G.gen.parameters()]
    grads = torch.autograd.grad(loss_alone, second, retain_graph=True, allow_unused=True)
    for name in ("enc_c", "enc_a", "gen"):
        opts[name].zero_grad()
    loss_eg.backward()
    for name in ("enc_c", "enc_a", "gen"):
        opts[name].step()
    for p, g in zip(second, grads):       # zero_grad then backward_G_alone (model.py:284-286)
        p.grad = torch.zeros_like(p) if g is None else g
    opts["enc_c"].step()
    opts["gen"].step()
    losses = {"loss_g": loss_eg.item(), "loss_g_random": loss_alone.item()}
    losses.update({f"loss_{k}": v.item() for k, v in {**eg_parts, **alone_parts}.items()})
    return losses


def full_step(gan: Gan, real_a: torch.Tensor, real_b: torch.Tensor, generator: torch.Generator,
              ms_weight: float) -> Dict[str, float]:
    """``update_D`` then ``update_EG`` on one batch (train.py:51-52)."""
    f = forward(gan.G, real_a, real_b, generator, ms=ms_weight > 0)
    losses = discriminator_steps(gan.D, gan.opt_d, f, CONTENT_CLIP)
    losses.update(update_encoders_generator(gan, f, ms_weight))
    return losses


def content_only_step(gan: Gan, real_a: torch.Tensor, real_b: torch.Tensor,
                      generator: torch.Generator) -> Dict[str, float]:
    """``update_D_content`` (model.py:189-204): the content discriminator alone, on the content
    codes of the batch's first half (no gradient reaches the encoder: the codes are detached)."""
    half = real_a.size(0) // 2
    with torch.no_grad():
        z_a, z_b = gan.G.enc_c(real_a[:half], real_b[:half], generator)
    return {"loss_dis_content": content_step(gan.D, gan.opt_d, z_a, z_b, CONTENT_CLIP)}


def is_full_update(position: int, loader_batches: int, d_iter: int) -> bool:
    """train.py:47: batch ``position`` of an epoch gets the full update when it is every
    ``d_iter``-th, or one of the epoch's last two batches."""
    return (position + 1) % d_iter == 0 or position >= loader_batches - 2


def _make_step(gan: Gan, data: UnpairedData, config: DritConfig, dist: Dist) -> Callable:
    per_epoch = len(data) // config.batch_size
    loader_batches = -(-len(data) // config.batch_size)     # the loader keeps the short last batch

    def step(idx: np.ndarray, z1: torch.Tensor, z2: torch.Tensor) -> Dict[str, float]:
        t = int(gan.D.iterations)
        partners = np.random.default_rng([config.seed, dist.rank, t, 1])
        a, b = data.batch(idx, partners)
        real_a, real_b = batch_to_tensor(a).to(dist.device), batch_to_tensor(b).to(dist.device)
        generator = keyed_generator(config.seed, dist.rank, t)
        if is_full_update(t % per_epoch, loader_batches, config.d_iter):
            losses = full_step(gan, real_a, real_b, generator, config.ms_weight)
        else:
            losses = content_only_step(gan, real_a, real_b, generator)
        gan.D.iterations += 1
        return losses
    return step


def describe_run(config: DritConfig, data: UnpairedData, per_epoch: int, world_size: int) -> dict:
    """config.json: the settings, the data's shape and the step plan."""
    if (config.steps is None) == (config.epochs is None):
        raise UserError("give exactly one of --steps N or --epochs N")
    if world_size > 1:
        raise UserError("--model drit trains in one process; run it without torchrun")
    if config.batch_size < 2:
        raise UserError(f"--batch-size {config.batch_size}: DRIT splits each batch in two halves "
                        "(the official batch is 2); use 2 or more")
    if config.d_iter < 1:
        raise UserError(f"d_iter {config.d_iter}: must be at least 1")
    total = config.steps if config.steps is not None else config.epochs * per_epoch
    return {"version": __version__, **asdict(config), **unpaired_summary(data),
            "world_size": world_size, "steps_per_epoch": per_epoch, "total_steps": int(total)}


def _build_generator(state: dict, path: Path, device):
    from .drit_sampler import build_drit_generators

    return build_drit_generators(state, path, device)


def _input_images(G, run: dict, spec, device) -> dict:
    from .drit_sampler import input_images

    return input_images(G, run, spec.inputs, spec.per_input, spec.seed, device)


DRIT_TASK = Task(
    load_data=lambda c: load_unpaired_data(c.dataset, c.data_root, "train", c.subset_per_class,
                                           c.seed),
    describe=describe_run,
    build=lambda c, data, device: build_drit(c, int(data.a.shape[1]), int(data.b.shape[1]),
                                             data.image_size, device),
    make_step=_make_step, build_generator=_build_generator, images=_input_images)


def train_drit(config: DritConfig, out_dir: "str | os.PathLike[str]", resume: bool = False,
               quiet: bool = False, device: str = defaults.DEVICE, loop=None) -> Path:
    """Train (or with ``resume`` continue) the unpaired run in ``out_dir``; ``loop`` as for
    :func:`msgan_eval.train.trainer.train` (kept checkpoints, evaluation while training)."""
    return train(config, out_dir, resume=resume, quiet=quiet, device=device, task=DRIT_TASK,
                 loop=loop)


def config_from_run(run_dir: "str | os.PathLike[str]") -> DritConfig:
    """The DritConfig stored in a run's config.json (what ``--resume`` starts from)."""
    stored = runs.read_run_config(Path(run_dir), option="--resume")
    names = {f.name for f in fields(DritConfig)}
    return DritConfig(**{k: v for k, v in stored.items() if k in names})
