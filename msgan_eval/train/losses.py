"""GAN losses of the official MSGAN DCGAN code (HelenMao/MSGAN, ``DCGAN-Mode-Seeking/model.py``)."""
from __future__ import annotations

from typing import Optional, Tuple

import torch
import torch.nn.functional as F

from msgan_eval import defaults


def mode_seeking_loss(fake1: torch.Tensor, fake2: torch.Tensor, z1: torch.Tensor, z2: torch.Tensor,
                      eps: float = defaults.MS_EPS, cap: Optional[float] = None) -> torch.Tensor:
    """``1 / (mean|fake2 - fake1| / mean|z2 - z1| + eps)``, means over the whole batch.

    The MSGAN regulariser (``update_G`` in the official code): minimising it pushes apart the
    images generated from two latent codes of the same condition. ``cap`` (not in MSGAN) is
    DSGAN's tau (Yang et al. 2019, ``min(lz, tau)``): beyond it the term stops pushing.
    """
    lz = torch.mean(torch.abs(fake2 - fake1)) / torch.mean(torch.abs(z2 - z1))
    if cap is not None:
        lz = torch.clamp(lz, max=cap)
    return 1 / (lz + eps)


def discriminator_loss(netD: torch.nn.Module, real: torch.Tensor, fake1: torch.Tensor,
                       fake2: torch.Tensor, onehot: torch.Tensor) -> torch.Tensor:
    """BCE of D on (real vs fake1) + (real vs fake2), as ``backward_D`` called once per half.

    The official code runs D on fake then real, separately for each half, so batch norm sees
    batches of one kind only; the order is kept because it moves the running statistics.
    """
    total = real.new_zeros(())
    for fake in (fake1, fake2):
        pred_fake = netD(fake.detach(), onehot)
        pred_real = netD(real, onehot)
        total = total + F.binary_cross_entropy(pred_fake, torch.zeros_like(pred_fake)) \
            + F.binary_cross_entropy(pred_real, torch.ones_like(pred_real))
    return total


def generator_gan_loss(netD: torch.nn.Module, fake: torch.Tensor, onehot: torch.Tensor) -> torch.Tensor:
    """Non-saturating BCE of D's verdict on ``fake`` against "real" (``backward_G``)."""
    pred = netD(fake, onehot)
    return F.binary_cross_entropy(pred, torch.ones_like(pred))


def generator_loss(netD: torch.nn.Module, fake1: torch.Tensor, fake2: torch.Tensor,
                   z1: torch.Tensor, z2: torch.Tensor, onehot: torch.Tensor,
                   ms_weight: float) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(total, gan, ms): GAN(fake1) + GAN(fake2) + ms_weight * mode_seeking_loss.

    With ``ms_weight == 0`` the total is the GAN term alone (the regulariser is only logged), so
    the baseline differs from MSGAN by the regulariser and nothing else.
    """
    gan = generator_gan_loss(netD, fake1, onehot) + generator_gan_loss(netD, fake2, onehot)
    if ms_weight == 0:
        with torch.no_grad():
            ms = mode_seeking_loss(fake1, fake2, z1, z2)
        return gan, gan, ms
    ms = mode_seeking_loss(fake1, fake2, z1, z2)
    return gan + ms_weight * ms, gan, ms
