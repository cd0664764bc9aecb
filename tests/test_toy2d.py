"""PacGAN's 2D trainer (train/toy2d*.py): each trial of the batched model is checked against a
single-trial PacGAN step written out here (plain matmuls, Blocks' BN and Adam formulas), plus the
packing layout, trial independence, resume and the run folder's modes.json."""
import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner

from msgan_eval.cli import main
from msgan_eval.train.losses import mode_seeking_loss
from msgan_eval.train.toy2d import Toy2DConfig, Toy2DData, build_toy2d, losses_of, make_toy2d_step
from msgan_eval.train.toy2d_models import BlocksAdam
from msgan_eval.train.trainer import Dist

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SMALL = dict(trials=3, n_train=400, batch_size=20, g_hidden=16, d_hidden=8, g_layers=2,
             d_layers=2, bn_refresh_batches=2, checkpoint_every=7)


def _trial_weights(gan, t):
    G, D = gan.G, gan.D
    return {"gw": [w[t].detach().clone().double() for w in G.weights],
            "gs": [s[t].detach().clone().double() for s in G.scales],
            "gb": [b[t].detach().clone().double() for b in G.shifts],
            "gbias": [b[t].detach().clone().double() for b in G.biases],
            "gow": G.out_weight[t].detach().clone().double(), "gob": G.out_bias[t].detach().clone().double(),
            "dw": [w[t].detach().clone().double() for w in D.weights],
            "db": [b[t].detach().clone().double() for b in D.biases],
            "dow": D.out_weight[t].detach().clone().double(), "dob": D.out_bias[t].detach().clone().double()}


def ref_generator(p, z):
    """decoder of pacgan_task.py l.43-59 for one call: Linear (no bias) -> BN (batch statistics,
    eps 1e-4, bn.py l.193-206) -> ReLU, then Linear with bias."""
    h = z
    if p["gbias"]:          # the unrolled-GAN variant: Linear with bias -> ReLU, no BN
        for w, b in zip(p["gw"], p["gbias"]):
            h = torch.relu(h @ w + b)
        return h @ p["gow"] + p["gob"]
    for w, s, b in zip(p["gw"], p["gs"], p["gb"]):
        h = h @ w
        mean = h.mean(0)
        stdev = torch.sqrt(((h - mean) ** 2).mean(0) + 1e-4)
        h = torch.relu((h - mean) / stdev * s + b)
    return h @ p["gow"] + p["gob"]


def ref_discriminator(p, x, pieces=5):
    for w, b in zip(p["dw"], p["db"]):
        h = x @ w + b
        if p["relu"]:
            x = torch.relu(h)
            continue
        x = h.reshape(h.shape[0], -1, pieces).max(dim=2).values    # Maxout, simple.py l.175-180
    return (x @ p["dow"] + p["dob"])[:, 0]


def ref_step(p, real, zs, ms_weight, z_ms=None, lr=1e-4, b1=0.8, b2=0.999, eps=1e-8):
    """One simultaneous PacGAN step for one trial, then Blocks' Adam at t = 1."""
    p = dict(p)
    relu = p.pop("relu")
    leaves = {k: ([v.clone().requires_grad_() for v in p[k]] if isinstance(p[k], list)
                  else p[k].clone().requires_grad_()) for k in p}
    leaves["relu"] = relu
    fakes = [ref_generator(leaves, z) for z in zs]
    packed = torch.cat(fakes, dim=1)                              # bricks.py l.67: axis=1
    d_real, d_fake = ref_discriminator(leaves, real), ref_discriminator(leaves, packed)
    loss_d = (F.softplus(-d_real) + F.softplus(d_fake)).mean()
    loss_g = (F.softplus(d_real) + F.softplus(-d_fake)).mean()
    if ms_weight:
        extra = ref_generator(leaves, z_ms)
        lz = torch.mean(torch.abs(extra - fakes[0])) / torch.mean(torch.abs(z_ms - zs[0]))
        loss_g = loss_g + ms_weight / (lz + 1e-5)
    d_keys, g_keys = ("dw", "db", "dow", "dob"), ("gw", "gs", "gb", "gbias", "gow", "gob")
    flat = lambda keys: [x for k in keys for x in (leaves[k] if isinstance(leaves[k], list) else [leaves[k]])]
    new = {}
    for keys, loss in ((d_keys, loss_d), (g_keys, loss_g)):
        grads = torch.autograd.grad(loss, flat(keys), retain_graph=True)
        for x, g in zip(flat(keys), grads):
            m, v = (1 - b1) * g, (1 - b2) * g * g             # Adam buffers from 0 at t = 1
            rate = lr * math.sqrt(1 - b2) / (1 - b1)
            new[id(x)] = (x - rate * m / (torch.sqrt(v) + eps)).detach()
    return {k: ([new[id(x)] for x in leaves[k]] if isinstance(leaves[k], list) else new[id(leaves[k])])
            for k in leaves if k != "relu"}


UNROLLED = dict(g_batchnorm=False, d_activation="relu", latent=5, init_std=0.2)


@pytest.mark.parametrize("pack,ms_weight,variant", [(1, 0.0, {}), (2, 0.0, {}), (1, 1.0, {}),
                                                    (2, 0.5, {}), (2, 1.0, UNROLLED)])
