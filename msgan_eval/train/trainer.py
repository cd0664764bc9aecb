"""Training loop of the official MSGAN DCGAN code (``DCGAN-Mode-Seeking/train.py``, ``model.py``).

Every step draws z1, z2 for the same labels, generates both halves in one generator batch, updates
D on (real vs fake1) + (real vs fake2), then G on GAN(fake1) + GAN(fake2) + ms_weight * the mode
seeking loss. ``ms_weight = 0`` is the baseline with the identical two-half schedule.

Determinism: the data order of epoch e is ``DistributedSampler(seed=seed).set_epoch(e)`` and the
noise of step t comes from a generator seeded with (seed, rank, t), so both are functions of the
step alone; a checkpoint therefore holds models, optimisers and the step, and a resumed run ends
with the weights of an uninterrupted one.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Callable, Dict, Optional, Tuple

import numpy as np
import torch

from msgan_eval import __version__, defaults
from msgan_eval.device import resolve_device
from msgan_eval.errors import UserError
from msgan_eval.progress import progress

from . import runs
from .data import TrainData, batch_to_tensor, data_summary, load_training_data
from .loop import LoopHooks, LoopOptions
from .losses import discriminator_loss, generator_loss
from .models import IMAGE_SIZE, Discriminator, Generator, init_weights, one_hot
from .seeding import keyed_generator


@dataclass
class TrainConfig:
    dataset: str = "fashion-mnist"
    data_root: Optional[str] = None
    ms_weight: float = defaults.MS_WEIGHT
    steps: Optional[int] = None            # exactly one of steps / epochs
    epochs: Optional[int] = None
    batch_size: int = defaults.TRAIN_BATCH_SIZE   # per process under torchrun
    width: float = defaults.TRAIN_WIDTH
    seed: int = defaults.SEED
    checkpoint_every: int = defaults.TRAIN_CHECKPOINT_EVERY
    subset_per_class: Optional[int] = None  # train on a seeded balanced subset (quick runs, tests)
    z_dim: int = defaults.Z_DIM
    lr: float = defaults.TRAIN_LR
    beta1: float = defaults.TRAIN_BETAS[0]
    beta2: float = defaults.TRAIN_BETAS[1]
    weight_decay: float = defaults.TRAIN_WEIGHT_DECAY


@dataclass
class Dist:
    rank: int
    world_size: int
    device: torch.device
    owns_group: bool

    @property
    def is_main(self) -> bool:
        return self.rank == 0


@dataclass
class Gan:
    G: torch.nn.Module        # possibly DistributedDataParallel-wrapped
    D: torch.nn.Module
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer


def setup_distributed(device: str) -> Dist:
    """Under torchrun (WORLD_SIZE > 1) join the process group: gloo on CPU, nccl on GPU."""
    from msgan_eval import distributed

    dev = resolve_device(device)
    if not distributed.is_distributed():
        return Dist(0, 1, dev, False)
    if dev.type == "cuda":
        dev = distributed.local_device(torch.device("cuda"))    # cuda:$LOCAL_RANK
        torch.cuda.set_device(dev)
    owns = distributed.init_distributed(backend="nccl" if dev.type == "cuda" else "gloo")
    return Dist(distributed.rank(), distributed.world_size(), dev, owns)


def steps_per_epoch(n_train: int, batch_size: int, world_size: int) -> int:
    """Full batches per epoch and process (the official loop skips the incomplete last batch)."""
    per_epoch = (n_train // world_size) // batch_size
    if per_epoch < 1:
        raise UserError(f"--batch-size {batch_size}: larger than the {n_train // world_size} training "
                        "images each process sees; use a smaller batch")
    return per_epoch


def epoch_order(n_train: int, seed: int, epoch: int, rank: int, world_size: int) -> np.ndarray:
    """This process's example order in ``epoch``: the shard a seeded DistributedSampler gives it."""
    from torch.utils.data import DistributedSampler

    sampler = DistributedSampler(range(n_train), num_replicas=world_size, rank=rank, shuffle=True,
                                 seed=seed, drop_last=True)
    sampler.set_epoch(epoch)
    return np.fromiter(iter(sampler), dtype=np.int64)


