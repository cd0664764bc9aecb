"""DRIT + MS against a written-out copy of the official code (tests/drit_reference.py: HelenMao/MSGAN
``DRIT-Mode-Seeking/networks.py`` and ``model.py``), the step schedule, and the resume promise."""
import contextlib
import copy
import json
from pathlib import Path

import drit_reference as ref
import numpy as np
import pytest
import torch

from msgan_eval.datasets import DEBIAN_FASHION_MNIST
from msgan_eval.train import drit
from msgan_eval.train.drit import DritConfig, build_drit, is_full_update, train_drit
from msgan_eval.train.drit_models import (
    DisContent,
    EAttrConcat,
    EContent,
    GConcat,
    MultiScaleDis,
    content_dis_kernels,
    dis_layers,
)
from msgan_eval.train.runs import read_log
from msgan_eval.train.seeding import keyed_generator
from msgan_eval.train.unpaired_data import UnpairedData

pytestmark = pytest.mark.usefixtures("one_torch_thread")
needs_data = pytest.mark.skipif(not DEBIAN_FASHION_MNIST.exists(),
                                reason="apt-get install dataset-fashion-mnist")
TINY = dict(width=0.0625, batch_size=4, subset_per_class=2, checkpoint_every=100)


# --- networks: our modules at width 1 are the official ones ----------------------------------

def _same_outputs(ours, theirs, *inputs, method="forward"):
    theirs.load_state_dict(ours.state_dict(), strict=True)   # same names, same shapes
    a, b = getattr(ours, method)(*inputs), getattr(theirs, method)(*inputs)
    for x, y in zip(a if isinstance(a, (list, tuple)) else [a], b if isinstance(b, (list, tuple)) else [b]):
        torch.testing.assert_close(x, y, rtol=1e-5, atol=1e-6)


def test_full_width_encoders_and_generator_are_the_official_ones():
    torch.manual_seed(0)
    xa, xb = torch.rand(2, 1, 32, 32) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1
    _same_outputs(EContent(1, 3).eval(), ref.E_content(1, 3).eval(), xa, xb)
    _same_outputs(EAttrConcat(1, 3), ref.E_attr_concat(1, 3), xa, xb)
    content, z = torch.randn(2, 256, 8, 8), torch.randn(2, 8)
    for method in ("forward_a", "forward_b"):
        _same_outputs(GConcat(1, 3), ref.G_concat(1, 3, 8), content, z, method=method)


def test_full_width_discriminators_are_the_official_ones():
    torch.manual_seed(0)
    assert dis_layers(64) == 4 and dis_layers(256) == 4 and dis_layers(32) == 3
    _same_outputs(MultiScaleDis(3, dis_layers(64)), ref.MultiScaleDis(3, 3, 4),
                  torch.rand(2, 3, 64, 64) * 2 - 1)
    # 216-pixel crops (the official --crop_size) give 54-pixel content maps
    assert content_dis_kernels(54) == (7, 1, 4)
    _same_outputs(DisContent(256, 54), ref.Dis_content(), torch.randn(2, 256, 54, 54))


