"""Paired datasets (fashion-mnist-edges, paired-folder) and the image-to-image train/sample CLI."""
import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from msgan_eval.cli import main
from msgan_eval.datasets import balanced_subset, load_fashion_mnist
from msgan_eval.images import scan_images
from msgan_eval.train.paired_data import fashion_mnist_edges, load_paired_data, read_paired_folder, silhouette_outline
from msgan_eval.train.pix2pix_sampler import choose_inputs, sample_pix2pix_run

TINY = ["--width", "0.125", "--batch-size", "4", "--quiet"]

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def assert_clean_error(result, *needles):
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    for needle in needles:
        assert str(needle) in result.output, (needle, result.output)


# --- fashion-mnist-edges -----------------------------------------------------------------------

def test_silhouette_outline_of_a_square_is_its_border():
    img = np.zeros((1, 8, 8), np.uint8)
    img[0, 2:6, 2:6] = 200
    img[0, 3, 3] = 10                     # below the threshold: a hole, whose rim is an edge too
    out = silhouette_outline(img, threshold=16)[0]
    expected = np.zeros((8, 8), np.uint8)
    expected[2:6, 2:6] = 255
    expected[3, 3] = 0       # the hole is not silhouette; its 4-neighbours become edges
    expected[4, 4] = 0       # the one pixel whose 4 neighbours all lie on the silhouette
    assert out.tolist() == expected.tolist()


def test_fashion_mnist_edges_pairs_outline_and_padded_item():
    images, labels = load_fashion_mnist("test")
    data = load_paired_data("fashion-mnist-edges", split="test")
    assert data.inputs.shape == data.targets.shape == (10000, 1, 32, 32)
    assert data.names[0] == f"00000-{['t-shirt', 'trouser', 'pullover', 'dress', 'coat', 'sandal', 'shirt', 'sneaker', 'bag', 'ankle-boot'][labels[0]]}"
    assert np.array_equal(data.targets[5, 0, 2:30, 2:30], images[5])
    assert set(np.unique(data.inputs)) <= {0, 255}
    # The outline lies on the item and is thin: inside the silhouette, far fewer pixels than it.
    sil = images[:100] >= 16
    edges = data.inputs[:100, 0, 2:30, 2:30] > 0
    assert not (edges & ~sil).any() and edges.sum() < 0.6 * sil.sum()
    again = fashion_mnist_edges(images[:10], labels[:10])
    assert np.array_equal(again.inputs, data.inputs[:10])      # deterministic


def test_subset_per_class_is_balanced():
    data = load_paired_data("fashion-mnist-edges", subset_per_class=3, seed=0)
    assert len(data) == 30 and np.bincount(data.labels).tolist() == [3] * 10


# --- paired-folder -----------------------------------------------------------------------------

def _rgb(seed, w=32, h=32):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_side_by_side_ab_images(tmp_path):
    for i in range(3):
        Image.fromarray(_rgb(i, w=64)).save(tmp_path / f"{i}.png")
    data = read_paired_folder(tmp_path)
    ab = np.asarray(Image.open(tmp_path / "1.png"))
    assert data.names == ("0", "1", "2") and data.inputs.shape == (3, 3, 32, 32)
    assert np.array_equal(data.inputs[1].transpose(1, 2, 0), ab[:, :32])
    assert np.array_equal(data.targets[1].transpose(1, 2, 0), ab[:, 32:])


def test_a_and_b_folders_with_train_test_splits(tmp_path):
    for split, n in (("train", 3), ("test", 2)):
        for side in "AB":
            (tmp_path / split / side).mkdir(parents=True)
            for i in range(n):
                img = _rgb(i + (0 if side == "A" else 10))[:, :, 0]   # grey: one channel
                Image.fromarray(img).save(tmp_path / split / side / f"x{i}.png")
    train = load_paired_data("paired-folder", str(tmp_path))
    test = load_paired_data("paired-folder", str(tmp_path), split="test")
    assert len(train) == 3 and len(test) == 2 and train.inputs.shape[1] == 1
    assert np.array_equal(train.targets[2, 0], np.asarray(Image.open(tmp_path / "train/B/x2.png")))