def step_noise(seed: int, rank: int, step: int, batch_size: int,
               z_dim: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """z1, z2 ~ N(0, I) for one step, drawn on the CPU from a generator keyed by (seed, rank, step)."""
    z = torch.randn(2, batch_size, z_dim, generator=keyed_generator(seed, rank, step))
    return z[0], z[1]


def build_gan(config: TrainConfig, num_classes: int, channels: int, device: torch.device) -> Gan:
    """Seeded, N(0, 0.02)-initialised G and D with the official Adam settings."""
    torch.manual_seed(config.seed)
    G = Generator(num_classes, channels, config.width, config.z_dim)
    D = Discriminator(num_classes, channels, config.width)
    init_weights(G)
    init_weights(D)
    G, D = G.to(device), D.to(device)
    betas = (config.beta1, config.beta2)
    opt_g = torch.optim.Adam(G.parameters(), lr=config.lr, betas=betas, weight_decay=config.weight_decay)
    opt_d = torch.optim.Adam(D.parameters(), lr=config.lr, betas=betas, weight_decay=config.weight_decay)
    return Gan(G, D, opt_g, opt_d)


def train_step(gan: Gan, real: torch.Tensor, labels: torch.Tensor, z1: torch.Tensor,
               z2: torch.Tensor, ms_weight: float, num_classes: int) -> Dict[str, float]:
    """One D update then one G update (``update_D`` / ``update_G`` of the official model)."""
    onehot = one_hot(labels, num_classes)
    fake = gan.G(torch.cat([z1, z2]), torch.cat([onehot, onehot]))
    fake1, fake2 = torch.split(fake, z1.shape[0])
    gan.opt_d.zero_grad()
    loss_d = discriminator_loss(gan.D, real, fake1, fake2, onehot)
    loss_d.backward()
    gan.opt_d.step()
    gan.opt_g.zero_grad()
    loss_g, loss_gan, loss_ms = generator_loss(gan.D, fake1, fake2, z1, z2, onehot, ms_weight)
    loss_g.backward()
    gan.opt_g.step()
    return {"loss_d": loss_d.item(), "loss_g": loss_g.item(), "loss_g_gan": loss_gan.item(),
            "loss_ms": loss_ms.item()}


_FIELD_TYPES = {"str": (str,), "int": (int,), "float": (int, float)}


def config_from_run(run_dir: "str | os.PathLike[str]") -> TrainConfig:
    """The TrainConfig stored in a run's config.json (what ``--resume`` starts from)."""
    stored = runs.read_run_config(Path(run_dir), option="--resume")
    kept = {}
    for f in fields(TrainConfig):
        if f.name not in stored:
            continue
        value, kinds = stored[f.name], _FIELD_TYPES[str(f.type).replace("Optional[", "").rstrip("]")]
        if not (value is None and "Optional" in str(f.type)) and \
                (isinstance(value, bool) or not isinstance(value, kinds)):
            raise runs.damaged_config(Path(run_dir) / runs.CONFIG_FILE,
                                      f"{f.name} is {value!r}, not a {f.type}")
        kept[f.name] = value
    return TrainConfig(**kept)


def unwrap(module: torch.nn.Module) -> torch.nn.Module:
    return getattr(module, "module", module)


@dataclass(frozen=True)
class Task:
    """What differs between the bundled trainers; everything else (run folder, resume, DDP,
    data order, noise, log, checkpoints, evaluation while training) is shared.
    ``make_step(gan, data, config, dist)`` returns ``step(indices, z1, z2) -> losses``; a task
    with ``build_generator`` and ``images`` can be sampled by ``track`` and ``--eval-every``."""

    load_data: Callable
    describe: Callable        # (config, data, per_epoch, world_size) -> config.json dict
    build: Callable           # (config, data, device) -> Gan
    make_step: Callable
    build_generator: Optional[Callable] = None   # (state, path, device) -> G in eval mode
    images: Optional[Callable] = None            # (G, run, SampleSpec, device) -> {cond: uint8 NHWC}


def train(config: TrainConfig, out_dir: "str | os.PathLike[str]", resume: bool = False,
          quiet: bool = False, device: str = defaults.DEVICE, task: Optional[Task] = None,
          loop: Optional[LoopOptions] = None) -> Path:
    """Train (or with ``resume`` continue) the run in ``out_dir``; returns ``out_dir``.
    ``loop``: checkpoints kept, evaluation while training, TensorBoard (``train/loop.py``)."""
    out_dir = Path(out_dir)
    dist = setup_distributed(device)
    try:
        _train(task or DCGAN_TASK, config, out_dir, resume, quiet or not dist.is_main, dist, loop)
    finally:
        if dist.owns_group:
            torch.distributed.destroy_process_group()
    return out_dir


def _train(task: Task, config, out_dir: Path, resume: bool, quiet: bool, dist: Dist,
           loop: Optional[LoopOptions]) -> None:
    checkpoint, stored = None, {}
    if resume:
        stored = runs.read_run_config(out_dir, option="--resume")
        runs.check_same_dataset(out_dir, stored, config.dataset)
        if config.steps is None and config.epochs is None:
            config.steps, config.epochs = stored.get("steps"), stored.get("epochs")
        # A run killed before its first checkpoint restarts from step 0 with its stored settings.
        if runs.has_checkpoint(out_dir):
            checkpoint = runs.load_checkpoint(out_dir)
    else:
        runs.check_fresh_run_dir(out_dir)
    data = task.load_data(config)
    per_epoch = steps_per_epoch(len(data), config.batch_size, dist.world_size)
    description = task.describe(config, data, per_epoch, dist.world_size)
    if resume:
        runs.check_same_experiment(out_dir, stored, description)
    gan = task.build(config, data, dist.device)
    start = _restore(gan, checkpoint, description["total_steps"], out_dir)
    loop = loop or LoopOptions.from_dict(stored.get("loop"))     # a resumed run keeps its own
    state = lambda step: _checkpoint_state(gan, step, description)      # noqa: E731
    hooks = LoopHooks(task, loop, out_dir, description, dist, start, resume, quiet, state(start))
    description["loop"] = loop.to_dict()
    if dist.world_size > 1:
        torch.distributed.barrier()   # every rank has checked the folder before rank 0 writes
        gan = _wrap_ddp(gan, dist)
    if dist.is_main:
        runs.write_run_config(out_dir, description)
        runs.truncate_log(out_dir, start)
        hooks.begin(state(start))
    try:
        run_steps(len(data), config, dist, out_dir, start, description, quiet,
                  task.make_step(gan, data, config, dist), state, hooks)
        if dist.is_main:
            hooks.finish()
    finally:
        hooks.close()


def describe_run(config: TrainConfig, data: TrainData, per_epoch: int, world_size: int) -> dict:
    """config.json: the settings, the data's classes and the step plan."""
    if (config.steps is None) == (config.epochs is None):
        raise UserError("give exactly one of --steps N or --epochs N")
    total = config.steps if config.steps is not None else config.epochs * per_epoch
    return {"version": __version__, **asdict(config), **data_summary(data),
            "image_size": IMAGE_SIZE, "world_size": world_size, "steps_per_epoch": per_epoch,
            "total_steps": int(total)}


def _restore(gan: Gan, checkpoint: Optional[dict], total: int, out_dir: Path) -> int:
    if checkpoint is None:
        return 0
    path = out_dir / runs.CHECKPOINT_FILE
    for module, key in ((gan.G, "generator"), (gan.D, "discriminator"), (gan.opt_g, "opt_g"),
                        (gan.opt_d, "opt_d")):
        runs.load_state(path, module, checkpoint[key], key)
    step = int(checkpoint["step"])
    if step > total:
        raise UserError(f"--resume {out_dir}: the checkpoint is at step {step}, past the {total} "
                        "steps asked for; ask for more --steps or --epochs")
    return step


def _wrap_ddp(gan: Gan, dist: Dist) -> Gan:
    ids = [dist.device.index] if dist.device.type == "cuda" else None
    return Gan(_ddp(gan.G, ids), _ddp(gan.D, ids), gan.opt_g, gan.opt_d)


def _ddp(module: torch.nn.Module, device_ids) -> torch.nn.Module:
    # D runs several forwards before one backward (as in the official loop), so batch-norm
    # buffers stay per process rather than being re-broadcast inside that graph; rank 0's are saved.
    from torch.nn.parallel import DistributedDataParallel as DDP

    try:
        return DDP(module, device_ids=device_ids, forward_sync_buffers=False)
    except TypeError:   # torch releases before forward_sync_buffers
        return DDP(module, device_ids=device_ids, broadcast_buffers=False)


def _checkpoint_state(gan: Gan, step: int, description: dict) -> dict:
    return {"step": step, "run": description,
            "generator": unwrap(gan.G).state_dict(), "discriminator": unwrap(gan.D).state_dict(),
            "opt_g": gan.opt_g.state_dict(), "opt_d": gan.opt_d.state_dict()}


def _batch(data: TrainData, idx: np.ndarray, device: torch.device):
    real = batch_to_tensor(data.images[idx]).to(device)
    return real, torch.from_numpy(data.labels[idx]).to(device)


def _dcgan_step(gan: Gan, data: TrainData, config: TrainConfig, dist: Dist) -> Callable:
    num_classes = len(data.class_names)

    def step(idx: np.ndarray, z1: torch.Tensor, z2: torch.Tensor) -> Dict[str, float]:
        real, labels = _batch(data, idx, dist.device)
        return train_step(gan, real, labels, z1, z2, config.ms_weight, num_classes)
    return step


def run_steps(n_train: int, config, dist: Dist, out_dir: Path, start: int, description: dict,
              quiet: bool, step_fn: Callable, checkpoint_state: Callable[[int], dict],
              hooks: Optional[LoopHooks] = None) -> None:
    """Steps ``start`` .. total: this rank's batch indices and the step's noise go to ``step_fn``;
    its losses are logged, and every ``checkpoint_every`` steps (and every step ``hooks``
    evaluates) rank 0 saves a checkpoint, then hands it to ``hooks`` (snapshot, evaluation)."""
    total, per_epoch = description["total_steps"], description["steps_per_epoch"]
    bsz = config.batch_size
    log = runs.LossLog(out_dir if dist.is_main else None)
    bar = progress(total=total, desc=f"train {out_dir.name}", quiet=quiet, unit="step")
    bar.update(start)
    order_epoch, order = -1, None
    try:
        for step in range(start, total):
            epoch, pos = divmod(step, per_epoch)
            if epoch != order_epoch:
                order_epoch, order = epoch, epoch_order(n_train, config.seed, epoch, dist.rank,
                                                        dist.world_size)
            z1, z2 = step_noise(config.seed, dist.rank, step, bsz, config.z_dim)
            losses = step_fn(order[pos * bsz:(pos + 1) * bsz], z1.to(dist.device),
                             z2.to(dist.device))
            log.write({"step": step + 1, "epoch": epoch, **losses})
            bar.update(1)
            bar.set_postfix({k[5:]: f"{v:.3f}" for k, v in losses.items()}, refresh=False)
            due = hooks is not None and hooks.due(step + 1)
            if (step + 1) % config.checkpoint_every == 0 or step + 1 == total or due:
                log.flush()
                if dist.is_main:
                    state = checkpoint_state(step + 1)
                    runs.save_checkpoint(out_dir, state)
                    if hooks is not None:
                        hooks.saved(state)
            if hooks is not None and dist.is_main:
                hooks.losses(step + 1, losses)
    finally:
        log.close()
        bar.close()


def _class_images(G, run: dict, spec, device) -> dict:
    from .sampler import class_images

    return class_images(G, run, spec.per_class, spec.seed, device)


def _build_generator(state: dict, path: Path, device):
    from .sampler import build_generator

    return build_generator(state, path, device)


DCGAN_TASK = Task(
    load_data=lambda c: load_training_data(c.dataset, c.data_root, c.subset_per_class, c.seed),
    describe=lambda c, data, per_epoch, world: describe_run(c, data, per_epoch, world),
    build=lambda c, data, device: build_gan(c, len(data.class_names), data.channels, device),
    make_step=lambda gan, data, c, dist: _dcgan_step(gan, data, c, dist),
    build_generator=_build_generator, images=_class_images)
