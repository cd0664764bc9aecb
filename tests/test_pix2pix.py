"""Image-to-image trainer against a written-out copy of the official MSGAN pix2pix code
(HelenMao/MSGAN ``Pix2Pix-Mode-Seeking/models/pix2pix_model.py`` and BicycleGAN's ``networks.py``),
and the resume promise."""
import contextlib
import copy
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from msgan_eval.train import pix2pix
from msgan_eval.train.pix2pix import Pix2PixConfig, build_pix2pix, train_pix2pix, train_step
from msgan_eval.train.pix2pix_models import MultiScaleDiscriminator, UnetBlockWithZ, UnetGenerator
from msgan_eval.train.runs import read_log

TINY = dict(width=0.125, batch_size=4, subset_per_class=2, checkpoint_every=100)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# --- models ------------------------------------------------------------------------------------

def _conv(cin, cout):
    return cin * cout * 16 + cout      # 4x4 kernel + bias


def _conv3(cin, cout):
    return cin * cout * 9 + cout       # 3x3 kernel + bias


def _official_unet_add_all_parameters(input_nc, output_nc, nz, num_downs, ngf=64, upsample="basic"):
    """G_Unet_add_all's blocks as the official constructor lists them: (input, outer, inner);
    each has a down conv (input + nz -> inner) and an up conv (inner x2, or x1 innermost -> outer):
    upsampleLayer's 4x4 transposed conv ('basic') or 3x3 conv after the resize ('bilinear',
    networks.py l.429-441)."""
    up = _conv if upsample == "basic" else _conv3
    blocks = [(8, 8, 8, "innermost"), (8, 8, 8, "")] + [(8, 8, 8, "")] * (num_downs - 6) \
        + [(4, 4, 8, ""), (2, 2, 4, ""), (1, 1, 2, "")]
    total = 0
    for i, o, n, kind in blocks:
        total += _conv(ngf * i + nz, ngf * n) + up(ngf * n * (1 if kind else 2), ngf * o)
    return total + _conv(input_nc + nz, ngf) + up(ngf * 2, output_nc)


def _official_d_multi_parameters(input_nc, ndf=64, n_layers=3, num_d=2):
    total = 0
    for s in range(num_d):
        f = int(round(ndf / 2 ** s))
        mults = [min(2 ** n, 8) for n in range(n_layers + 1)]
        total += _conv(input_nc, f) + sum(_conv(f * a, f * b) for a, b in zip(mults, mults[1:]))
        total += _conv(f * mults[-1], 1)
    return total


@pytest.mark.parametrize("size,num_downs", [(128, 7), (256, 8)])
def test_full_width_models_have_the_official_layers(size, num_downs):
    G = UnetGenerator(3, 3, image_size=size, width=1.0, nz=8)
    D = MultiScaleDiscriminator(6, image_size=size, width=1.0)
    assert sum(p.numel() for p in G.parameters()) == _official_unet_add_all_parameters(3, 3, 8, num_downs)
    assert sum(p.numel() for p in D.parameters()) == _official_d_multi_parameters(6, n_layers=3)


@pytest.mark.parametrize("size,num_downs", [(128, 7), (256, 8)])
def test_bilinear_upsampling_has_the_official_layers(size, num_downs):
    G = UnetGenerator(3, 3, image_size=size, width=1.0, nz=8, upsample="bilinear")
    assert sum(p.numel() for p in G.parameters()) == \
        _official_unet_add_all_parameters(3, 3, 8, num_downs, upsample="bilinear")
    ups = [m for m in G.modules() if isinstance(m, torch.nn.Upsample)]
    assert len(ups) == num_downs and all(u.mode == "bilinear" for u in ups)
    assert not any(isinstance(m, torch.nn.ConvTranspose2d) for m in G.modules())
    pads = [m for m in G.modules() if isinstance(m, torch.nn.ReflectionPad2d)]
    assert len(pads) == num_downs


def test_bilinear_32px_generator_runs_and_starts_smooth():
    x, z = torch.rand(2, 1, 32, 32) * 2 - 1, torch.randn(2, 8)
    y = UnetGenerator(1, 1, 32, width=0.25, upsample="bilinear")(x, z)
    assert y.shape == (2, 1, 32, 32)
    with pytest.raises(ValueError, match="upsample 'nearest'"):
        UnetGenerator(1, 1, 32, width=0.25, upsample="nearest")


