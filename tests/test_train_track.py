"""The checkpoint series and evaluation while training (issue 26): ``--keep-checkpoints``,
``sample --step``, ``train --eval-every`` on both trainers, kills and resumes, failed evaluations."""
import contextlib
import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from msgan_eval.cli import main
from msgan_eval.evaluate import runners
from msgan_eval.evaluate.track import Tracker
from msgan_eval.images import scan_images
from msgan_eval.train import pix2pix, trainer
from msgan_eval.train.loop import Evaluation, LoopOptions
from msgan_eval.train.pix2pix import Pix2PixConfig, train_pix2pix
from msgan_eval.train.trainer import TrainConfig, train

pytestmark = [pytest.mark.usefixtures("one_torch_thread", "small_inception"),
              pytest.mark.filterwarnings("ignore:Matrix is singular"),
              pytest.mark.filterwarnings("ignore:The `disp` argument:DeprecationWarning")]


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        for folder, size in ((root / "train" / name, 28), (root / "ref" / name, 32)):
            folder.mkdir(parents=True)
            for i in range(8):
                Image.fromarray(rng.integers(0, 256, (size, size), dtype=np.uint8)).save(
                    folder / f"{i:02d}.png")
    return root


def tiny(data, **kw):
    return TrainConfig(dataset="folder", data_root=str(data / "train"), batch_size=4, width=0.125,
                       **kw)


def evaluation(data, weights, **kw):
    return Evaluation(**{"every": 2, "ref": str(data / "ref"), "metrics": ("fid",), "per_class": 4,
                         "dims": 64, "bootstrap": 20, "inception_weights": str(weights), **kw})


def history(run_dir):
    return json.loads((Path(run_dir) / "track.json").read_text())


def steps_of(run_dir):
    return [e["step"] for e in history(run_dir)["history"]]


# --- the checkpoint series ------------------------------------------------------------------

def test_snapshots_are_kept_by_step_and_sampled_by_step(data, tmp_path):
    out = tmp_path / "run"
    train(tiny(data, steps=6, checkpoint_every=2), out, quiet=True, loop=LoopOptions(keep_checkpoints=2))
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == \
        ["step-00000004.pt", "step-00000006.pt"]
    args = ["--run", out, "--per-class", 3, "--quiet"]
    assert run("sample", *args, "--out", tmp_path / "last").exit_code == 0
    assert run("sample", *args, "--out", tmp_path / "six", "--step", 6).exit_code == 0
    assert run("sample", *args, "--out", tmp_path / "four", "--step", 4).exit_code == 0
    last, six, four = (scan_images(tmp_path / n) for n in ("last", "six", "four"))
    assert all(np.array_equal(last[i], six[i]) for i in range(len(last)))
    assert not all(np.array_equal(four[i], six[i]) for i in range(len(last)))
    out_all = tmp_path / "all"
    train(tiny(data, steps=6, checkpoint_every=2), out_all, quiet=True,
          loop=LoopOptions(keep_checkpoints=None))
    assert len(list((out_all / "checkpoints").iterdir())) == 3
    # the snapshot at step 4 holds the weights checkpoint.pt held at step 4 of the other run
    a = torch.load(out / "checkpoints" / "step-00000004.pt", weights_only=True)
    b = torch.load(out_all / "checkpoints" / "step-00000004.pt", weights_only=True)
    assert set(a) == {"step", "run", "generator"}
    for name, t in a["generator"].items():
        torch.testing.assert_close(t, b["generator"][name], rtol=0, atol=0)


# --- evaluation while training --------------------------------------------------------------

