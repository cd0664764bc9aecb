"""PacGAN's 2D networks and optimiser, with T independent trials stacked in one model.

Every weight carries a leading trial axis and every layer is one ``torch.bmm`` over it, so the 10
trials of an arm train as one model (one process, larger matmuls) while staying independent: no
operation mixes trials, and the loss is the sum of the per-trial losses, whose gradient in trial t's
weights is that trial's own gradient.

Source: fjxmlzn/PacGAN 190853e, ``synthetic_data_experiments/2DRing_GAN&PacGAN/pacgan_task.py``
(``RING/``), and Blocks c69c2dc2 (``blocks/``).
"""
from __future__ import annotations

import math
from typing import List, Tuple

import torch
from torch import nn

BN_EPS = 1e-4          # blocks/bricks/bn.py l.131: BatchNormalization(epsilon=1e-4)
BN_MOMENTUM = 0.05     # RING/pacgan_task.py l.149: population = m * 0.05 + p * 0.95


def _normal(generator: torch.Generator, shape, std: float) -> torch.Tensor:
    return torch.randn(*shape, generator=generator) * std


class Generator2D(nn.Module):
    """``decoder`` of RING/pacgan_task.py l.43-59, l.94: ``layers`` x (Linear without bias ->
    BatchNormalization -> ReLU), then a Linear with bias to 2D, identity output.

    Input z (T, S, B, d): S groups of B codes per trial, each group a separate generator call (PacGAN
    calls the decoder once per packed sample, l.63-66 of ``pacgan/bricks.py``), so batch statistics
    are per (trial, group).
    """

    def __init__(self, trials: int, latent: int, hidden: int, layers: int, init_std: float,
                 generator: torch.Generator, batchnorm: bool = True):
        super().__init__()
        dims = [latent] + [hidden] * layers
        self.batchnorm = batchnorm
        self.weights = nn.ParameterList(
            [nn.Parameter(_normal(generator, (trials, a, b), init_std)) for a, b in zip(dims, dims[1:])])
        # Without batch norm (the unrolled-GAN paper's 2D generator) the hidden layers get biases.
        self.biases = nn.ParameterList([] if batchnorm else
                                       [nn.Parameter(torch.zeros(trials, hidden)) for _ in range(layers)])
        # Blocks BN: scale 1, shift 0 (bn.py l.140-143), population mean 0 / stdev 1 (l.271-277).
        bn_layers = layers if batchnorm else 0
        self.scales = nn.ParameterList([nn.Parameter(torch.ones(trials, hidden)) for _ in range(bn_layers)])
        self.shifts = nn.ParameterList([nn.Parameter(torch.zeros(trials, hidden)) for _ in range(bn_layers)])
        for i in range(bn_layers):
            self.register_buffer(f"pop_mean{i}", torch.zeros(trials, hidden))
            self.register_buffer(f"pop_stdev{i}", torch.ones(trials, hidden))
        self.out_weight = nn.Parameter(_normal(generator, (trials, hidden, 2), init_std))
        self.out_bias = nn.Parameter(torch.zeros(trials, 2))
        # Steps trained so far: the step function's clock (epoch ends), saved with checkpoints.
        self.register_buffer("steps_done", torch.zeros((), dtype=torch.int64))

    @property
    def layers(self) -> int:
        return len(self.weights)

    def forward(self, z: torch.Tensor, train: bool = True):
        """(x (T, S, B, 2), per-layer batch (mean, stdev) each (T, S, H), or None when ``train`` is
        False, which normalises with the population statistics as Blocks' inference mode)."""
        t, s, b, _ = z.shape
        h = z.reshape(t, s * b, -1)
        stats: List[Tuple[torch.Tensor, torch.Tensor]] = []
        for i, w in enumerate(self.weights):
            if not self.batchnorm:
                h = torch.relu(torch.baddbmm(self.biases[i][:, None, :], h, w))
                continue
            h = torch.bmm(h, w).view(t, s, b, -1)
            if train:
                # bn.py l.193-206: biased variance, stdev = sqrt(var + eps)
                mean = h.mean(dim=2, keepdim=True)
                stdev = torch.sqrt(((h - mean) ** 2).mean(dim=2, keepdim=True) + BN_EPS)
                stats.append((mean.squeeze(2), stdev.squeeze(2)))
            else:
                mean = getattr(self, f"pop_mean{i}")[:, None, None, :]
                stdev = getattr(self, f"pop_stdev{i}")[:, None, None, :]
            h = (h - mean) / stdev * self.scales[i][:, None, None, :] + self.shifts[i][:, None, None, :]
            h = torch.relu(h).reshape(t, s * b, -1)
        x = torch.baddbmm(self.out_bias[:, None, :], h, self.out_weight)
        return x.view(t, s, b, 2), (stats if train and self.batchnorm else None)

    @torch.no_grad()
    def update_population(self, stats, groups: int) -> None:
        if not self.batchnorm:
            return
        """RING/pacgan_task.py l.127-149: the batch statistics of the first ``groups`` generator
        calls (the packed ones) are averaged, then ``p <- 0.05 m + 0.95 p``."""
        for i, (mean, stdev) in enumerate(stats):
            for name, value in ((f"pop_mean{i}", mean), (f"pop_stdev{i}", stdev)):
                buf = getattr(self, name)
                buf.mul_(1 - BN_MOMENTUM).add_(value[:, :groups].mean(dim=1), alpha=BN_MOMENTUM)


