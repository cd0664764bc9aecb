"""StackGAN++'s text-to-image update, transcribed from HelenMao/MSGAN
``StackGAN++-Mode-Seeking/trainer.py`` (``condGANTrainer``: ``train`` 674-790, ``train_Dnet``
549-603, ``train_Gnet`` 605-672) for MSGAN, and from hanzhanggit/StackGAN-v2 ``code/trainer.py``
(the same class, one noise) for the baseline; line numbers are the MSGAN file's.

One step: G draws the images of every stage from (noise, text) -- with two noises for MSGAN,
both halves conditioned on the same texts (676-733); each stage's discriminator is updated on
real, wrong (mismatched) and fake images, conditioned on the conditioning mean ``mu`` (detached),
with the unconditional score beside the conditional one (``UNCOND_LOSS`` 1); then G on both
scores of every stage, the KL term of conditioning augmentation (x ``KL`` 2) and, for MSGAN, the
mode-seeking term of the last stage's images; then the running average of G's weights
(x 0.999 + 0.001, 743-744), which is what a trained run is sampled with.
"""
from __future__ import annotations

from typing import Dict, List, Optional

import torch
import torch.nn.functional as F

from .losses import mode_seeking_loss

KL_COEFF = 2.0          # miscc/config.py __C.TRAIN.COEFF.KL
UNCOND_COEFF = 1.0      # cfg/birds_3stages.yml TRAIN.COEFF.UNCOND_LOSS
AVERAGE_DECAY = 0.999   # trainer.py:743-744


def kl_loss(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """trainer.py:48-52: ``-0.5 * mean(1 + logvar - mu^2 - exp(logvar))``."""
    return torch.mean(mu.pow(2) + logvar.exp() - 1 - logvar) * 0.5


def _bce(p: torch.Tensor, target: float) -> torch.Tensor:
    return F.binary_cross_entropy(p, torch.full_like(p, target))


def discriminator_loss(netD, real, wrong, fakes: List[torch.Tensor], mus: List[torch.Tensor],
                       uncond: float = UNCOND_COEFF) -> torch.Tensor:
    """``train_Dnet``'s loss: real (with the first half's mu) against 1, wrong against 0 (its
    unconditional score against 1: a real image), every fake against 0."""
    mu_real = mus[0].detach()
    real_logits, wrong_logits = netD(real, mu_real), netD(wrong, mu_real)
    fake_logits = [netD(f.detach(), m.detach()) for f, m in zip(fakes, mus)]
    err_real, err_wrong = _bce(real_logits[0], 1.0), _bce(wrong_logits[0], 0.0)
    err_fake = _sum([_bce(f[0], 0.0) for f in fake_logits])
    if uncond <= 0:
        return err_real + 0.5 * (err_wrong + err_fake)
    err_real = err_real + uncond * _bce(real_logits[1], 1.0)
    err_wrong = err_wrong + uncond * _bce(wrong_logits[1], 1.0)
    err_fake = err_fake + uncond * _sum([_bce(f[1], 0.0) for f in fake_logits])
    return err_real + err_wrong + err_fake


def _sum(terms: List[torch.Tensor]) -> torch.Tensor:
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    return total


def generator_loss(netsD, fakes_per_stage: List[List[torch.Tensor]], mus, logvars, noises,
                   ms_weight: float, uncond: float = UNCOND_COEFF, kl: float = KL_COEFF):
    """``train_Gnet``'s loss: (total, adversarial, KL, mode-seeking or None). ``fakes_per_stage[i]``
    holds stage i's images of each noise; the mode-seeking term compares the last stage's."""
    adversarial = 0
    for netD, fakes in zip(netsD, fakes_per_stage):
        outs = [netD(f, m) for f, m in zip(fakes, mus)]
        err = _sum([_bce(o[0], 1.0) for o in outs])
        if uncond > 0:
            err = err + uncond * _sum([_bce(o[1], 1.0) for o in outs])
        adversarial = adversarial + err
    kl_term = _sum([kl_loss(m, lv) for m, lv in zip(mus, logvars)]) * kl
    total = adversarial + kl_term
    ms: Optional[torch.Tensor] = None
    if len(noises) == 2:                      # trainer.py:634-637, 669
        last = fakes_per_stage[-1]
        ms = mode_seeking_loss(last[0], last[1], noises[0], noises[1])
        total = total + ms * ms_weight
    return total, adversarial, kl_term, ms


def train_step(gan, real: List[torch.Tensor], wrong: List[torch.Tensor], embedding: torch.Tensor,
               z1: torch.Tensor, z2: torch.Tensor, generator: Optional[torch.Generator],
               ms_weight: float) -> Dict[str, float]:
    """One iteration of ``condGANTrainer.train``; ``ms_weight == 0`` is StackGAN-v2's (one noise)."""
    G, netsD = gan.G.net, gan.D.nets
    noises = [z1, z2] if ms_weight > 0 else [z1]
    fakes, mu, logvar = G(torch.cat(noises), torch.cat([embedding] * len(noises)), generator)
    n = z1.size(0)
    mus, logvars = list(torch.split(mu, n)), list(torch.split(logvar, n))
    per_stage = [list(torch.split(f, n)) for f in fakes]
    losses = {}
    for i, netD in enumerate(netsD):          # trainer.py:736-738
        opt = gan.opt_d[f"D{i}"]
        opt.zero_grad()
        err = discriminator_loss(netD, real[i], wrong[i], per_stage[i], mus)
        err.backward()
        opt.step()
        losses[f"loss_d{i}"] = err.item()
    gan.opt_g.zero_grad()
    total, adversarial, kl_term, ms = generator_loss(netsD, per_stage, mus, logvars, noises,
                                                     ms_weight)
    total.backward()
    gan.opt_g.step()
    gan.G.update_average()
    losses.update(loss_g=total.item(), loss_g_gan=adversarial.item(), loss_kl=kl_term.item())
    if ms is not None:
        losses["loss_ms"] = ms.item()
    return losses