def test_32px_models_shapes_and_instance_norm():
    G, D = UnetGenerator(1, 1, 32, width=0.25), MultiScaleDiscriminator(2, 32, width=0.25)
    x, z = torch.rand(3, 1, 32, 32) * 2 - 1, torch.randn(3, 8)
    y = G(x, z)
    assert y.shape == (3, 1, 32, 32) and y.abs().max() <= 1
    scores = D(torch.cat([x, y], 1))
    assert [tuple(s.shape) for s in scores] == [(3, 1, 6, 6), (3, 1, 2, 2)]
    norms = [m for m in G.modules() if isinstance(m, torch.nn.InstanceNorm2d)]
    assert norms and not any(m.affine for m in norms)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in G.modules())
    # instance norm: one image's output does not depend on the others in the batch
    torch.testing.assert_close(G(x[:1], z[:1]), y[:1], rtol=0, atol=1e-6)


def test_z_reaches_the_output_at_initialisation():
    gan = build_pix2pix(Pix2PixConfig(width=0.25), 1, 1, 32, torch.device("cpu"))
    x = torch.rand(4, 1, 32, 32) * 2 - 1
    z = torch.randn(4, 8, requires_grad=True)
    y = gan.G(x, z)
    other = gan.G(x, torch.randn(4, 8))
    # Outputs start near 0 (xavier gain 0.02); z moves them by a visible fraction of their spread.
    assert (y - other).abs().mean() > 0.05 * y.abs().mean()
    y.sum().backward()
    assert (z.grad.abs().sum(1) > 0).all()
    # ... and through every level: each block concatenates z to its own input.
    blocks = [m for m in gan.G.modules() if isinstance(m, UnetBlockWithZ)]
    assert len(blocks) == 5 and all(b.nz == 8 for b in blocks)


# --- the official update -----------------------------------------------------------------------

def _official_gan_loss(preds, is_real):
    """GANLoss(mse_loss=True): MSE of each scale against a tensor of 1.0 or 0.0, summed."""
    loss = 0.0
    for p in preds:
        loss = loss + F.mse_loss(p, torch.full(p.shape, 1.0 if is_real else 0.0))
    return loss


def _official_step(G, D, opt_g, opt_d, real_A, real_B, z1, z2, ms_weight, lambda_l1=10.0):
    """optimize_parameters of pix2pix_model.py written out: forward, update_G, update_D."""
    fake_B = G(torch.cat((real_A, real_A), 0), torch.cat((z1, z2), 0))
    fake1, fake2 = torch.split(fake_B, z1.size(0), dim=0)
    fake1_c, fake2_c = torch.cat((real_A, fake1), 1), torch.cat((real_A, fake2), 1)
    real_c = torch.cat((real_A, real_B), 1)
    for p in D.parameters():
        p.requires_grad = False
    opt_g.zero_grad()
    loss_gan = _official_gan_loss(D(fake1_c), True) + _official_gan_loss(D(fake2_c), True)
    loss_l1 = torch.nn.L1Loss()(fake1, real_B) * lambda_l1
    lz = torch.mean(torch.abs(fake2 - fake1)) / torch.mean(torch.abs(z2 - z1))
    loss_g = loss_gan + loss_l1 + (ms_weight * (1 / (lz + 1e-5)) if ms_weight else 0)
    loss_g.backward()
    opt_g.step()
    for p in D.parameters():
        p.requires_grad = True
    opt_d.zero_grad()
    pred_fake1, pred_fake2 = D(fake1_c.detach()), D(fake2_c.detach())
    pred_real = D(real_c)
    loss_d = (_official_gan_loss(pred_fake1, False) + _official_gan_loss(pred_fake2, False)
              + _official_gan_loss(pred_real, True) + _official_gan_loss(pred_real, True))
    loss_d.backward()
    opt_d.step()
    return loss_g.item(), loss_d.item()


