"""StackGAN++ + MS against a written-out copy of the official code (tests/stackgan_reference.py:
HelenMao/MSGAN ``StackGAN++-Mode-Seeking/model.py`` and ``trainer.py``), and the resume promise."""
import copy
import json
from pathlib import Path

import numpy as np
import pytest
import stackgan_reference as ref
import torch

from msgan_eval.datasets import DEBIAN_FASHION_MNIST
from msgan_eval.train import stackgan
from msgan_eval.train.runs import read_log
from msgan_eval.train.stackgan import StackGanConfig, build_stackgan, train_stackgan
from msgan_eval.train.stackgan_losses import train_step
from msgan_eval.train.stackgan_models import DNet, GNet

pytestmark = pytest.mark.usefixtures("one_torch_thread")
needs_data = pytest.mark.skipif(not DEBIAN_FASHION_MNIST.exists(),
                                reason="apt-get install dataset-fashion-mnist")


# --- networks: at the official sizes they are the official ones --------------------------------

def test_full_size_generator_is_the_official_one():
    ref.make_cfg(t_dim=1024, branch_num=2)
    torch.manual_seed(0)
    ours, theirs = GNet(1024, branch_num=2, base_size=64), ref.G_NET()
    theirs.load_state_dict(ours.state_dict(), strict=True)
    z, text = torch.randn(2, 100), torch.randn(2, 1024)
    torch.manual_seed(5)
    a, mu_a, lv_a = ours(z, text)           # our CA draws torch.randn, the official normal_()
    torch.manual_seed(5)
    b, mu_b, lv_b = theirs(z, text)
    assert [tuple(x.shape) for x in a] == [(2, 3, 64, 64), (2, 3, 128, 128)]
    for x, y in zip([*a, mu_a, lv_a], [*b, mu_b, lv_b]):
        torch.testing.assert_close(x, y, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("size,cls", [(64, "D_NET64"), (128, "D_NET128"), (256, "D_NET256")])
def test_full_size_discriminators_are_the_official_ones(size, cls):
    ref.make_cfg()
    torch.manual_seed(0)
    ours, theirs = DNet(size), getattr(ref, cls)()
    theirs.load_state_dict(ours.state_dict(), strict=True)
    x, c = torch.rand(2, 3, size, size) * 2 - 1, torch.randn(2, 128)
    for a, b in zip(ours(x, c), theirs(x, c)):
        assert a.shape == (2,)
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_two_stages_at_16_and_32_pixels():
    gan = build_stackgan(StackGanConfig(width=0.125), 64, torch.device("cpu"))
    fakes, mu, logvar = gan.G.net(torch.randn(3, 100), torch.randn(3, 64))
    assert [tuple(f.shape) for f in fakes] == [(3, 3, 16, 16), (3, 3, 32, 32)]
    assert mu.shape == logvar.shape == (3, 128)
    for d, f in zip(gan.D.nets, fakes):
        assert [tuple(o.shape) for o in d(f, mu)] == [(3,), (3,)]
    names = [n for n, _ in gan.D.nets[0].named_children()]
    assert names == ["img_code_s16", "logits", "jointConv", "uncond_logits"]


# --- the official update -----------------------------------------------------------------------

@pytest.mark.parametrize("ms_weight", [0.0, 1.0])
def test_iterations_match_the_official_update(ms_weight):
    config = StackGanConfig(width=0.125, seed=2)
    gan = build_stackgan(config, 64, torch.device("cpu"))
    official = ref.OfficialTrainer(copy.deepcopy(gan.G.net), copy.deepcopy(gan.D.nets),
                                   no_ms=ms_weight == 0)
    ref.make_cfg(t_dim=64, branch_num=2)
    rng = torch.Generator().manual_seed(9)
    for it in range(3):
        real = [torch.rand(4, 3, s, s, generator=rng) * 2 - 1 for s in (16, 32)]
        wrong = [torch.rand(4, 3, s, s, generator=rng) * 2 - 1 for s in (16, 32)]
        emb, z1, z2 = (torch.randn(4, d, generator=rng) for d in (64, 100, 100))
        ours = train_step(gan, real, wrong, emb, z1, z2, torch.Generator().manual_seed(it), ms_weight)
        torch.manual_seed(it)
        official.iteration(real, wrong, emb, z1, z2)
        assert ours["loss_g"] == pytest.approx(official.errG_total, rel=1e-5)
        assert ours["loss_d0"] + ours["loss_d1"] == pytest.approx(official.errD_total, rel=1e-5)
        assert ("loss_ms" in ours) == (ms_weight > 0)
    pairs = [(gan.G.net, official.netG), (gan.D.nets, torch.nn.ModuleList(official.netsD))]
    for mine, theirs in pairs:
        for (name, a), b in zip(mine.state_dict().items(), theirs.state_dict().values()):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=name)
    for a, b in zip(gan.G.average.parameters(), official.avg_param_G):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)


