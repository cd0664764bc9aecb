"""PacGAN's stacked-digit experiment (Table 2): DCGAN, PacDCGAN-m and their mode-seeking twins.

Step (``stacked_MNIST_experiments/VEEGAN_experiment/model.py`` l.185-212, l.110-133): m codes
z ~ U[-1, 1]^100 per row (l.193), m generator calls whose 28 x 28 x 3 outputs are concatenated
along channels (l.111-113); D on the real batch and on the packed fake batch, separately (l.114,
l.116); sigmoid cross-entropy, non-saturating G loss (l.128-133); per batch one D update then
**two** G updates on the same codes (l.195-212); Adam lr 2e-4, beta1 0.5 (``config.py`` l.10-11),
batch 64 (l.13), 50 epochs (l.9) of 128,000 items. TF's Adam puts epsilon outside the bias
correction as Blocks' does, so ``BlocksAdam`` is that optimiser too.

The mode-seeking arm adds one generator call z' per G update, not seen by D, and
``ms_weight * mode_seeking_loss(G(z_1), G(z'), z_1, z')`` to the G loss.

Evaluation (``log_metrics``, l.246-276): 26,000 fixed codes through the generator with BN in
inference mode (``sampler``, l.332-359), each channel labelled by the digit classifier.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Dict, Optional

import numpy as np
import torch
import torch.nn.functional as F

from msgan_eval import __version__, defaults
from msgan_eval.errors import UserError

from . import runs
from .losses import mode_seeking_loss
from .seeding import keyed_generator
from .stacked_data import STACKED_DATASETS, StackedData
from .stacked_models import Z_DIM, StackedDiscriminator, StackedGenerator, init_stacked
from .toy2d_models import BlocksAdam
from .trainer import Gan, Task, train

TASK_NAME = "stacked"
EVAL_SAMPLES = 26000      # VEEGAN_experiment/config.py l.20


@dataclass
class StackedConfig:
    dataset: str = "stacked-fashion-mnist"
    data_root: Optional[str] = None
    ms_weight: float = 0.0
    pack: int = 1
    steps: Optional[int] = None
    epochs: Optional[int] = None
    batch_size: int = 64
    n_items: int = 128_000
    width: float = 1.0
    seed: int = defaults.SEED
    checkpoint_every: int = defaults.TRAIN_CHECKPOINT_EVERY
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    g_updates: int = 2
    task: str = TASK_NAME

    @property
    def groups(self) -> int:
        return self.pack + (1 if self.ms_weight > 0 else 0)

    @property
    def z_dim(self) -> int:
        return self.groups * Z_DIM


def uniform_codes(normal: torch.Tensor) -> torch.Tensor:
    """U[-1, 1] codes from the trainer loop's N(0, 1) noise: ``2 Phi(x) - 1`` is exactly uniform."""
    return torch.special.ndtr(normal) * 2 - 1


def build_stacked(config: StackedConfig, data, device: torch.device) -> Gan:
    if config.dataset not in STACKED_DATASETS or config.pack < 1 or config.g_updates < 1:
        raise UserError(f"--dataset {config.dataset} / --pack {config.pack}: not a stacked run")
    gen = keyed_generator(config.seed, 1)
    G, D = StackedGenerator(config.width), StackedDiscriminator(config.pack, config.width)
    init_stacked(G, gen)
    init_stacked(D, gen)
    G, D = G.to(device), D.to(device)
    return Gan(G, D, BlocksAdam(G.parameters(), config.lr, config.beta1, config.beta2),
               BlocksAdam(D.parameters(), config.lr, config.beta1, config.beta2))


def describe_stacked(config: StackedConfig, data, per_epoch: int, world_size: int) -> dict:
    if world_size != 1:
        raise UserError("the stacked trainer runs in one process; run it without torchrun")
    if (config.steps is None) == (config.epochs is None):
        raise UserError("give exactly one of --steps N or --epochs N")
    total = config.steps if config.steps is not None else config.epochs * per_epoch
    return {"version": __version__, **asdict(config), "class_names": list(data.class_names),
            "world_size": 1, "steps_per_epoch": per_epoch, "total_steps": int(total)}


def _bce(logits: torch.Tensor, target: float) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