@pytest.mark.parametrize("ms_weight", [0.0, 1.0])
def test_train_step_matches_official_update(ms_weight):
    gan = build_pix2pix(Pix2PixConfig(width=0.125), 1, 1, 32, torch.device("cpu"))
    G, D = copy.deepcopy(gan.G), copy.deepcopy(gan.D)
    opt_g = torch.optim.Adam(G.parameters(), lr=0.0002, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=0.0002, betas=(0.5, 0.999))
    torch.manual_seed(3)
    real_a, real_b = torch.rand(4, 1, 32, 32) * 2 - 1, torch.rand(4, 1, 32, 32) * 2 - 1
    for step in range(3):
        z1, z2 = torch.randn(4, 8), torch.randn(4, 8)
        ours = train_step(gan, real_a, real_b, z1, z2, ms_weight, 10.0)
        ref_g, ref_d = _official_step(G, D, opt_g, opt_d, real_a, real_b, z1, z2, ms_weight)
        assert ours["loss_g"] == pytest.approx(ref_g, rel=1e-5)
        assert ours["loss_d"] == pytest.approx(ref_d, rel=1e-5)
    for ours, ref in ((gan.G, G), (gan.D, D)):
        for (name, a), b in zip(ours.state_dict().items(), ref.state_dict().values()):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=name)
    assert all(p.requires_grad for p in gan.D.parameters())


def test_lr_factor_is_the_official_lambda_rule():
    """networks.py l.46-50: LambdaLR(1 - max(0, epoch - niter) / (niter_decay + 1)), stepped once
    per epoch; with one step per epoch our step schedule gives the same learning rates."""
    niter, niter_decay = 5, 7
    net = torch.nn.Linear(1, 1)
    opt = torch.optim.Adam(net.parameters(), lr=0.0002)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda epoch: 1.0 - max(0, epoch - niter) / float(niter_decay + 1))
    for t in range(niter + niter_decay):
        ours = 0.0002 * pix2pix.lr_factor(t, niter + niter_decay, niter_decay)
        assert ours == pytest.approx(opt.param_groups[0]["lr"], rel=1e-12), t
        opt.step()
        sched.step()
    assert pix2pix.lr_factor(3, 10, 0) == 1.0


def test_ms_weight_schedule_warm_up_then_ramp():
    cfg = Pix2PixConfig(ms_weight=2.0, ms_warmup=3, ms_ramp=4)
    assert [pix2pix.ms_weight_at(cfg, t) for t in range(9)] == [0, 0, 0, 0.5, 1.0, 1.5, 2.0, 2.0, 2.0]
    assert pix2pix.ms_weight_at(Pix2PixConfig(ms_weight=1.0), 0) == 1.0   # official: from step 0


def test_ms_cap_and_eps_change_only_the_term():
    """``ms_cap`` (DSGAN's tau) clamps lz; a larger eps bounds the term's 1 / lz^2 gradient."""
    from msgan_eval.train.losses import mode_seeking_loss

    f1 = torch.zeros(2, 1, 4, 4)
    f2 = torch.full((2, 1, 4, 4), 0.5, requires_grad=True)
    z1, z2 = torch.zeros(2, 8), torch.ones(2, 8)          # mean|z2 - z1| = 1, so lz = 0.5
    assert mode_seeking_loss(f1, f2, z1, z2).item() == pytest.approx(1 / (0.5 + 1e-5))
    assert mode_seeking_loss(f1, f2, z1, z2, cap=0.2).item() == pytest.approx(1 / (0.2 + 1e-5))
    capped = mode_seeking_loss(f1, f2, z1, z2, cap=0.2)
    capped.backward()
    assert float(f2.grad.abs().sum()) == 0                 # beyond tau the term stops pushing
    assert mode_seeking_loss(f1, f2, z1, z2, eps=1.0).item() == pytest.approx(1 / 1.5)


# --- runs: resume, smoke -----------------------------------------------------------------------

def _weights(run_dir):
    return torch.load(Path(run_dir) / "checkpoint.pt", weights_only=True)


