"""PacGAN Table 2's stacked-digit DCGAN (train/stacked*.py): data construction, shapes, packing
layout and the update schedule (one D, two G updates per batch)."""
import numpy as np
import pytest
import torch

from msgan_eval.train import stacked_data as SD
from msgan_eval.train.stacked import (
    StackedConfig,
    build_stacked,
    generate_items,
    make_stacked_step,
    uniform_codes,
)
from msgan_eval.train.trainer import Dist

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def digits(monkeypatch):
    """Tiny pooled digits: image i is filled with the value i % 250, label i % 10 (= value % 10)."""
    images = (np.arange(300)[:, None, None] % 250 * np.ones((1, 28, 28))).astype(np.uint8)
    labels = np.arange(300) % 10
    monkeypatch.setattr(SD, "load_digits", lambda dataset, root=None: (images, labels))
    return images, labels


def test_items_stack_three_draws_and_pack_side_by_side(digits):
    images, _ = digits
    data = SD.StackedData("stacked-fashion-mnist", None, 50, 2, seed=3)
    assert data.ids.shape == (50, 3) and data.pack_ids.shape == (50, 2)
    idx = np.array([4, 9])
    x = data.batch(idx)
    assert x.shape == (2, 6, 28, 28) and float(x.max()) <= 1.0
    for i, k in enumerate(idx):
        for j in range(2):
            for c in range(3):
                want = images[data.ids[data.pack_ids[k, j], c]] / 255.0
                assert np.allclose(x[i, 3 * j + c].numpy(), want)


def test_uniform_triple_items_have_the_classes_asked_for(digits):
    images, labels = digits
    items, triples = SD.uniform_triple_items(images, labels, 2000, seed=0)
    assert items.shape == (2000, 28, 28, 3) and items.dtype == np.uint8
    assert np.array_equal(items[:, 0, 0, :] % 10, triples)
    assert len(np.unique(triples @ [100, 10, 1])) > 850


def test_uniform_codes_are_uniform():
    u = uniform_codes(torch.randn(200_000, generator=torch.Generator().manual_seed(0)))
    assert float(u.min()) >= -1 and float(u.max()) <= 1
    assert np.histogram(u.numpy(), bins=10, range=(-1, 1))[0] == pytest.approx([20000] * 10, rel=0.03)


def test_network_shapes_follow_pacgans_dcgan():
    config = StackedConfig(pack=3, width=0.25, steps=1)
    gan = build_stacked(config, None, torch.device("cpu"))
    x = gan.G(torch.rand(5, 100) * 2 - 1)
    assert x.shape == (5, 3, 28, 28) and float(x.abs().max()) <= 1
    assert gan.D(torch.zeros(5, 9, 28, 28)).shape == (5,)
    items = generate_items(gan.G.eval(), n=7, batch=3)
    assert items.shape == (7, 28, 28, 3) and items.dtype == np.uint8


@pytest.mark.parametrize("ms_weight", [0.0, 1.0])
def test_one_d_update_then_two_g_updates(digits, ms_weight):
    config = StackedConfig(pack=2, ms_weight=ms_weight, width=0.125, steps=1, n_items=40,
                           batch_size=4)
    data = SD.StackedData(config.dataset, None, config.n_items, config.pack, config.seed)
    gan = build_stacked(config, data, torch.device("cpu"))
    step = make_stacked_step(gan, data, config, Dist(0, 1, torch.device("cpu"), False))
    losses = step(np.arange(4), torch.randn(4, config.z_dim), None)
    times_d = {s["time"] for s in gan.opt_d.state.values()}
    times_g = {s["time"] for s in gan.opt_g.state.values()}
    assert times_d == {1} and times_g == {2}
    assert ("loss_ms" in losses) == (ms_weight > 0) and config.z_dim == config.groups * 100


def test_a_run_ends_with_its_counted_modes(digits, tmp_path, monkeypatch):
    import json

    from msgan_eval.train import stacked as S

    config = StackedConfig(pack=2, ms_weight=1.0, width=0.125, steps=2, n_items=40, batch_size=4)
    calls, evaluate = [], S.evaluate_stacked_run
    monkeypatch.setattr(S, "evaluate_stacked_run", lambda run_dir, device="cpu": calls.append(run_dir))
    S.train_stacked(config, tmp_path / "run", quiet=True, device="cpu")
    assert calls == [tmp_path / "run"]
    result = evaluate(tmp_path / "run", device="cpu", n=1000)
    saved = json.loads((tmp_path / "run" / "modes.json").read_text())
    assert saved == result and saved["arm"] == "PacDCGAN2+MS" and saved["layout"] == "stacked"
    assert saved["trials"][0]["n"] == 1000 and saved["classifier"]["name"] == "fashion-mnist"
    assert saved["summary"]["modes"]["mean"] == saved["trials"][0]["modes"]


def _write_idx(path, arr):
    """An idx file (big-endian dims, uint8 data), the format of MNIST's and Fashion-MNIST's files."""
    import gzip
    import struct

    header = struct.pack(">HBB", 0, 0x08, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + arr.astype(np.uint8).tobytes())


def test_stacked_mnist_reads_the_users_idx_files(tmp_path):
    """stacked-mnist's user path (MNIST is not available offline): crafted idx files in
    torchvision's MNIST/raw layout, pooled train + test as model.py l.372."""
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    parts = {"train": rng.integers(0, 256, (30, 28, 28)), "t10k": rng.integers(0, 256, (12, 28, 28))}
    for split, imgs in parts.items():
        _write_idx(raw / f"{split}-images-idx3-ubyte.gz", imgs)
        _write_idx(raw / f"{split}-labels-idx1-ubyte.gz", np.arange(len(imgs)) % 10)
    data = SD.StackedData("stacked-mnist", str(tmp_path), 40, 1, seed=1)
    pooled = np.concatenate([parts["train"], parts["t10k"]]).astype(np.uint8)
    assert np.array_equal(data.digits, pooled) and data.labels.tolist() == [i % 10 for i in range(30)] + \
        [i % 10 for i in range(12)]
    x = data.batch(np.array([5]))
    assert np.allclose(x[0, 2].numpy(), pooled[data.ids[data.pack_ids[5, 0], 2]] / 255.0)
