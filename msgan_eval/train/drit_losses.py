"""DRIT's forward pass and losses, transcribed from HelenMao/MSGAN ``DRIT-Mode-Seeking/model.py``
(line numbers below are that file's), with the ``--no_ms`` branches of HsinYingLee/DRIT
``src/model.py`` for the baseline. Every random draw of the official code (the content
encoder's noise layer, the reparameterised attribute codes, the random attribute codes) comes
from one ``torch.Generator``, in the official order.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F

from .losses import mode_seeking_loss

KL_WEIGHT = 0.01      # model.py:302-311
CYCLE_WEIGHT = 10     # model.py:314-317
LATENT_WEIGHT = 10    # model.py:377-378


@dataclass
class Forward:
    """The tensors of ``DRIT.forward`` (model.py:119-187) that the losses read."""

    real_a: torch.Tensor          # real_A_encoded
    real_b: torch.Tensor
    real_a_random: torch.Tensor
    real_b_random: torch.Tensor
    z_content_a: torch.Tensor
    z_content_b: torch.Tensor
    mu_a: torch.Tensor
    logvar_a: torch.Tensor
    mu_b: torch.Tensor
    logvar_b: torch.Tensor
    z_random: torch.Tensor
    z_random2: Optional[torch.Tensor]   # None for the baseline (DRIT's --no_ms)
    fake_a: torch.Tensor          # fake_A_encoded: B's content with A's attribute
    fake_b: torch.Tensor
    fake_aa: torch.Tensor         # fake_AA_encoded: A's own reconstruction
    fake_bb: torch.Tensor
    fake_a_random: torch.Tensor
    fake_b_random: torch.Tensor
    fake_a_random2: Optional[torch.Tensor]
    fake_b_random2: Optional[torch.Tensor]
    fake_a_recon: torch.Tensor    # after the second cross translation
    fake_b_recon: torch.Tensor
    mu2_a: torch.Tensor           # the attribute encoder on the random-code outputs
    mu2_b: torch.Tensor


def _reparameterise(mu, logvar, generator) -> torch.Tensor:
    std = logvar.mul(0.5).exp()
    eps = torch.randn(std.size(), generator=generator, device="cpu").to(std.device)
    return eps.mul(std).add(mu)


def _randn(n: int, nz: int, like: torch.Tensor, generator) -> torch.Tensor:
    return torch.randn(n, nz, generator=generator, device="cpu").to(like.device)


def forward(G, real_a, real_b, generator, ms: bool) -> Forward:
    """``DRIT.forward`` with ``--concat 1``: the first half of the batch is encoded, the second is
    the real side of the random-code discriminators (model.py:121-127; the official batch of 2
    halves as 1 + 1)."""
    half = real_a.size(0) // 2
    ra, rb = real_a[:half], real_b[:half]
    zc_a, zc_b = G.enc_c(ra, rb, generator)
    mu_a, logvar_a, mu_b, logvar_b = G.enc_a(ra, rb)
    za_a, za_b = _reparameterise(mu_a, logvar_a, generator), _reparameterise(mu_b, logvar_b, generator)
    z1 = _randn(half, G.gen.nz, ra, generator)
    z2 = _randn(half, G.gen.nz, ra, generator) if ms else None
    content_for_a = [zc_b, zc_a, zc_b] + ([zc_b] if ms else [])       # model.py:149-156
    content_for_b = [zc_a, zc_b, zc_a] + ([zc_a] if ms else [])
    attr_for_a = [za_a, za_a, z1] + ([z2] if ms else [])
    attr_for_b = [za_b, za_b, z1] + ([z2] if ms else [])
    out_a = torch.split(G.gen.forward_a(torch.cat(content_for_a), torch.cat(attr_for_a)), half)
    out_b = torch.split(G.gen.forward_b(torch.cat(content_for_b), torch.cat(attr_for_b)), half)
    # Second cross translation (model.py:158-175): encode the swapped outputs, swap back.
    zc_recon_b, zc_recon_a = G.enc_c(out_a[0], out_b[0], generator)
    mu_ra, logvar_ra, mu_rb, logvar_rb = G.enc_a(out_a[0], out_b[0])
    za_recon_a = _reparameterise(mu_ra, logvar_ra, generator)
    za_recon_b = _reparameterise(mu_rb, logvar_rb, generator)
    mu2_a, _, mu2_b, _ = G.enc_a(out_a[2], out_b[2])                      # model.py:184-185
    return Forward(ra, rb, real_a[half:], real_b[half:], zc_a, zc_b, mu_a, logvar_a, mu_b,
                   logvar_b, z1, z2, out_a[0], out_b[0], out_a[1], out_b[1], out_a[2], out_b[2],
                   out_a[3] if ms else None, out_b[3] if ms else None,
                   G.gen.forward_a(zc_recon_a, za_recon_a), G.gen.forward_b(zc_recon_b, za_recon_b),
                   mu2_a, mu2_b)


def bce_sigmoid(logits: torch.Tensor, target: float) -> torch.Tensor:
    """``binary_cross_entropy(sigmoid(x), target)``, as the official (not the fused logits form)."""
    p = torch.sigmoid(logits)
    return F.binary_cross_entropy(p, torch.full_like(p, target))


def domain_d_loss(netD, real, fake) -> torch.Tensor:
    """``backward_D`` (model.py:244-257): per scale, real against 1 and (detached) fake against 0."""
    pred_fake, pred_real = netD(fake.detach()), netD(real)
    loss = 0
    for out_fake, out_real in zip(pred_fake, pred_real):
        loss = loss + (bce_sigmoid(out_real, 1.0) + bce_sigmoid(out_fake, 0.0))
    return loss


def content_d_loss(dis_content, z_content_a, z_content_b) -> torch.Tensor:
    """``backward_contentD`` (model.py:259-271): A's content codes against 0, B's against 1."""
    out_a = dis_content(z_content_a.detach())[-1]
    out_b = dis_content(z_content_b.detach())[-1]
    return bce_sigmoid(out_b, 1.0) + bce_sigmoid(out_a, 0.0)


def g_gan_loss(netD, fake) -> torch.Tensor:
    """``backward_G_GAN`` (model.py:350-357): every scale's verdict on ``fake`` against 1."""
    loss = 0
    for out in netD(fake):
        loss = loss + bce_sigmoid(out, 1.0)
    return loss