def test_eval_every_writes_the_curve_best_pt_and_matches_track(data, tmp_path, random_weights):
    out = tmp_path / "run"
    train(tiny(data, steps=5, checkpoint_every=100), out, quiet=True,
          loop=LoopOptions(keep_checkpoints=None, evaluation=evaluation(data, random_weights)))
    got = history(out)
    assert [e["step"] for e in got["history"]] == [2, 4, 5] and got["failed"] == []
    assert {"track.json", "track.csv", "track.html", "best.pt"} <= {p.name for p in out.iterdir()}
    best = torch.load(out / "best.pt", weights_only=True)
    assert best["step"] == got["best"]["step"] and best["metric"] == "fid"
    assert best["value"] == got["best"]["value"]
    assert got["best"]["better_than_last"] is not None or got["best"]["step"] == 5
    # `track` afterwards on the same snapshots gives the same numbers, and measures nothing new
    result = run("track", out, "--ref", data / "ref", "--metrics", "fid", "--per-class", 4,
                 "--dims", 64, "--bootstrap", 20, "--inception-weights", random_weights,
                 "--out", tmp_path / "again", "--json", "--quiet")
    assert result.exit_code == 0, result.output
    again = json.loads(result.stdout)
    assert [e["step"] for e in again["history"]] == [2, 4, 5]
    for a, b in zip(again["history"], got["history"]):
        assert (a["fid"], a["fid_ci"]) == (b["fid"], b["fid_ci"])
    # into the run's own track.json: every snapshot was measured while training, nothing is redone
    result = run("track", out, "--ref", data / "ref", "--metrics", "fid", "--per-class", 4,
                 "--dims", 64, "--bootstrap", 20, "--inception-weights", random_weights,
                 "--json", "--quiet")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["history"] == got["history"]      # same "seconds" too