@contextlib.contextmanager
def _killed_on_step(monkeypatch, n: int):
    real_step, calls = pix2pix.train_step, {"n": 0}

    def step(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == n:
            raise KeyboardInterrupt
        return real_step(*args, **kwargs)

    monkeypatch.setattr(pix2pix, "train_step", step)
    with pytest.raises(KeyboardInterrupt):
        yield
    monkeypatch.setattr(pix2pix, "train_step", real_step)


@pytest.mark.parametrize("schedules", [{}, {"lr_decay_steps": 6, "ms_warmup": 2, "ms_ramp": 3,
                                             "upsample": "bilinear"}])
def test_killed_and_resumed_run_equals_uninterrupted_run(tmp_path, monkeypatch, schedules):
    # 20 pairs, batch 4: 5 steps per epoch, so the runs cross an epoch boundary; the learning-rate
    # and mode-seeking schedules continue from the restored optimiser's step count.
    tiny = dict(TINY, **schedules)
    cfg = dict(tiny, checkpoint_every=3)
    train_pix2pix(Pix2PixConfig(**tiny, steps=8), tmp_path / "straight", quiet=True)
    with _killed_on_step(monkeypatch, 5):
        train_pix2pix(Pix2PixConfig(**cfg, steps=8), tmp_path / "killed", quiet=True)
    assert _weights(tmp_path / "killed")["step"] == 3
    train_pix2pix(Pix2PixConfig(**cfg, steps=8), tmp_path / "killed", resume=True, quiet=True)
    a, b = _weights(tmp_path / "straight"), _weights(tmp_path / "killed")
    assert a["step"] == b["step"] == 8
    for key in ("generator", "discriminator"):
        for name, t in a[key].items():
            torch.testing.assert_close(t, b[key][name], rtol=0, atol=1e-6, msg=f"{key}.{name}")
    assert read_log(tmp_path / "killed") == read_log(tmp_path / "straight")


def test_short_training_runs_and_records_the_task(tmp_path):
    run = tmp_path / "run"
    train_pix2pix(Pix2PixConfig(**TINY, steps=6, ms_weight=0.0), run, quiet=True)
    config = json.loads((run / "config.json").read_text())
    assert config["task"] == "image-to-image" and config["image_size"] == 32
    assert config["input_channels"] == 1 and config["output_channels"] == 1 and config["n_train"] == 20
    rows = read_log(run)
    assert [r["step"] for r in rows] == list(range(1, 7))
    for r in rows:   # baseline: G's loss is GAN + L1 only; the MS term is logged, not added
        assert np.isfinite(list(r.values())).all()
        assert r["loss_g"] == pytest.approx(r["loss_g_gan"] + r["loss_l1"], rel=1e-5)
        assert r["loss_ms"] > 0


def test_warm_up_trains_the_baseline_then_adds_the_term(tmp_path):
    """During the warm-up an MSGAN run is the pix2pix run, step for step; then the term counts."""
    train_pix2pix(Pix2PixConfig(**TINY, steps=3, ms_weight=0.0), tmp_path / "base", quiet=True)
    train_pix2pix(Pix2PixConfig(**TINY, steps=3, ms_weight=1.0, ms_warmup=3), tmp_path / "warm",
                  quiet=True)
    a, b = _weights(tmp_path / "base"), _weights(tmp_path / "warm")
    for name, t in a["generator"].items():
        torch.testing.assert_close(t, b["generator"][name], rtol=0, atol=0, msg=name)
    train_pix2pix(Pix2PixConfig(**TINY, steps=5, ms_weight=1.0, ms_warmup=3), tmp_path / "more",
                  quiet=True)
    rows = read_log(tmp_path / "more")
    for r in rows[:3]:
        assert r["loss_g"] == pytest.approx(r["loss_g_gan"] + r["loss_l1"], rel=1e-5)
    for r in rows[3:]:
        assert r["loss_g"] == pytest.approx(r["loss_g_gan"] + r["loss_l1"] + r["loss_ms"], rel=1e-5)


def test_learning_rate_decays_to_the_official_floor(tmp_path):
    run = tmp_path / "run"
    train_pix2pix(Pix2PixConfig(**TINY, steps=6, lr_decay_steps=4), run, quiet=True)
    state = _weights(run)
    for key in ("opt_g", "opt_d"):
        # the last step (t = 5) ran at 1 - (5 - 2) / 5 of the base rate
        assert state[key]["param_groups"][0]["lr"] == pytest.approx(0.0002 * 0.4)
