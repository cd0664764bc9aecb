"""Bad input of ``track``, ``sample --step`` and ``train --eval-every`` (issue 26): one line on
stderr naming the file or option, exit 2, no traceback, nothing written."""
import shutil

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image
from test_catalogue import assert_refused, listing

from msgan_eval.cli import main

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _pngs(folder, size, n=4, seed=0):
    rng = np.random.default_rng(seed)
    for name in ("a", "b"):
        (folder / name).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 256, (size, size), dtype=np.uint8)).save(
                folder / name / f"{i}.png")
    return folder


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    root = tmp_path_factory.mktemp("cat-track")
    _pngs(root / "train", 28)
    _pngs(root / "ref", 32, seed=1)
    _pngs(root / "small", 28, seed=2)
    common = ["--dataset", "folder", "--data-root", root / "train", "--batch-size", 4,
              "--steps", 2, "--checkpoint-every", 1, "--quiet"]
    for name, width in (("run", 0.125), ("wide", 0.25)):
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("MSGAN_EVAL_THREADS", "1")
            assert run("train", "--out", root / name, "--width", width, *common).exit_code == 0
    return root


def track(made, run_dir, *extra):
    return run("track", run_dir, "--ref", made["ref"] if isinstance(made, dict) else made / "ref",
               "--metrics", "ndb", "--ndb-bins", 2, "--per-class", 2, "--quiet", *extra)


def test_run_without_checkpoints(made, tmp_path):
    bare = tmp_path / "bare"
    bare.mkdir()
    shutil.copy(made / "run" / "config.json", bare / "config.json")
    assert_refused(track(made, bare), f"RUN {bare}: the run has no checkpoints", "train it first")
    assert listing(bare) == ["config.json"]


def test_folder_without_sample_sets(made, tmp_path):
    (tmp_path / "empty").mkdir()
    assert_refused(run("track", tmp_path / "empty", "--ref", made / "ref", "--quiet"),
                   "no checkpoints: neither a training run")


def test_checkpoint_of_another_model(made, tmp_path):
    mixed = tmp_path / "mixed"
    shutil.copytree(made / "run", mixed)
    shutil.copy(made / "wide" / "checkpoints" / "step-00000001.pt",
                mixed / "checkpoints" / "step-00000001.pt")
    before = listing(mixed)
    assert_refused(track(made, mixed), "step-00000001.pt: a checkpoint of another model",
                   "width is 0.25")
    assert listing(mixed) == before
    # same description, weights of other shapes: the damaged-checkpoint message, by file
    state = torch.load(made / "wide" / "checkpoints" / "step-00000001.pt", weights_only=True)
    state["run"] = torch.load(made / "run" / "checkpoint.pt", weights_only=True)["run"]
    torch.save(state, mixed / "checkpoints" / "step-00000001.pt")
    assert_refused(track(made, mixed), "step-00000001.pt: this checkpoint is damaged or not of "
                                       "this run's model")


def test_reference_of_another_image_size(made, tmp_path):
    before = listing(made / "run")
    assert_refused(run("track", made / "run", "--ref", made / "small", "--metrics", "ndb",
                       "--ndb-bins", 2, "--per-class", 2, "--quiet"),
                   f"--ref {made / 'small'}: its images are 28x28 but the samples are 32x32")
    assert listing(made / "run") == before


def test_train_eval_ref_of_another_size_fails_before_training(made, tmp_path):
    out = tmp_path / "new"
    result = run("train", "--dataset", "folder", "--data-root", made / "train", "--out", out,
                 "--width", 0.125, "--batch-size", 4, "--steps", 2, "--eval-every", 1,
                 "--eval-ref", made / "small", "--eval-metrics", "ndb", "--eval-ndb-bins", 2,
                 "--quiet")
    assert_refused(result, f"--eval-ref {made / 'small'}: its images are 28x28")
    assert listing(out) in (None, [])


@pytest.mark.parametrize("args, needle", [
    (["--eval-every", 2], "--eval-every needs --eval-every N and --eval-ref REF"),
    (["--eval-ref", "ref"], "--eval-ref needs --eval-every N and --eval-ref REF"),
    (["--keep-checkpoints", "0"], "--keep-checkpoints"),
    (["--eval-every", 1, "--eval-ref", "REF", "--eval-metrics", "fidd"], "--eval-metrics"),
    (["--eval-every", 1, "--eval-ref", "REF", "--eval-metrics", "ndb", "--keep-best", "fid"],
     "--keep-best fid: not measured; add fid to --eval-metrics"),
    (["--tensorboard", "tb"], "--tensorboard needs the tensorboard package"),
])
def test_train_loop_options_refused(made, tmp_path, args, needle, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "tensorboard", None)       # not installed
    args = [made / "ref" if a == "REF" else a for a in args]
    out = tmp_path / "new"
    result = run("train", "--dataset", "folder", "--data-root", made / "train", "--out", out,
                 "--width", 0.125, "--batch-size", 4, "--steps", 1, "--quiet", *args)
    assert_refused(result, needle)
    assert listing(out) in (None, [])


def test_sample_step_that_was_not_kept(made, tmp_path):
    assert_refused(run("sample", "--run", made / "run", "--out", tmp_path / "s", "--step", 7,
                       "--quiet"), "--step 7:", "has steps 1, 2")
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("extra, needle", [
    (["--best", "fidd"], "--best fidd: not a metric"),
    (["--best", "fid"], "--best fid: not measured; add fid to --metrics"),
])
def test_track_best_refused_before_work(made, extra, needle):
    before = listing(made / "run")
    assert_refused(track(made, made / "run", *extra), needle)
    assert listing(made / "run") == before


def test_track_sampling_options_on_a_folder_series(made, tmp_path):
    (tmp_path / "series" / "step-1").mkdir(parents=True)
    assert_refused(run("track", tmp_path / "series", "--ref", made / "ref", "--per-class", 3,
                       "--quiet"), "--per-class samples a training run's checkpoints")


def test_resumed_curve_with_other_settings(made, tmp_path):
    out = tmp_path / "curve"
    assert track(made, made / "run", "--out", out).exit_code == 0
    before = (out / "track.json").read_text()
    assert_refused(track(made, made / "run", "--out", out, "--seed", 5),
                   "track.json: its curve was measured with seed = 0 (now 5)")
    assert (out / "track.json").read_text() == before