class MaxoutDiscriminator(nn.Module):
    """``discriminator`` of RING/pacgan_task.py l.61-90: ``layers`` x LinearMaxout(hidden, pieces)
    then Linear(hidden -> 1), a logit; input dimension 2 m (packing by concatenation, l.64)."""

    def __init__(self, trials: int, in_dim: int, hidden: int, layers: int, pieces: int,
                 init_std: float, generator: torch.Generator, relu: bool = False):
        super().__init__()
        # relu: Linear + ReLU layers instead of maxout (the unrolled-GAN paper's 2D discriminator)
        pieces = 1 if relu else pieces
        self.pieces, self.relu = pieces, relu
        dims = [in_dim] + [hidden] * layers
        self.weights = nn.ParameterList([nn.Parameter(_normal(generator, (trials, a, b * pieces), init_std))
                                         for a, b in zip(dims, dims[1:])])
        self.biases = nn.ParameterList([nn.Parameter(torch.zeros(trials, hidden * pieces))
                                        for _ in range(layers)])
        self.out_weight = nn.Parameter(_normal(generator, (trials, hidden, 1), init_std))
        self.out_bias = nn.Parameter(torch.zeros(trials, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (T, R, 1) of x (T, R, 2 m)."""
        for w, b in zip(self.weights, self.biases):
            h = torch.baddbmm(b[:, None, :], x, w)
            if self.relu:
                x = torch.relu(h)
                continue
            # blocks/bricks/simple.py l.175-180: reshape to (..., hidden, pieces), max over pieces
            x = h.view(*h.shape[:-1], -1, self.pieces).amax(dim=-1)
        return torch.baddbmm(self.out_bias[:, None, :], x, self.out_weight)


class BlocksAdam(torch.optim.Optimizer):
    """Blocks' Adam (blocks/algorithms/__init__.py l.861-894), which PacGAN uses:
    ``step = lr * sqrt(1 - b2^t) / (1 - b1^t) * m_t / (sqrt(v_t) + eps)`` (eps outside the bias
    correction of v, unlike ``torch.optim.Adam``), no decay of beta1 (``decay_factor=1``)."""

    def __init__(self, params, lr: float, beta1: float, beta2: float = 0.999, eps: float = 1e-8):
        super().__init__(params, dict(lr=lr, beta1=beta1, beta2=beta2, eps=eps))

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            b1, b2 = group["beta1"], group["beta2"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["time"] = 0
                    state["mean"] = torch.zeros_like(p)
                    state["variance"] = torch.zeros_like(p)
                state["time"] += 1
                t = state["time"]
                state["mean"].mul_(b1).add_(p.grad, alpha=1 - b1)
                state["variance"].mul_(b2).addcmul_(p.grad, p.grad, value=1 - b2)
                rate = group["lr"] * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
                p.addcdiv_(state["mean"], state["variance"].sqrt().add_(group["eps"]), value=-rate)
        return None