def test_sampling_net_has_the_average_weights_and_the_training_statistics():
    gan = build_stackgan(StackGanConfig(width=0.125), 64, torch.device("cpu"))
    with torch.no_grad():
        for p in gan.G.net.parameters():
            p.add_(1.0)
        gan.G.net.img_net1.img[0].weight.add_(0)    # parameters moved, averages not yet
    gan.G.update_average(0.5)
    net = gan.G.sampling_net()
    assert not net.training
    for p, avg in zip(net.parameters(), gan.G.average.parameters()):
        assert torch.equal(p, avg)
    for (name, b), b_net in zip(net.named_buffers(), gan.G.net.buffers()):
        assert torch.equal(b, b_net), name


# --- runs: resume ------------------------------------------------------------------------------

def _weights(run_dir):
    return torch.load(Path(run_dir) / "checkpoint.pt", weights_only=True)


@needs_data
def test_killed_and_resumed_run_equals_uninterrupted_run(tmp_path, monkeypatch):
    import contextlib

    cfg = dict(width=0.0625, batch_size=8, subset_per_class=2, steps=5)    # 20 items: 2 per epoch
    train_stackgan(StackGanConfig(**cfg, checkpoint_every=100), tmp_path / "straight", quiet=True)
    real_step, calls = stackgan.train_step, {"n": 0}

    def step(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return real_step(*args, **kwargs)

    monkeypatch.setattr(stackgan, "train_step", step)
    with contextlib.suppress(KeyboardInterrupt):
        train_stackgan(StackGanConfig(**cfg, checkpoint_every=3), tmp_path / "killed", quiet=True)
    monkeypatch.setattr(stackgan, "train_step", real_step)
    assert _weights(tmp_path / "killed")["step"] == 3
    train_stackgan(StackGanConfig(**cfg, checkpoint_every=3), tmp_path / "killed", resume=True,
                   quiet=True)
    a, b = _weights(tmp_path / "straight"), _weights(tmp_path / "killed")
    for key in ("generator", "discriminator"):
        for name, t in a[key].items():
            torch.testing.assert_close(t, b[key][name], rtol=0, atol=1e-6, msg=f"{key}.{name}")
    assert read_log(tmp_path / "killed") == read_log(tmp_path / "straight")
    config = json.loads((tmp_path / "straight" / "config.json").read_text())
    assert config["task"] == "text-to-image" and config["stage_sizes"] == [16, 32]
    assert config["t_dim"] == 64 and config["n_train"] == 20
    rows = read_log(tmp_path / "straight")
    assert all(np.isfinite(list(r.values())).all() and "loss_ms" in r for r in rows)


@needs_data
def test_train_and_sample_through_the_cli(tmp_path):
    from click.testing import CliRunner

    from msgan_eval.cli import main

    def run(*args):
        return CliRunner().invoke(main, [str(a) for a in args])

    out = tmp_path / "run"
    result = run("train", "--model", "stackgan", "--dataset", "fashion-mnist-captions", "--out", out,
                 "--steps", 2, "--width", 0.0625, "--batch-size", 4, "--subset-per-class", 1,
                 "--checkpoint-every", 1, "--keep-checkpoints", "all", "--quiet", "--threads", 1)
    assert result.exit_code == 0, result.output
    result = run("sample", "--run", out, "--out", tmp_path / "s", "--captions", 12, "--per-input", 3,
                 "--step", 1, "--json", "--quiet")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["n"] == 36 and len(payload["hues"]["colourless"]["per_input"]) == 10
    assert set(payload["hues"]["named_hue_share_per_caption"]) == {"a-red-t-shirt", "a-yellow-t-shirt"}
    folders = sorted(p.name for p in (tmp_path / "s" / "samples").iterdir())
    assert len(folders) == 12 and "an-ankle-boot" in folders
    result = run("train", "--out", out, "--resume", "--steps", 3, "--quiet")
    assert result.exit_code == 0, result.output