def g_content_loss(dis_content, z_content) -> torch.Tensor:
    """``backward_G_GAN_content`` (model.py:342-348): content codes against 0.5 (domain-free)."""
    return bce_sigmoid(dis_content(z_content)[-1], 0.5)


def kl_concat(mu, logvar) -> torch.Tensor:
    """model.py:301-304: ``-0.5 * sum(1 + logvar - mu^2 - exp(logvar)) * 0.01``."""
    return torch.sum(mu.pow(2) + logvar.exp() - 1 - logvar) * 0.5 * KL_WEIGHT


def _ordered_sum(terms: List[torch.Tensor]) -> torch.Tensor:
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    return total


def encoder_generator_loss(D, f: Forward) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
    """``backward_EG`` (model.py:290-326): adversarial (domains and content), self and cross-cycle
    reconstruction (L1 x 10), KL on the attribute codes, L2 on the content codes (x 0.01); summed
    in the official order (model.py:319-324)."""
    terms = [g_gan_loss(D.disA, f.fake_a), g_gan_loss(D.disB, f.fake_b),
             g_content_loss(D.disContent, f.z_content_a), g_content_loss(D.disContent, f.z_content_b),
             F.l1_loss(f.fake_aa, f.real_a) * CYCLE_WEIGHT, F.l1_loss(f.fake_bb, f.real_b) * CYCLE_WEIGHT,
             F.l1_loss(f.fake_a_recon, f.real_a) * CYCLE_WEIGHT,
             F.l1_loss(f.fake_b_recon, f.real_b) * CYCLE_WEIGHT,
             f.z_content_a.pow(2).mean() * KL_WEIGHT, f.z_content_b.pow(2).mean() * KL_WEIGHT,
             kl_concat(f.mu_a, f.logvar_a), kl_concat(f.mu_b, f.logvar_b)]
    parts = {"gan": terms[0] + terms[1], "gan_content": terms[2] + terms[3],
             "self_recon": terms[4] + terms[5], "cross_cycle": terms[6] + terms[7],
             "kl": terms[8] + terms[9] + terms[10] + terms[11]}
    return _ordered_sum(terms), parts


