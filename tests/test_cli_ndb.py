"""``msgan-eval ndb`` through click's CliRunner: numbers against the reference transcription, the
bins file as an artifact, and bad inputs (one line, exit 2, no traceback)."""
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from msgan_eval import __version__
from msgan_eval.cli import main
from msgan_eval.images import write_image_folder

sys.path.insert(0, str(Path(__file__).parent))
from reference_ndb import ReferenceNDB  # noqa: E402

CLASSES = [f"class{k}" for k in range(10)]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Fashion-MNIST as folders: 200 training images and 100 held-out ones (28x28 grey PNGs)."""
    from msgan_eval.datasets import balanced_subset, load_fashion_mnist

    try:
        train, train_labels = load_fashion_mnist("train")
        test, test_labels = load_fashion_mnist("test")
    except Exception as exc:
        pytest.skip(f"Fashion-MNIST not available: {exc}")
    root = tmp_path_factory.mktemp("ndb")
    idx = balanced_subset(train_labels, 20, seed=0)
    write_image_folder(root / "train", train[idx], train_labels[idx], CLASSES)
    jdx = balanced_subset(test_labels, 10, seed=0)
    write_image_folder(root / "gen", test[jdx], test_labels[jdx], CLASSES)
    return root


def run(*args):
    return CliRunner().invoke(main, ["ndb", *map(str, args)])


def as_json(result) -> dict:
    assert result.exit_code == 0, result.output + result.stderr
    return json.loads(result.stdout)


def assert_clean_error(result, *needles):
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output + result.stderr
    for needle in needles:
        assert needle in result.stderr, result.stderr


def folder_vectors(folder: Path) -> np.ndarray:
    """The reference's input: each image as RGB floats in [0, 1], flattened (sorted file order)."""
    files = sorted(folder.rglob("*.png"), key=lambda p: p.relative_to(folder).as_posix())
    return np.stack([np.asarray(Image.open(f).convert("RGB"), dtype=np.float64).reshape(-1) / 255.0
                     for f in files])


def test_json_output_matches_reference(data):
    out = as_json(run(data / "gen", "--train", data / "train", "--bins", 5, "--seed", 2, "--json",
                      "--quiet"))
    np.random.seed(2)
    ref = ReferenceNDB(folder_vectors(data / "train"), number_of_bins=5)
    expected = ref.evaluate(folder_vectors(data / "gen"))
    assert out["ndb"] == expected["NDB"]
    assert out["jsd"] == pytest.approx(expected["JS"], rel=1e-12, abs=1e-15)
    assert sorted(b["generated_proportion"] for b in out["per_bin"]) == \
        pytest.approx(sorted(expected["Proportions"]), abs=0)
    assert (out["bins"], out["n_train"], out["n_samples"], out["seed"]) == (5, 200, 100, 2)
    assert out["ndb_ratio"] == out["ndb"] / 5 and out["version"] == __version__
    assert set(out["per_bin"][0]) == {"train_proportion", "generated_proportion", "z", "p", "different"}
    assert out["used_dims"] == 28 * 28 * 3 // 6          # d = 2352 > 1000: the reference's d // 6


def test_same_seed_same_output_and_quiet_hides_progress(data):
    args = (data / "gen", "--train", data / "train", "--bins", 4, "--json", "--quiet")
    first, second = run(*args), run(*args)
    assert first.stdout == second.stdout and first.exit_code == 0
    assert first.stderr == ""
    loud = run(data / "gen", "--train", data / "train", "--bins", 4, "--json")
    assert "fitting 4 K-means bins" in loud.stderr
    assert json.loads(loud.stdout) == json.loads(first.stdout)


