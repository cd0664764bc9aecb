"""Unpaired datasets (fashion-mnist-tints, unpaired-folder) and the DRIT train/sample CLI."""
import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from msgan_eval.cli import main
from msgan_eval.datasets import DEBIAN_FASHION_MNIST, FASHION_MNIST_CLASSES, load_fashion_mnist
from msgan_eval.metrics.hues import image_hues
from msgan_eval.train.unpaired_data import (
    TINT_HUES,
    TINT_PALETTE,
    UnpairedData,
    load_unpaired_data,
    read_unpaired_folder,
    tint,
    to_channels,
)

TINY = ["--width", "0.0625", "--batch-size", "4", "--quiet", "--threads", "1"]
needs_data = pytest.mark.skipif(not DEBIAN_FASHION_MNIST.exists(),
                                reason="apt-get install dataset-fashion-mnist")
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def assert_clean_error(result, *needles):
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    for needle in needles:
        assert str(needle) in result.output, (needle, result.output)


# --- fashion-mnist-tints -----------------------------------------------------------------------

def test_tint_is_grey_level_times_the_hue():
    grey = np.array([[[0, 128, 255]]], np.uint8)
    assert tint(grey, np.array([0]))[0, 0].tolist() == [[0, 0, 0], [128, 0, 0], [255, 0, 0]]
    assert tint(grey, np.array([1]))[0, 0, 1].tolist() == [128, 128, 0]        # yellow
    assert tint(grey, np.array([4]))[0, 0, 2].tolist() == [0, 0, 255]          # blue
    assert [name for name, _ in TINT_PALETTE] == ["red", "yellow", "green", "cyan", "blue", "magenta"]


@needs_data
def test_tints_split_items_between_domains_deterministically():
    images, labels = load_fashion_mnist("test")
    data = load_unpaired_data("fashion-mnist-tints", split="test")
    assert data.a.shape == (5000, 1, 32, 32) and data.b.shape == (5000, 3, 32, 32)
    assert np.array_equal(data.a[3, 0, 2:30, 2:30], images[6])           # A: even items, grey
    assert np.array_equal(data.hues_b[:8], [0, 1, 2, 3, 4, 5, 0, 1])     # B item j: hue j % 6
    assert np.array_equal(data.b[3, :, 2:30, 2:30].transpose(1, 2, 0), tint(images[7:8], [3])[0])
    assert data.names_a[1] == f"00002-{FASHION_MNIST_CLASSES[labels[2]]}"
    assert np.array_equal(data.labels_b, labels[1::2])
    again = load_unpaired_data("fashion-mnist-tints", split="test")
    assert np.array_equal(again.b, data.b)


@needs_data
def test_the_hue_counter_reads_the_tints_back():
    data = load_unpaired_data("fashion-mnist-tints", split="test")
    rgb = data.b[:3000].transpose(0, 2, 3, 1)
    found = image_hues(rgb, TINT_HUES)
    visible = (data.b[:3000].max((1, 2, 3)) >= 128)          # items bright enough to carry a hue
    assert (found[visible] == data.hues_b[:3000][visible]).mean() > 0.99
    grey = np.repeat(data.a[:500].transpose(0, 2, 3, 1), 3, axis=3)
    assert (image_hues(grey, TINT_HUES) == -1).all()


@needs_data
def test_subset_per_class_is_balanced_in_each_domain():
    data = load_unpaired_data("fashion-mnist-tints", subset_per_class=3, seed=0)
    assert len(data.a) == len(data.b) == 30
    assert np.bincount(data.labels_a).tolist() == [3] * 10 == np.bincount(data.labels_b).tolist()
    assert len(data.hues_b) == 30


def test_batches_walk_the_larger_domain_and_draw_partners():
    a, b = np.arange(10).reshape(10, 1, 1, 1), 100 + np.arange(4).reshape(4, 1, 1, 1)
    data = UnpairedData(a, b, tuple("abcdefghij"))
    xa, xb = data.batch(np.array([7, 2]), np.random.default_rng(0))
    assert xa.ravel().tolist() == [7, 2] and set(xb.ravel()) <= set(range(100, 104))
    flipped = UnpairedData(b, a, tuple("abcd"))
    ya, yb = flipped.batch(np.array([7, 2]), np.random.default_rng(0))
    assert yb.ravel().tolist() == [7, 2] and len(flipped) == 10


def test_to_channels_uses_the_official_luminance():
    rgb = np.zeros((1, 3, 2, 2), np.uint8)
    rgb[0, 0] = 200
    assert to_channels(rgb, 1)[0, 0, 0, 0] == round(200 * 0.299)
    assert to_channels(to_channels(rgb, 1), 3).shape == (1, 3, 2, 2)


# --- unpaired-folder ---------------------------------------------------------------------------

def _write(folder, n, size=32, colour=False, prefix="im"):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(len(str(folder)))
    for i in range(n):
        shape = (size, size, 3) if colour else (size, size)
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(folder / f"{prefix}{i:02d}.png")


