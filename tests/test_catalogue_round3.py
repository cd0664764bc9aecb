"""The catalogue of issue 23 (third round), each case through the CLI or the Python API: the
documented exit code, one line naming the option or file, no traceback, nothing written outside
the output folder, nothing deleted that the package did not write."""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from test_catalogue import TINY, assert_refused, listing

from msgan_eval.cli import main
from msgan_eval.datasets import DEBIAN_FASHION_MNIST
from msgan_eval.errors import UserError

pytestmark = pytest.mark.usefixtures("one_torch_thread")
needs_data = pytest.mark.skipif(not DEBIAN_FASHION_MNIST.exists(),
                                reason="apt-get install dataset-fashion-mnist")


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    if not DEBIAN_FASHION_MNIST.exists():
        pytest.skip("apt-get install dataset-fashion-mnist")
    out = tmp_path_factory.mktemp("runs") / "run"
    result = CliRunner().invoke(main, ["train", "--out", str(out), "--steps", "1", *TINY])
    assert result.exit_code == 0, result.output
    return out


# --- 1. names from files never leave the output folder ------------------------------------------

def _crafted_run(run_dir: Path, tmp_path: Path, name: str, where: str) -> Path:
    import torch

    copy = tmp_path / "crafted"
    shutil.copytree(run_dir, copy)
    if where in ("checkpoint", "both"):
        state = torch.load(copy / "checkpoint.pt", weights_only=True)
        state["run"]["class_names"][0] = name
        torch.save(state, copy / "checkpoint.pt")
    if where in ("config", "both"):
        config = json.loads((copy / "config.json").read_text())
        config["class_names"][0] = name
        (copy / "config.json").write_text(json.dumps(config))
    return copy


@pytest.mark.parametrize("name", ["../../escaped", "/tmp/escaped-abs", "..", "a\nb", ""])
@pytest.mark.parametrize("where", ["checkpoint", "config", "both"])
def test_sample_never_writes_outside_out(tmp_path, trained_run, name, where):
    crafted = _crafted_run(trained_run, tmp_path, name, where)
    work = tmp_path / "work"
    work.mkdir()
    before = listing(tmp_path)
    result = run("sample", "--run", crafted, "--out", work / "o", "--per-class", 1, "--quiet")
    blamed = "config.json" if where != "checkpoint" else "checkpoint.pt"
    assert_refused(result, crafted / blamed, "class name", "cannot be used as a folder")
    assert listing(tmp_path) == before
    assert not Path("/tmp/escaped-abs").exists()


def test_sample_api_refuses_a_crafted_checkpoint(tmp_path, trained_run):
    from msgan_eval.train.sampler import sample_run

    crafted = _crafted_run(trained_run, tmp_path, "../escaped", "checkpoint")
    with pytest.raises(UserError, match="path separator"):
        sample_run(crafted, tmp_path / "o", per_class=1, quiet=True)
    assert not (tmp_path / "o").exists() and not (tmp_path / "escaped").exists()


@pytest.mark.parametrize("label", ["../up", "/abs", "tab\there"])
def test_train_refuses_npz_labels_that_are_not_folder_names(tmp_path, label):
    data = tmp_path / "data.npz"
    images = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    np.savez(data, images=images, labels=np.array([label, label, "b", "b"]))
    result = run("train", "--dataset", "folder", "--data-root", data, "--out", tmp_path / "o",
                 "--steps", 1, "--quiet")
    assert_refused(result, data, "class name")
    assert listing(tmp_path) == ["data.npz"]


def test_write_image_folder_refuses_before_writing(tmp_path):
    from msgan_eval.images import write_image_folder

    images = np.zeros((2, 4, 4, 3), np.uint8)
    with pytest.raises(UserError, match="labels.npz: class name '../x'"):
        write_image_folder(tmp_path / "o", images, [0, 1], ["a", "../x"], names_source="labels.npz")
    assert listing(tmp_path) == []


def test_image_to_image_input_names_are_checked(tmp_path):
    from msgan_eval.report.pairs import pairs_html

    with pytest.raises(UserError, match="input name '../../etc/passwd'"):
        pairs_html(tmp_path, tmp_path, {"a": tmp_path}, ["../../etc/passwd"])


def _paired_folder(root: Path, names) -> Path:
    rng = np.random.default_rng(1)
    for name in names:
        from msgan_eval.images import write_png

        write_png(root / f"{name}.png", rng.integers(0, 256, (32, 64, 3), dtype=np.uint8))
    return root


def test_train_refuses_paired_file_names_that_are_not_folder_names(tmp_path):
    data = _paired_folder(tmp_path / "pairs", ["ok1", "ok2", "bad\nname"])
    result = run("train", "--dataset", "paired-folder", "--data-root", data, "--out",
                 tmp_path / "o", "--steps", 1, "--quiet")
    assert_refused(result, data, "input name", "control character")
    assert not (tmp_path / "o").exists()


def test_sample_refuses_a_crafted_image_to_image_test_split(tmp_path):
    """A run whose test split was renamed after training: checked when it becomes folders."""
    data = _paired_folder(tmp_path / "pairs", ["p1", "p2"])
    out = tmp_path / "run"
    result = run("train", "--dataset", "paired-folder", "--data-root", data, "--out", out,
                 "--steps", 1, "--width", 0.125, "--batch-size", 2, "--quiet")
    assert result.exit_code == 0, result.output
    (data / "p1.png").rename(data / "tab\there.png")
    before = listing(tmp_path)
    result = run("sample", "--run", out, "--out", tmp_path / "s", "--inputs", 2, "--per-input", 1,
                 "--quiet")
    assert_refused(result, data, "input name", "control character")
    assert listing(tmp_path) == before