def test_bins_file_saved_and_reused(data, tmp_path):
    bins_file = tmp_path / "bins.npz"
    fitted = as_json(run(data / "gen", "--train", data / "train", "--bins", 5, "--whiten",
                         "--save-bins", bins_file, "--json", "--quiet"))
    assert bins_file.is_file()
    checked = as_json(run(data / "gen", "--train", data / "train", "--bins-file", bins_file, "--json",
                          "--quiet"))
    given = as_json(run(data / "gen", "--bins-file", bins_file, "--json", "--quiet"))
    for reused in (checked, given):
        assert (reused["ndb"], reused["jsd"], reused["per_bin"]) == \
            (fitted["ndb"], fitted["jsd"], fitted["per_bin"])
        assert reused["whiten"] is True and reused["bins"] == 5
    assert "checked against --train" in checked["bins_source"]
    assert "taken as given" in given["bins_source"]
    human = run(data / "gen", "--bins-file", bins_file, "--quiet")
    assert human.exit_code == 0 and "taken as given" in human.stderr


def test_mismatched_bins_file_is_refused(data, tmp_path):
    bins_file = tmp_path / "bins.npz"
    as_json(run(data / "gen", "--train", data / "train", "--bins", 5, "--save-bins", bins_file,
                "--json", "--quiet"))
    assert_clean_error(run(data / "gen", "--train", data / "gen", "--bins-file", bins_file, "--quiet"),
                       "--bins-file", str(bins_file), "different training file list")
    assert_clean_error(run(data / "gen", "--train", data / "train", "--bins-file", bins_file,
                           "--bins", 6, "--quiet"), "--bins-file", "--bins 5, not 6")
    assert_clean_error(run(data / "gen", "--train", data / "train", "--bins-file", bins_file,
                           "--seed", 1, "--quiet"), "--seed 0, not 1")
    (tmp_path / "junk.npz").write_bytes(b"junk")
    assert_clean_error(run(data / "gen", "--bins-file", tmp_path / "junk.npz"),
                       "junk.npz", "not a usable NDB bins file")


def test_fewer_training_images_than_bins(data):
    assert_clean_error(run(data / "gen", "--train", data / "train", "--bins", 500, "--quiet"),
                       "--train", "200 training images for --bins 500")


def test_empty_generated_set(data, tmp_path):
    (tmp_path / "empty").mkdir()
    assert_clean_error(run(tmp_path / "empty", "--train", data / "train", "--bins", 5, "--quiet"),
                       str(tmp_path / "empty"), "no images found")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "broken.png").write_bytes(b"not a png")
    assert_clean_error(run(tmp_path / "bad", "--train", data / "train", "--bins", 5, "--skip-bad",
                           "--quiet"), "none of the 1 image files could be read")


def test_option_errors(data, tmp_path):
    assert_clean_error(run(data / "gen"), "--train", "--bins-file")
    assert_clean_error(run(data / "gen", "--train", data / "train", "--max-dims", "lots"), "--max-dims")
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    Image.new("L", (28, 28)).save(mixed / "a.png")
    Image.new("L", (30, 28)).save(mixed / "b.png")
    assert_clean_error(run(data / "gen", "--train", mixed, "--bins", 1, "--quiet"), "different sizes")


def test_generated_images_of_another_size_and_max_dims_all(data, tmp_path):
    rng = np.random.default_rng(0)
    write_image_folder(tmp_path / "big", rng.integers(0, 256, (30, 40, 40, 3), dtype=np.uint8),
                       [0] * 30, ["noise"])
    out = as_json(run(tmp_path / "big", "--train", data / "train", "--bins", 5, "--max-dims", "all",
                      "--json", "--quiet"))
    assert out["n_samples"] == 30 and out["used_dims"] == 28 * 28 * 3 and out["max_dims"] == "all"
    assert out["image_size"] == [28, 28]


def test_plot(data, tmp_path, monkeypatch):
    plot = tmp_path / "ndb.png"
    as_json(run(data / "gen", "--train", data / "train", "--bins", 5, "--plot", plot, "--json", "--quiet"))
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    monkeypatch.setitem(sys.modules, "matplotlib", None)     # as if it were not installed
    assert_clean_error(run(data / "gen", "--train", data / "train", "--bins", 5, "--plot",
                           tmp_path / "other.png", "--quiet"), "--plot needs matplotlib")
    assert not (tmp_path / "other.png").exists()