def make_stacked_step(gan: Gan, data: StackedData, config: StackedConfig, dist) -> Callable:
    m = config.pack

    def generate(z):
        fakes = [gan.G(z[j]) for j in range(config.groups)]     # one call per code batch
        return torch.cat(fakes[:m], dim=1), fakes

    def step(idx: np.ndarray, z1: torch.Tensor, z2: torch.Tensor) -> Dict[str, float]:
        real = data.batch(idx).to(dist.device)
        z = uniform_codes(z1).view(len(idx), config.groups, Z_DIM).transpose(0, 1)
        packed, _ = generate(z)
        gan.opt_d.zero_grad()
        loss_d = _bce(gan.D(real), 1.0) + _bce(gan.D(packed.detach()), 0.0)
        loss_d.backward()
        gan.opt_d.step()
        for _ in range(config.g_updates):                        # l.203-212: twice, same codes
            packed, fakes = generate(z)
            gan.opt_g.zero_grad()
            loss_g = _bce(gan.D(packed), 1.0)
            ms = mode_seeking_loss(fakes[0], fakes[m], z[0], z[m]) if config.ms_weight > 0 else None
            total = loss_g + config.ms_weight * ms if ms is not None else loss_g
            total.backward()
            gan.opt_g.step()
        out = {"loss_d": loss_d.item(), "loss_g": loss_g.item()}
        if ms is not None:
            out["loss_ms"] = ms.item()
        return out
    return step


STACKED_TASK = Task(
    load_data=lambda c: StackedData(c.dataset, c.data_root, c.n_items, c.pack, c.seed),
    describe=describe_stacked, build=build_stacked, make_step=make_stacked_step)


def config_from_run(run_dir) -> StackedConfig:
    from dataclasses import fields

    stored = runs.read_run_config(Path(run_dir), option="--resume")
    names = {f.name for f in fields(StackedConfig)}
    try:
        return StackedConfig(**{k: v for k, v in stored.items() if k in names})
    except TypeError as exc:
        raise runs.damaged_config(Path(run_dir) / runs.CONFIG_FILE, str(exc)) from None


@torch.no_grad()
def generate_items(G: StackedGenerator, n: int = EVAL_SAMPLES, seed: int = 0,
                   batch: int = 500) -> np.ndarray:
    """(n, 28, 28, 3) uint8 from fixed U[-1, 1] codes, BN in inference mode. The tanh output is
    read as the [0, 1] pixels the generator learnt (the real data are / 255, model.py l.386), so
    ``round(clip(x, 0, 1) * 255)`` (PacGAN feeds the raw output to the classifier)."""
    device = next(G.parameters()).device
    gen = keyed_generator(seed, 26000)
    out = []
    for lo in range(0, n, batch):
        z = torch.rand(min(batch, n - lo), Z_DIM, generator=gen) * 2 - 1
        x = G(z.to(device)).clamp(0, 1).mul(255).round().to(torch.uint8)
        out.append(x.permute(0, 2, 3, 1).cpu().numpy())
    return np.concatenate(out)


def train_stacked(config: StackedConfig, out_dir: "str | os.PathLike[str]", resume: bool = False,
                  quiet: bool = False, device: str = defaults.DEVICE, loop=None) -> Path:
    """Train one run, then count its 26,000 samples through the classifier (modes.json)."""
    out_dir = Path(out_dir)
    train(config, out_dir, resume=resume, quiet=quiet, device=device, task=STACKED_TASK, loop=loop)
    evaluate_stacked_run(out_dir, device=device)
    return out_dir


def evaluate_stacked_run(run_dir: Path, device: str = defaults.DEVICE,
                         classifier=None, n: int = EVAL_SAMPLES) -> dict:
    """Sample the run's generator on the fixed codes, count the modes; writes modes.json."""
    from msgan_eval.device import resolve_device
    from msgan_eval.evaluate.modes_stacked import stacked_modes
    from msgan_eval.fileio import write_json_atomic

    dev = resolve_device(device)
    config = config_from_run(run_dir)
    checkpoint = runs.load_checkpoint(run_dir, map_location=dev)
    G = StackedGenerator(config.width).to(dev)
    runs.load_state(run_dir / runs.CHECKPOINT_FILE, G, checkpoint["generator"], "generator")
    items = generate_items(G.eval(), n)
    r = stacked_modes(items, classifier=classifier, device=device)
    trial = {"trial": config.seed, **{k: getattr(r, k) for k in ("modes", "modes_total", "kl", "n")},
             "top_triples": r.top_triples}
    from msgan_eval.evaluate.modes_trials import SCHEMA, summarise

    result = {"schema": SCHEMA, "version": __version__, "task": TASK_NAME, "layout": "stacked",
              "dataset": config.dataset, "arm": _arm(config), "ms_weight": config.ms_weight,
              "pack": config.pack, "step": int(checkpoint["step"]), "run": str(run_dir),
              "classifier": r.classifier, "trials": [trial], "summary": summarise([trial])}
    write_json_atomic(run_dir / "modes.json", result)
    return result


def _arm(config: StackedConfig) -> str:
    pac = f"PacDCGAN{config.pack}" if config.pack > 1 else "DCGAN"
    return pac + ("+MS" if config.ms_weight > 0 else "")