@pytest.fixture
def cyclegan(tmp_path):
    root = tmp_path / "summer2winter"
    _write(root / "trainA", 6)
    _write(root / "trainB", 4, colour=True)
    _write(root / "testA", 3)
    _write(root / "testB", 2, colour=True)
    return root


def test_unpaired_folder_reads_cyclegan_layout(cyclegan):
    train = read_unpaired_folder(str(cyclegan), "train")
    assert train.a.shape == (6, 1, 32, 32) and train.b.shape == (4, 3, 32, 32) and len(train) == 6
    test = load_unpaired_data("unpaired-folder", str(cyclegan), split="test")
    assert test.names_a == ("im00", "im01", "im02") and test.b.shape[0] == 2


def test_unpaired_folder_errors_name_the_folder(cyclegan, tmp_path):
    import shutil

    from msgan_eval.errors import UserError

    with pytest.raises(UserError, match="needs --data-root"):
        read_unpaired_folder(None, "train")
    shutil.rmtree(cyclegan / "trainB")
    with pytest.raises(UserError, match="no trainB/ folder"):
        read_unpaired_folder(str(cyclegan), "train")
    _write(cyclegan / "trainB", 2, size=64, colour=True)
    with pytest.raises(UserError, match="resize both domains"):
        read_unpaired_folder(str(cyclegan), "train")
    shutil.rmtree(cyclegan / "trainB")
    _write(cyclegan / "trainB", 4, colour=True)
    _write(cyclegan / "trainA" / "sub", 1)
    with pytest.raises(UserError, match="trainA: holds 6 image.* and class sub-folders"):
        read_unpaired_folder(str(cyclegan), "train")     # the image road's own message
    for f in (cyclegan / "trainA").glob("*.png"):
        f.unlink()
    with pytest.raises(UserError, match="trainA: holds the sub-folder sub/"):
        read_unpaired_folder(str(cyclegan), "train")


def test_unpaired_folder_refuses_odd_sizes(tmp_path):
    from msgan_eval.errors import UserError

    _write(tmp_path / "d" / "trainA", 2, size=48)
    _write(tmp_path / "d" / "trainB", 2, size=48)
    with pytest.raises(UserError, match="square images of 32, 64, 128, 256"):
        read_unpaired_folder(str(tmp_path / "d"), "train")


# --- CLI ---------------------------------------------------------------------------------------

def test_train_and_sample_an_unpaired_folder(cyclegan, tmp_path):
    out = tmp_path / "run"
    result = run("train", "--model", "drit", "--dataset", "unpaired-folder", "--data-root", cyclegan,
                 "--out", out, "--steps", 3, *TINY, "--json")
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text())
    assert config["task"] == "unpaired" and config["model"] == "drit" and config["n_train"] == 6
    assert config["input_channels"] == 1 and config["output_channels"] == 3
    samples = tmp_path / "samples"
    result = run("sample", "--run", out, "--out", samples, "--inputs", 2, "--per-input", 3, "--json")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (samples / "samples").iterdir()) == ["im00", "im01"]
    assert len(list((samples / "samples" / "im01").glob("*.png"))) == 3
    assert json.loads(result.stdout)["hues"] is None      # no palette outside fashion-mnist-tints
    result = run("train", "--out", out, "--resume", "--steps", 5, "--quiet")
    assert result.exit_code == 0, result.output
    assert json.loads((out / "config.json").read_text())["total_steps"] == 5


def test_model_option_is_checked(tmp_path, cyclegan):
    assert_clean_error(run("train", "--model", "drit", "--dataset", "fashion-mnist-edges", "--out",
                           tmp_path / "x", "--steps", 1, "--quiet"),
                       "--model drit", "fashion-mnist-tints or unpaired-folder")
    assert_clean_error(run("train", "--model", "drit", "--dataset", "unpaired-folder", "--out",
                           tmp_path / "y", "--steps", 1, "--batch-size", 1, "--data-root", cyclegan,
                           "--quiet"), "--batch-size 1", "two halves")
    assert not (tmp_path / "y" / "checkpoint.pt").exists()


def test_snapshots_of_a_drit_run_can_be_sampled(cyclegan, tmp_path):
    out = tmp_path / "run"
    result = run("train", "--dataset", "unpaired-folder", "--data-root", cyclegan, "--out", out,
                 "--steps", 4, "--checkpoint-every", 2, "--keep-checkpoints", "all", *TINY)
    assert result.exit_code == 0, result.output
    for step in (2, 4):
        result = run("sample", "--run", out, "--out", tmp_path / f"s{step}", "--step", step,
                     "--inputs", 1, "--per-input", 2, "--json", "--quiet")
        assert result.exit_code == 0, result.output
        assert json.loads((tmp_path / f"s{step}" / "sample.json").read_text())["step"] == step
    a = (tmp_path / "s2" / "samples" / "im00" / "000.png").read_bytes()
    assert a != (tmp_path / "s4" / "samples" / "im00" / "000.png").read_bytes()