def _cli_train(root):
    return run("train", "--dataset", "paired-folder", "--data-root", root, "--out",
               root.parent / "run", "--steps", 1, *TINY)


def test_unpaired_names_are_a_one_line_error(tmp_path):
    root = tmp_path / "data"
    for side, names in (("A", ["a", "b"]), ("B", ["a", "c"])):
        (root / side).mkdir(parents=True)
        for n in names:
            Image.fromarray(_rgb(0)).save(root / side / f"{n}.png")
    assert_clean_error(_cli_train(root), "A/b has no partner in B/", "same names")


def test_odd_width_is_a_one_line_error(tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    Image.fromarray(_rgb(0, w=65)).save(root / "0.png")
    assert_clean_error(_cli_train(root), "width 65 is odd", "0.png")


def test_mixed_sizes_are_a_one_line_error(tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    Image.fromarray(_rgb(0, w=64)).save(root / "0.png")
    Image.fromarray(_rgb(1, w=128, h=64)).save(root / "1.png")
    assert_clean_error(_cli_train(root), "different sizes", "1.png")


def test_unsupported_side_size_and_stray_folders(tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    Image.fromarray(_rgb(0, w=48, h=24)).save(root / "0.png")
    assert_clean_error(_cli_train(root), "24x24", "resize")
    (tmp_path / "odd" / "C").mkdir(parents=True)
    Image.fromarray(_rgb(0)).save(tmp_path / "odd" / "C" / "0.png")
    assert_clean_error(_cli_train(tmp_path / "odd"), "A/ and B/", "found C")


# --- train + sample CLI ------------------------------------------------------------------------

def test_train_resume_and_sample_layout(tmp_path):
    out = tmp_path / "run"
    result = run("train", "--dataset", "fashion-mnist-edges", "--out", out, "--steps", 2,
                 "--subset-per-class", 1, "--ms-weight", 0, *TINY, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["step"] == 2
    result = run("train", "--out", out, "--resume", "--steps", 3, "--quiet")   # task from the run
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text())
    assert config["task"] == "image-to-image" and config["total_steps"] == 3 and config["ms_weight"] == 0

    samples = tmp_path / "samples"
    result = run("sample", "--run", out, "--out", samples, "--inputs", 3, "--per-input", 4,
                 "--grid", tmp_path / "grid.png", "--json", "--quiet")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in samples.iterdir()) == ["inputs", "sample.json", "samples", "targets"]
    test = load_paired_data("fashion-mnist-edges", split="test")
    manifest = json.loads((samples / "sample.json").read_text())
    idx = manifest["indices"]
    assert manifest["classes"] == [0, 1, 2] == [int(test.labels[i]) for i in idx]   # one per class
    _assert_rows_carry_input_labels(samples, tmp_path / "grid.png", test, idx)
    names = sorted(test.names[i] for i in idx)
    assert sorted(p.name for p in (samples / "samples").iterdir()) == names
    assert sorted(p.name for p in (samples / "inputs").iterdir()) == [n + ".png" for n in names]
    target = np.asarray(Image.open(samples / "targets" / f"{test.names[idx[1]]}.png"))
    assert np.array_equal(target, test.targets[idx[1], 0])
    image_set = scan_images(samples / "samples")    # what lpips / ndb / fid / compare read
    assert image_set.conditions == names and len(image_set) == 12
    assert all(len(v) == 4 for v in image_set.groups().values())
    assert manifest["per_input"] == 4 and manifest["seed"] == manifest["input_seed"] == 0


def test_inputs_are_balanced_seeded_and_avoid_the_excluded():
    test = load_paired_data("fashion-mnist-edges", split="test")
    banned = balanced_subset(test.labels, 50, seed=0)          # the demo's FID reference
    chosen = choose_inputs(test, 20, seed=0, exclude=banned)
    assert np.bincount(test.labels[chosen], minlength=10).tolist() == [2] * 10
    assert not set(chosen.tolist()) & set(banned.tolist())
    assert np.array_equal(chosen, choose_inputs(test, 20, seed=0, exclude=banned))
    assert not np.array_equal(chosen, choose_inputs(test, 20, seed=1, exclude=banned))
    assert test.labels[chosen[:10]].tolist() == list(range(10))   # class by class


def test_each_sampling_seed_has_its_own_noise_for_the_same_inputs(tmp_path):
    out = tmp_path / "run"
    assert run("train", "--dataset", "fashion-mnist-edges", "--out", out, "--steps", 1,
               "--subset-per-class", 1, *TINY, "--quiet").exit_code == 0
    folders = {}
    for seed in (0, 1):
        folders[seed] = sample_pix2pix_run(out, tmp_path / f"s{seed}", inputs=2, per_input=2,
                                           seed=seed, input_seed=0, quiet=True)
    m0, m1 = (json.loads((folders[s] / "sample.json").read_text()) for s in (0, 1))
    assert m0["indices"] == m1["indices"] and (m0["seed"], m1["seed"]) == (0, 1)
    a = scan_images(folders[0] / "samples")
    b = scan_images(folders[1] / "samples")
    assert not np.array_equal(a[0], b[0])


def test_image_to_image_options_are_recorded_and_refused_elsewhere(tmp_path):
    out = tmp_path / "run"
    result = run("train", "--dataset", "fashion-mnist-edges", "--out", out, "--steps", 2,
                 "--subset-per-class", 1, "--upsample", "bilinear", "--ms-warmup", 1,
                 "--ms-ramp", 1, "--ms-eps", 0.5, "--ms-cap", 0.2, "--lr-decay-steps", 1,
                 "--d-width", 0.25, *TINY, "--quiet")
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text())
    assert (config["upsample"], config["ms_warmup"], config["ms_ramp"], config["ms_eps"],
            config["ms_cap"], config["lr_decay_steps"], config["d_width"]) == \
        ("bilinear", 1, 1, 0.5, 0.2, 1, 0.25)
    result = run("train", "--out", out, "--resume", "--steps", 3, "--quiet")
    assert result.exit_code == 0, result.output
    assert json.loads((out / "config.json").read_text())["upsample"] == "bilinear"
    result = run("train", "--out", tmp_path / "dcgan", "--steps", 1, "--ms-cap", 0.2)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "--ms-cap is an option of the image-to-image trainer" in result.output
    assert not (tmp_path / "dcgan").exists()


def _assert_rows_carry_input_labels(samples, grid_path, test, idx):
    """Each input's label (its Fashion-MNIST class) heads its row, in the grid PNG and the HTML."""
    from msgan_eval.datasets import FASHION_MNIST_CLASSES
    from msgan_eval.report.pairs import pairs_html

    labels = [FASHION_MNIST_CLASSES[int(test.labels[i])] for i in idx]
    assert json.loads((samples / "sample.json").read_text())["labels"] == labels
    grid = np.asarray(Image.open(grid_path).convert("L"))
    images_width = 2 + 6 * 34                     # input, target and 4 samples of 32 px per row
    assert grid.shape[0] == 2 + 3 * 34 and grid.shape[1] > images_width
    np.testing.assert_array_equal(grid[2:34, -images_width + 2:-images_width + 34],
                                  test.inputs[idx[0], 0])
    label_cells = grid[:, :grid.shape[1] - images_width]
    assert all((label_cells[2 + r * 34:34 + r * 34] > 128).any() for r in range(3))
    html = pairs_html(samples / "inputs", samples / "targets", {"run": samples / "samples"},
                      [test.names[i] for i in idx])
    assert all(f"{test.names[i]}<br><b>{label}</b>" in html for i, label in zip(idx, labels))
