"""Bad-input catalogue rows of issue 28 (StackGAN++ + MS): ``train --model stackgan``,
``--dataset fashion-mnist-captions`` / ``cub``, ``sample --captions`` and ``demo --task
text-to-image``, each through the CLI: exit 2, one line naming the option or file, no traceback,
nothing written outside (or half inside) the output folder."""
import pickle

import pytest
from click.testing import CliRunner
from test_captions import _cub
from test_catalogue import assert_refused, listing

from msgan_eval.cli import main
from msgan_eval.datasets import DEBIAN_FASHION_MNIST

pytestmark = pytest.mark.usefixtures("one_torch_thread")
needs_data = pytest.mark.skipif(not DEBIAN_FASHION_MNIST.exists(),
                                reason="apt-get install dataset-fashion-mnist")
TINY = ["--width", "0.0625", "--batch-size", "2", "--quiet", "--threads", "1"]


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.mark.parametrize("args, needles", [
    (["--model", "stackgan", "--dataset", "fashion-mnist-tints"], ["--model stackgan", "text to image",
                                                                   "fashion-mnist-captions or cub"]),
    (["--dataset", "cub"], ["--dataset cub needs --data-root"]),
    (["--dataset", "cub", "--data-root", "/nonexistent/birds"], ["filenames.pickle", "not found"]),
    (["--dataset", "fashion-mnist-captions", "--subset-per-class", "7000"],
     ["--subset-per-class 7000", "only"]),
])
def test_bad_stackgan_options_are_refused(tmp_path, args, needles):
    result = run("train", "--out", tmp_path / "o", "--steps", 1, *TINY, *args)
    assert_refused(result, *needles)
    assert not (tmp_path / "o" / "checkpoint.pt").exists()


@pytest.mark.parametrize("case, needles", [
    ("code in a pickle", ["filenames.pickle", "cannot be read as plain data", "refused"]),
    ("truncated pickle", ["char-CNN-RNN-embeddings.pickle", "cannot be read as plain data"]),
    ("rows differ", ["char-CNN-RNN-embeddings.pickle", "shape", "one row per filenames.pickle"]),
    ("image missing", ["Bird_1.jpg"]),
    ("no bounding boxes", ["CUB_200_2011", "bounding_boxes.txt", "unpack"]),
    ("cub subset", ["--subset-per-class", "cub"]),
])
def test_bad_cub_folders_are_refused_before_training(tmp_path, case, needles):
    import os

    root = tmp_path / "birds"
    root.mkdir()
    _cub(root)
    extra = []
    if case == "code in a pickle":
        class Evil:
            def __reduce__(self):
                return (os.system, ("touch " + str(tmp_path / "pwned"),))
        (root / "train" / "filenames.pickle").write_bytes(pickle.dumps([Evil()], protocol=2))
    elif case == "truncated pickle":
        path = root / "train" / "char-CNN-RNN-embeddings.pickle"
        path.write_bytes(path.read_bytes()[:40])
    elif case == "rows differ":
        (root / "train" / "filenames.pickle").write_bytes(pickle.dumps(["001.Bird/Bird_0"], protocol=2))
    elif case == "image missing":
        (root / "CUB_200_2011" / "images" / "001.Bird" / "Bird_1.jpg").unlink()
    elif case == "no bounding boxes":
        (root / "CUB_200_2011" / "bounding_boxes.txt").unlink()
    elif case == "cub subset":
        extra = ["--subset-per-class", "1"]
    before = listing(tmp_path)
    result = run("train", "--dataset", "cub", "--data-root", root, "--out", tmp_path / "o",
                 "--steps", 1, *TINY, *extra)
    assert_refused(result, *needles)
    assert listing(tmp_path) == before and not (tmp_path / "pwned").exists()


def test_a_cub_run_trains_and_samples(tmp_path):
    root = tmp_path / "birds"
    root.mkdir()
    _cub(root, n=4)
    out = tmp_path / "run"
    result = run("train", "--dataset", "cub", "--data-root", root, "--out", out, "--steps", 2, *TINY)
    assert result.exit_code == 0, result.output
    result = run("sample", "--run", out, "--out", tmp_path / "s", "--captions", 3, "--per-input", 2,
                 "--quiet", "--json")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "s" / "samples").iterdir()) == [
        "test-00000-caption-0", "test-00001-caption-0", "test-00002-caption-0"]
    before = listing(tmp_path)
    assert_refused(run("sample", "--run", out, "--out", tmp_path / "s2", "--captions", 9, "--quiet"),
                   "--captions 9", "4 images")
    assert listing(tmp_path) == before


@needs_data
def test_sampling_more_captions_than_the_grammar_has_is_refused(tmp_path):
    out = tmp_path / "run"
    result = run("train", "--dataset", "fashion-mnist-captions", "--subset-per-class", 1, "--out", out,
                 "--steps", 1, *TINY)
    assert result.exit_code == 0, result.output
    before = listing(tmp_path)
    assert_refused(run("sample", "--run", out, "--out", tmp_path / "s", "--captions", 71, "--quiet"),
                   "--captions 71", "70 canonical captions")
    # options a text-to-image run would ignore are refused, not silently dropped
    for extra, needle in (("--inputs", "--inputs"), ("--per-class", "--per-class"),
                          ("--grid", "--grid")):
        value = tmp_path / "g.png" if extra == "--grid" else 3
        assert_refused(run("sample", "--run", out, "--out", tmp_path / "s", extra, value, "--quiet"),
                       needle, "text-to-image run")
    assert listing(tmp_path) == before


@pytest.mark.parametrize("args, needles", [
    (("--task", "unpaired", "--captions", 12), ("--captions", "--task unpaired")),
    (("--task", "categorical", "--captions", 12), ("--captions", "--task categorical")),
    (("--task", "text-to-image", "--inputs", 3), ("--inputs", "--task text-to-image")),
    (("--task", "text-to-image", "--captions", 71), ("--captions", "71")),
    (("--task", "text-to-image", "--captions", 10), ("--captions", "10")),
])
def test_demo_options_of_another_task_are_refused_before_training(tmp_path, args, needles):
    assert_refused(run("demo", "--out", tmp_path / "d", "--quiet", *args), *needles)
    assert not (tmp_path / "d").exists()


def test_demo_text_to_image_refuses_bad_weights_before_training(tmp_path):
    result = run("demo", "--task", "text-to-image", "--out", tmp_path / "d", "--lpips-backbone",
                 tmp_path / "missing.pth", "--quiet")
    assert result.exit_code in (2, 3), result.output
    assert "Traceback" not in result.output and "missing.pth" in result.stderr
    assert not (tmp_path / "d").exists()