def test_each_trial_takes_pacgans_step(pack, ms_weight, variant):
    torch.set_default_dtype(torch.float64)
    try:
        config = Toy2DConfig(dataset="ring", pack=pack, ms_weight=ms_weight, steps=1,
                             **{**SMALL, **variant})
        data = Toy2DData(config)
        gan = build_toy2d(config, data, torch.device("cpu"))
        before = [{**_trial_weights(gan, t), "relu": config.d_activation == "relu"}
                  for t in range(config.trials)]
        idx = np.arange(7, 7 + config.batch_size)
        z1 = torch.randn(config.batch_size, config.z_dim, generator=torch.Generator().manual_seed(5))
        config.bn_refresh_batches = 0
        step = make_toy2d_step(gan, data, config, Dist(0, 1, torch.device("cpu"), False))
        step(idx, z1, z1)
        from msgan_eval.train.toy2d import split_noise

        z = split_noise(z1, config)
        real = data.batch(idx)
        for t in range(config.trials):
            want = ref_step(before[t], real[t].double(), [z[t, j] for j in range(pack)], ms_weight,
                            z[t, pack] if ms_weight else None)
            got = _trial_weights(gan, t)
            for k in want:
                for a, b in zip(want[k] if isinstance(want[k], list) else [want[k]],
                                got[k] if isinstance(got[k], list) else [got[k]]):
                    assert torch.allclose(a, b, rtol=1e-9, atol=1e-12), (t, k)
    finally:
        torch.set_default_dtype(torch.float32)


def test_packed_rows_are_bootstrap_points_side_by_side():
    config = Toy2DConfig(dataset="grid", pack=3, steps=1, **SMALL)
    data = Toy2DData(config)
    idx = np.array([4, 0, 9])
    rows = data.batch(idx)
    assert rows.shape == (3, 3, 6)
    for t in range(3):
        for j in range(3):
            for i, k in enumerate(idx):
                assert torch.equal(rows[t, i, 2 * j:2 * j + 2], data.points[t, data.boot[t, j, k]])


def test_trials_do_not_interact():
    config = Toy2DConfig(dataset="ring", pack=2, ms_weight=1.0, steps=1, **SMALL)
    data = Toy2DData(config)
    gan = build_toy2d(config, data, torch.device("cpu"))
    z = torch.randn(config.trials, config.groups, config.batch_size, 2)
    real = data.batch(np.arange(config.batch_size))
    with torch.no_grad():
        loss_d, loss_g, ms, _ = losses_of(gan, real, z, config)
        loss_d2, loss_g2, ms2, _ = losses_of(gan, real + (torch.arange(3) == 0)[:, None, None],
                                             z * (1 + 2 * (torch.arange(3) == 0))[:, None, None, None],
                                             config)
        fake, _ = gan.G(z)
    assert not torch.allclose(loss_d[0], loss_d2[0])
    assert torch.equal(loss_d[1:], loss_d2[1:]) and torch.equal(ms[1:], ms2[1:])
    assert float(ms[2]) == pytest.approx(float(mode_seeking_loss(fake[2, 0], fake[2, 2], z[2, 0], z[2, 2])))


def test_blocks_adam_differs_from_torch_adam_only_in_eps_placement():
    p1 = torch.nn.Parameter(torch.tensor([1.0, -2.0, 3e-9]))
    p2 = torch.nn.Parameter(p1.detach().clone())
    ours, theirs = BlocksAdam([p1], lr=0.1, beta1=0.8), torch.optim.Adam([p2], lr=0.1, betas=(0.8, 0.999), eps=0)
    for step in range(3):
        g = torch.tensor([0.5, -1.0, 1e-9]) * (step + 1)
        p1.grad, p2.grad = g.clone(), g.clone()
        ours.step()
        theirs.step()
    assert torch.allclose(p1[:2], p2[:2], rtol=1e-6)      # eps negligible against large gradients
    assert not torch.allclose(p1[2:], p2[2:], rtol=1e-3)  # eps matters: Blocks adds it after sqrt(v)


def test_resume_ends_with_the_weights_of_an_uninterrupted_run(tmp_path):
    from msgan_eval.train.toy2d_run import train_toy2d

    base = dict(dataset="grid", pack=2, ms_weight=1.0, **SMALL)
    train_toy2d(Toy2DConfig(steps=45, **base), tmp_path / "straight", quiet=True)
    train_toy2d(Toy2DConfig(steps=20, **base), tmp_path / "resumed", quiet=True)
    train_toy2d(Toy2DConfig(steps=45, **base), tmp_path / "resumed", resume=True, quiet=True)
    a = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=True)
    b = torch.load(tmp_path / "resumed" / "checkpoint.pt", weights_only=True)
    for key in ("generator", "discriminator"):
        for name in a[key]:
            assert torch.equal(a[key][name], b[key][name]), name
    assert json.loads((tmp_path / "straight" / "modes.json").read_text())["trials"] == \
        json.loads((tmp_path / "resumed" / "modes.json").read_text())["trials"]


def test_cli_run_folder_holds_points_and_modes_per_trial(tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["train", "--dataset", "ring", "--out", str(out), "--steps",
                                       "6", "--trials", "2", "--pack", "2", "--width", "0.05",
                                       "--quiet", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    modes = json.loads((out / "modes.json").read_text())
    points = np.load(out / "points.npy")
    assert points.shape == (2, 2500, 2) and modes["arm"] == "PacGAN2" and len(modes["trials"]) == 2
    from msgan_eval import modes as count

    assert modes["trials"][1]["counts"] == count("ring", points[1]).counts
    assert payload["modes"] == modes["summary"]
    config = json.loads((out / "config.json").read_text())
    assert config["task"] == "toy2d" and config["g_hidden"] == 400 and config["width"] == 0.05
    refused = CliRunner().invoke(main, ["train", "--dataset", "fashion-mnist", "--out",
                                        str(tmp_path / "x"), "--steps", "1", "--pack", "2"])
    assert refused.exit_code == 2 and "--pack does not apply" in refused.stderr