def random_code_loss(D, f: Forward, ms_weight: float) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
    """``backward_G_alone`` (model.py:359-390): the random-code outputs against the second
    discriminators, latent regression (x 10) and, with two codes, the mode-seeking terms
    ``1 / (mean|G(c, z2) - G(c, z1)| / mean|z2 - z1| + 1e-5)`` of both directions x ``ms_weight``
    (the official weight is 1). Without a second code: DRIT's ``--no_ms`` (src/model.py:374-401)."""
    terms = [torch.mean(torch.abs(f.mu2_a - f.z_random)) * LATENT_WEIGHT,
             torch.mean(torch.abs(f.mu2_b - f.z_random)) * LATENT_WEIGHT,
             g_gan_loss(D.disA2, f.fake_a_random), g_gan_loss(D.disB2, f.fake_b_random)]
    if f.z_random2 is not None:
        terms += [g_gan_loss(D.disA2, f.fake_a_random2), g_gan_loss(D.disB2, f.fake_b_random2),
                  mode_seeking_loss(f.fake_b_random, f.fake_b_random2, f.z_random, f.z_random2),
                  mode_seeking_loss(f.fake_a_random, f.fake_a_random2, f.z_random, f.z_random2)]
    parts = {"latent": terms[0] + terms[1], "gan2": _ordered_sum(terms[2:4] + terms[4:6])}
    if f.z_random2 is None:
        return _ordered_sum(terms), parts
    parts["ms"] = terms[6] + terms[7]
    total = _ordered_sum(terms[:6] + [ms_weight * terms[6], ms_weight * terms[7]])
    return total, parts


def discriminator_steps(D, opts, f: Forward, clip: float) -> Dict[str, float]:
    """``update_D`` (model.py:206-242): each discriminator zeroed, backed and stepped in turn."""
    losses: Dict[str, float] = {}
    pairs: List[Tuple[str, list]] = [
        ("disA", [(f.real_a, f.fake_a)]),
        ("disA2", [(f.real_a_random, f.fake_a_random)]
         + ([(f.real_a_random, f.fake_a_random2)] if f.fake_a_random2 is not None else [])),
        ("disB", [(f.real_b, f.fake_b)]),
        ("disB2", [(f.real_b_random, f.fake_b_random)]
         + ([(f.real_b_random, f.fake_b_random2)] if f.fake_b_random2 is not None else []))]
    for name, terms in pairs:
        opts[name].zero_grad()
        total = 0.0
        for real, fake in terms:       # one backward per term, as the official calls backward_D
            loss = domain_d_loss(getattr(D, name), real, fake)
            loss.backward()
            total += loss.item()
        opts[name].step()
        losses[f"loss_{name}"] = total
    losses["loss_dis_content"] = content_step(D, opts, f.z_content_a, f.z_content_b, clip)
    return losses


def content_step(D, opts, z_content_a, z_content_b, clip: float) -> float:
    """The content discriminator's update (model.py:237-242 and 196-204): gradient norm clipped."""
    opts["disContent"].zero_grad()
    loss = content_d_loss(D.disContent, z_content_a, z_content_b)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(D.disContent.parameters(), clip)
    opts["disContent"].step()
    return loss.item()
