"""``msgan-eval train`` / ``sample`` through click's CliRunner: end to end, and bad inputs."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from msgan_eval import __version__
from msgan_eval.cli import main
from msgan_eval.datasets import FASHION_MNIST_CLASSES
from msgan_eval.images import scan_images
from msgan_eval.train.models import Generator
from msgan_eval.train.runs import read_log

TINY = ["--width", "0.125", "--batch-size", "8", "--subset-per-class", "4"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def assert_clean_error(result, *needles):
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    for needle in needles:
        assert str(needle) in result.output, (needle, result.output)


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "msgan"
    result = CliRunner().invoke(main, ["train", "--out", str(out), "--steps", "2", *TINY, "--quiet"])
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.parametrize("ms_weight", ["0", "1"])
def test_train_then_sample_end_to_end(tmp_path, ms_weight):
    out = tmp_path / "run"
    result = run("train", "--out", out, "--steps", 3, "--ms-weight", ms_weight, *TINY,
                 "--json", "--quiet")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["version"] == __version__ and payload["step"] == 3
    assert payload["ms_weight"] == float(ms_weight) and payload["seed"] == 0
    config = json.loads((out / "config.json").read_text())
    assert config["class_names"] == list(FASHION_MNIST_CLASSES) and config["channels"] == 1
    rows = read_log(out)
    assert [r["step"] for r in rows] == [1, 2, 3]
    for r in rows:   # baseline: the generator loss is the GAN loss; MSGAN adds 1 x the MS term
        expected = r["loss_g_gan"] + float(ms_weight) * r["loss_ms"]
        assert r["loss_g"] == pytest.approx(expected, rel=1e-5)

    samples, grid = tmp_path / "samples", tmp_path / "grid.png"
    result = run("sample", "--run", out, "--out", samples, "--per-class", 3, "--grid", grid,
                 "--json", "--quiet")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["n"] == 30 and payload["seed"] == 0 and payload["version"] == __version__
    image_set = scan_images(samples)
    assert image_set.conditions == sorted(FASHION_MNIST_CLASSES)
    assert all(len(v) == 3 for v in image_set.groups().values())
    first = Image.open(samples / "t-shirt" / "00000.png")
    assert first.mode == "L" and first.size == (32, 32)
    with Image.open(grid) as g:                      # rows = classes, each headed by its name
        assert g.mode == "L" and g.size[1] == 2 + 10 * 34
        labels = np.asarray(g)[:, :g.size[0] - (2 + 3 * 34)]
    assert all((labels[2 + r * 34:34 + r * 34] > 128).any() for r in range(10))
    assert payload["grid"] == str(grid)


def test_samples_are_the_rounded_generator_output(tmp_path, trained_run):
    from msgan_eval.train.sampler import class_noise

    samples = tmp_path / "s"
    assert run("sample", "--run", trained_run, "--out", samples, "--per-class", 4,
               "--quiet").exit_code == 0
    ckpt = torch.load(trained_run / "checkpoint.pt", weights_only=True)
    G = Generator(10, 1, width=0.125)
    G.load_state_dict(ckpt["generator"])
    with torch.no_grad():
        oh = torch.zeros(4, 10, 1, 1)
        oh[:, 7] = 1
        x = G.eval()(class_noise(0, 7, 4, 100), oh).numpy()[:, 0].astype(np.float64)
    expected = np.clip(np.rint((x + 1) / 2 * 255), 0, 255)
    written = np.stack([np.asarray(Image.open(samples / "sneaker" / f"{i:05d}.png")) for i in range(4)])
    assert np.abs(written.astype(np.float64) - expected).max() <= 1   # float32 vs float64 ties


def test_resume_takes_unspecified_options_from_the_run(tmp_path):
    out = tmp_path / "run"
    assert run("train", "--out", out, "--steps", 2, *TINY, "--quiet").exit_code == 0
    result = run("train", "--out", out, "--resume", "--steps", 4, "--json", "--quiet")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["start_step"] == 2 and payload["step"] == 4 and payload["width"] == 0.125


def test_epochs_count_full_batches(tmp_path):
    result = run("train", "--out", tmp_path / "r", "--epochs", 1, *TINY, "--json", "--quiet")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["step"] == 5          # 40 images // batch 8


# --- bad inputs ---------------------------------------------------------------------------------

def test_missing_fashion_mnist_names_data_root(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_clean_error(run("train", "--out", tmp_path / "r", "--steps", 1, "--data-root", empty),
                       "--data-root", empty)
    assert not (tmp_path / "r" / "config.json").exists()


def test_missing_torchvision_dataset_offline(tmp_path):
    assert_clean_error(run("train", "--dataset", "mnist", "--out", tmp_path / "r", "--steps", 1,
                           "--data-root", tmp_path / "nothing"), "--data-root", "MNIST")


def test_folder_dataset_needs_class_subfolders(tmp_path):
    flat = tmp_path / "flat"
    flat.mkdir()
    for i in range(4):
        Image.fromarray(np.zeros((28, 28), np.uint8)).save(flat / f"{i}.png")
    assert_clean_error(run("train", "--dataset", "folder", "--data-root", flat, "--out",
                           tmp_path / "r", "--steps", 1), "--data-root", "sub-folder")
    assert_clean_error(run("train", "--dataset", "folder", "--out", tmp_path / "r", "--steps", 1),
                       "--data-root")


def test_folder_dataset_wrong_image_size(tmp_path):
    for c in ("a", "b"):
        (tmp_path / "d" / c).mkdir(parents=True)
        Image.fromarray(np.zeros((48, 64), np.uint8)).save(tmp_path / "d" / c / "0.png")
    assert_clean_error(run("train", "--dataset", "folder", "--data-root", tmp_path / "d", "--out",
                           tmp_path / "r", "--steps", 1), "64x48", "28x28 or 32x32")


def test_resume_with_different_config_is_refused(tmp_path, trained_run):
    assert_clean_error(run("train", "--out", trained_run, "--resume", "--width", "0.25"),
                       "--width", "0.125", "new --out")
    assert_clean_error(run("train", "--out", trained_run, "--resume", "--ms-weight", "0"),
                       "--ms-weight")
    assert_clean_error(run("train", "--out", trained_run, "--resume", "--steps", 1),
                       "step 2", "--steps")


def test_run_folders_are_never_overwritten_or_invented(tmp_path, trained_run):
    assert_clean_error(run("train", "--out", trained_run, "--steps", 3, *TINY), "--resume",
                       trained_run)
    assert_clean_error(run("train", "--out", tmp_path / "none", "--resume", "--steps", 3),
                       "--resume", "config.json")
    assert_clean_error(run("sample", "--run", tmp_path, "--out", tmp_path / "s"), "--run")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x.png").write_bytes(b"")
    assert_clean_error(run("sample", "--run", trained_run, "--out", tmp_path / "busy"),
                       "--out", "busy")


def test_steps_or_epochs_exactly_one(tmp_path):
    assert_clean_error(run("train", "--out", tmp_path / "a", *TINY), "--steps", "--epochs")
    result = run("train", "--out", tmp_path / "b", "--steps", 1, "--epochs", 1)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert not Path(tmp_path / "a" / "config.json").exists()