@pytest.mark.parametrize("size", [32, 64, 128])
def test_scaled_content_discriminator_sees_the_whole_map(size):
    dis = DisContent(16, size // 4)
    out = dis(torch.randn(3, 16, size // 4, size // 4))
    assert len(out) == 1 and out[0].shape == (3,)      # one score per image, as at 216 pixels


def test_networks_shapes_at_32_pixels():
    gan = build_drit(DritConfig(width=0.125), 1, 3, 32, torch.device("cpu"))
    G = gan.G.eval()
    y = G.translate_a2b(torch.rand(5, 1, 32, 32) * 2 - 1, torch.randn(5, 8))
    assert y.shape == (5, 3, 32, 32) and y.abs().max() <= 1
    assert [tuple(o.shape) for o in gan.D.disB(y)] == [(5, 1, 4, 4), (5, 1, 2, 2), (5, 1, 1, 1)]
    convs = [m for m in G.modules() if type(m).__name__.startswith("Conv")]
    assert abs(float(torch.cat([c.weight.detach().flatten() for c in convs]).std()) - 0.02) < 0.002


# --- the official update -----------------------------------------------------------------------

def _reference_model(gan, ms_weight, half):
    G, D = copy.deepcopy(gan.G), copy.deepcopy(gan.D)
    return ref.OfficialDRIT(G.enc_c, G.enc_a, G.gen, D.disA, D.disB, D.disA2, D.disB2,
                            D.disContent, no_ms=ms_weight == 0, half_size=half)


@pytest.mark.parametrize("ms_weight,batch", [(0.0, 2), (1.0, 2), (1.0, 4)])
def test_iterations_match_the_official_update(ms_weight, batch):
    """One epoch of six batches (full updates at 2 and at the last two, 4 and 5) against
    model.py's update, same noise."""
    rng = np.random.default_rng(0)
    n = 6 * batch
    data = UnpairedData(rng.integers(0, 256, (n, 1, 32, 32), dtype=np.uint8),
                        rng.integers(0, 256, (n - 1, 3, 32, 32), dtype=np.uint8), ("x",) * n)
    config = DritConfig(width=0.0625, batch_size=batch, ms_weight=ms_weight, seed=3)
    gan = build_drit(config, 1, 3, 32, torch.device("cpu"))
    official = _reference_model(gan, ms_weight, batch // 2)
    dist = drit.Dist(0, 1, torch.device("cpu"), False)
    step = drit._make_step(gan, data, config, dist)
    order, batches, ours = rng.permutation(n), [], []
    for t in range(6):
        idx = order[t * batch:(t + 1) * batch]
        a, b = data.batch(idx, np.random.default_rng([config.seed, 0, t, 1]))
        seed = keyed_generator(config.seed, 0, t).initial_seed()
        batches.append((torch.from_numpy(a).float() / 127.5 - 1, torch.from_numpy(b).float() / 127.5 - 1, seed))
        ours.append(step(idx, None, None))
    ref.official_loop(official, batches)
    assert [sorted(r) == ["loss_dis_content"] for r in ours] == [True, True, False, True, False, False]
    assert ours[-1]["loss_g"] == pytest.approx(official.G_loss, rel=1e-5)
    assert ours[-1]["loss_dis_content"] == pytest.approx(official.disContent_loss, rel=1e-5)
    assert ours[-1]["loss_disA2"] == pytest.approx(official.disA2_loss, rel=1e-5)
    assert ("loss_ms" in ours[-1]) == (ms_weight > 0)
    for name in ("enc_c", "enc_a", "gen", "disA", "disB", "disA2", "disB2", "disContent"):
        mine = getattr(gan.G if name in ("enc_c", "enc_a", "gen") else gan.D, name)
        for (key, a), b in zip(mine.state_dict().items(), getattr(official, name).state_dict().values()):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=f"{name}.{key}")
    assert int(gan.D.iterations) == 6


def test_mode_seeking_weight_scales_the_term():
    """ms_weight multiplies only the mode-seeking terms: the loss difference is exactly their sum."""
    rng = np.random.default_rng(1)
    a = torch.from_numpy(rng.random((4, 1, 32, 32), dtype=np.float32)) * 2 - 1
    b = torch.from_numpy(rng.random((4, 3, 32, 32), dtype=np.float32)) * 2 - 1
    losses = {}
    for w in (1.0, 3.0):
        gan = build_drit(DritConfig(width=0.0625), 1, 3, 32, torch.device("cpu"))
        losses[w] = drit.full_step(gan, a, b, torch.Generator().manual_seed(5), w)
    assert losses[1.0]["loss_ms"] == pytest.approx(losses[3.0]["loss_ms"], rel=1e-6)
    assert losses[3.0]["loss_g_random"] - losses[1.0]["loss_g_random"] == pytest.approx(
        2 * losses[1.0]["loss_ms"], rel=1e-5)


def test_schedule_is_the_official_one():
    # train.py:47 with 10 batches: every third, and the last two (8, 9) always
    assert [p for p in range(10) if is_full_update(p, 10, 3)] == [2, 5, 8, 9]
    assert [p for p in range(4) if is_full_update(p, 4, 1)] == [0, 1, 2, 3]


# --- runs: resume, the log ---------------------------------------------------------------------

def _folder(root: Path) -> Path:
    from msgan_eval.images import write_png

    rng = np.random.default_rng(0)
    for name, n, shape in (("trainA", 7, (32, 32)), ("trainB", 5, (32, 32, 3)),
                           ("testA", 2, (32, 32)), ("testB", 2, (32, 32, 3))):
        for i in range(n):
            write_png(root / name / f"{i}.png", rng.integers(0, 256, shape, dtype=np.uint8))
    return root


def _weights(run_dir):
    return torch.load(Path(run_dir) / "checkpoint.pt", weights_only=True)


@contextlib.contextmanager
def _killed_on_step(monkeypatch, n: int):
    real_step, calls = drit.full_step, {"n": 0}

    def step(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == n:
            raise KeyboardInterrupt
        return real_step(*args, **kwargs)

    monkeypatch.setattr(drit, "full_step", step)
    with pytest.raises(KeyboardInterrupt):
        yield
    monkeypatch.setattr(drit, "full_step", real_step)


def test_killed_and_resumed_run_equals_uninterrupted_run(tmp_path, monkeypatch):
    # 7 A images, batch 2: 3 steps per epoch (the loader's 4th, short batch is skipped), so the
    # runs cross epoch boundaries; the full update at position 2 (every third, and one of the
    # loader's last two batches: 2 and the skipped 3).
    data = str(_folder(tmp_path / "data"))
    cfg = dict(dataset="unpaired-folder", data_root=data, width=0.0625, batch_size=2, steps=8)
    train_drit(DritConfig(**cfg, checkpoint_every=100), tmp_path / "straight", quiet=True)
    with _killed_on_step(monkeypatch, 2):          # the full update of step 6
        train_drit(DritConfig(**cfg, checkpoint_every=3), tmp_path / "killed", quiet=True)
    assert _weights(tmp_path / "killed")["step"] == 3
    train_drit(DritConfig(**cfg, checkpoint_every=3), tmp_path / "killed", resume=True, quiet=True)
    a, b = _weights(tmp_path / "straight"), _weights(tmp_path / "killed")
    assert a["step"] == b["step"] == 8 and int(b["discriminator"]["iterations"]) == 8
    for key in ("generator", "discriminator"):
        for name, t in a[key].items():
            torch.testing.assert_close(t, b[key][name], rtol=0, atol=1e-6, msg=f"{key}.{name}")
    assert read_log(tmp_path / "killed") == read_log(tmp_path / "straight")
    rows = read_log(tmp_path / "straight")
    assert ["loss_g" in r for r in rows] == [False, False, True] * 2 + [False, False]
    config = json.loads((tmp_path / "straight" / "config.json").read_text())
    assert config["task"] == "unpaired" and config["steps_per_epoch"] == 3 and config["n_a"] == 7


def test_baseline_has_no_mode_seeking_term(tmp_path):
    data = str(_folder(tmp_path / "data"))
    train_drit(DritConfig(dataset="unpaired-folder", data_root=data, width=0.0625, batch_size=2,
                          steps=3, ms_weight=0.0), tmp_path / "run", quiet=True)
    full = [r for r in read_log(tmp_path / "run") if "loss_g" in r]
    assert full and all("loss_ms" not in r for r in full)
    assert all(np.isfinite(list(r.values())).all() for r in read_log(tmp_path / "run"))