@contextlib.contextmanager
def killed(monkeypatch, module, n: int):
    """Ctrl-C during the ``n``-th training step of ``module``'s trainer."""
    real, calls = module.train_step, {"n": 0}

    def step(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == n:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(module, "train_step", step)
    with pytest.raises(KeyboardInterrupt):
        yield
    monkeypatch.setattr(module, "train_step", real)


def _same_curves(a, b):
    ha, hb = history(a)["history"], history(b)["history"]
    assert [e["step"] for e in ha] == [e["step"] for e in hb]
    for x, y in zip(ha, hb):        # resumed weights equal the uninterrupted ones to 1e-6
        assert x["fid"] == pytest.approx(y["fid"], rel=1e-5)


def test_dcgan_killed_and_resumed_continues_the_curve(data, tmp_path, monkeypatch, random_weights):
    loop = LoopOptions(evaluation=evaluation(data, random_weights))
    cfg = dict(steps=8, checkpoint_every=3)
    train(tiny(data, **cfg), tmp_path / "straight", quiet=True, loop=loop)
    with killed(monkeypatch, trainer, 6):             # last checkpoint: step 4 (evaluated)
        train(tiny(data, **cfg), tmp_path / "killed", quiet=True, loop=loop)
    assert steps_of(tmp_path / "killed") == [2, 4]
    train(tiny(data, **cfg), tmp_path / "killed", resume=True, quiet=True)   # settings stored
    assert steps_of(tmp_path / "killed") == [2, 4, 6, 8]
    _same_curves(tmp_path / "straight", tmp_path / "killed")


def test_kill_during_an_evaluation_is_measured_on_resume(data, tmp_path, monkeypatch,
                                                         random_weights):
    loop = LoopOptions(evaluation=evaluation(data, random_weights))
    real = Tracker.update

    def update(self, step, *args, **kwargs):
        if step == 4:
            raise KeyboardInterrupt
        return real(self, step, *args, **kwargs)

    monkeypatch.setattr(Tracker, "update", update)
    with pytest.raises(KeyboardInterrupt):
        train(tiny(data, steps=6, checkpoint_every=100), tmp_path / "run", quiet=True, loop=loop)
    assert steps_of(tmp_path / "run") == [2]
    monkeypatch.setattr(Tracker, "update", real)
    train(tiny(data, steps=6, checkpoint_every=100), tmp_path / "run", resume=True, quiet=True)
    assert steps_of(tmp_path / "run") == [2, 4, 6]


def test_a_failed_evaluation_is_logged_and_training_goes_on(data, tmp_path, monkeypatch, capsys,
                                                            random_weights):
    real, calls = runners.RUNNERS["fid"], []

    def flaky(*args):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("CUDA out of memory (simulated)")
        return real(*args)

    monkeypatch.setitem(runners.RUNNERS, "fid", flaky)
    train(tiny(data, steps=6, checkpoint_every=100), tmp_path / "run", quiet=True,
          loop=LoopOptions(evaluation=evaluation(data, random_weights)))
    got = history(tmp_path / "run")
    assert [e["step"] for e in got["history"]] == [2, 6]
    assert got["failed"] == [{"step": 4, "reason": "RuntimeError: CUDA out of memory (simulated)"}]
    assert "evaluation at step 4 failed (RuntimeError: CUDA out of memory (simulated)); training " \
           "goes on" in capsys.readouterr().err
    assert torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["step"] == 6


def test_pix2pix_eval_every_and_resume(tmp_path, monkeypatch, random_weights):
    ref = tmp_path / "targets"
    cfg = dict(width=0.125, batch_size=4, subset_per_class=2, steps=6, checkpoint_every=100)
    train_pix2pix(Pix2PixConfig(**cfg), tmp_path / "first", quiet=True)
    assert run("sample", "--run", tmp_path / "first", "--out", tmp_path / "s", "--inputs", 6,
               "--per-input", 2, "--quiet").exit_code == 0
    (tmp_path / "s" / "targets").rename(ref)
    ev = Evaluation(every=2, ref=str(ref), metrics=("fid",), inputs=6, per_input=2, dims=64,
                    bootstrap=20, inception_weights=str(random_weights))
    with killed(monkeypatch, pix2pix, 4):
        train_pix2pix(Pix2PixConfig(**cfg), tmp_path / "run", quiet=True, loop=LoopOptions(evaluation=ev))
    assert steps_of(tmp_path / "run") == [2]
    train_pix2pix(Pix2PixConfig(**cfg), tmp_path / "run", resume=True, quiet=True)
    got = history(tmp_path / "run")
    assert [e["step"] for e in got["history"]] == [2, 4, 6] and got["history"][0]["n"] == 12
    assert torch.load(tmp_path / "run" / "best.pt", weights_only=True)["step"] == got["best"]["step"]
    # the in-loop numbers are `sample --step N` + `fid`'s
    assert run("sample", "--run", tmp_path / "run", "--out", tmp_path / "s4", "--step", 4,
               "--inputs", 6, "--per-input", 2, "--quiet").exit_code == 0
    fid = json.loads(run("fid", tmp_path / "s4" / "samples", ref, "--dims", 64,
                         "--inception-weights", random_weights, "--json", "--quiet").stdout)
    assert got["history"][1]["fid"] == pytest.approx(fid["fid"], rel=1e-9)
    # `track` samples each snapshot of the image-to-image run the same way
    result = run("track", tmp_path / "run", "--ref", ref, "--metrics", "fid", "--inputs", 6,
                 "--per-input", 2, "--dims", 64, "--bootstrap", 20, "--inception-weights",
                 random_weights, "--out", tmp_path / "curve", "--json", "--quiet")
    assert result.exit_code == 0, result.output
    again = json.loads(result.stdout)["history"]
    assert [(e["step"], e["fid"], e["fid_ci"]) for e in again] == \
        [(e["step"], e["fid"], e["fid_ci"]) for e in got["history"]]


def test_cli_eval_options_resume_and_tensorboard(data, tmp_path, monkeypatch, random_weights):
    written = []

    class Writer:
        def __init__(self, log_dir, purge_step=None):
            written.append(("open", log_dir, purge_step))

        def add_scalar(self, tag, value, step):
            written.append((tag, step))

        def close(self):
            written.append(("close",))

    monkeypatch.setitem(sys.modules, "tensorboard", types.ModuleType("tensorboard"))
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard",
                        types.SimpleNamespace(SummaryWriter=Writer))
    out = tmp_path / "run"
    args = ["train", "--dataset", "folder", "--data-root", data / "train", "--out", out,
            "--batch-size", 4, "--width", 0.125, "--quiet", "--json"]
    result = run(*args, "--steps", 4, "--eval-every", 2, "--eval-ref", data / "ref",
                 "--eval-metrics", "fid", "--eval-per-class", 4, "--eval-dims", 64,
                 "--eval-bootstrap", 20, "--inception-weights", random_weights,
                 "--keep-best", "fid", "--tensorboard", tmp_path / "tb")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["track"] == str(out / "track.json") and payload["best"]["metric"] == "fid"
    assert ("eval/fid", 2) in written and ("train/loss_d", 1) in written and ("close",) in written
    assert json.loads((out / "config.json").read_text())["loop"]["evaluation"]["every"] == 2
    result = run(*args, "--steps", 6, "--resume")          # evaluation settings from the run
    assert result.exit_code == 0, result.output
    assert steps_of(out) == [2, 4, 6] and ("eval/fid", 6) in written
