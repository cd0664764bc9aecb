"""The catalogue of issue 23, second half: multi-run inputs and reports (7, 8), options that were
silently ignored (9), limits (10), concurrent and failing writes (11, 12) and the second reading
(17). Same promises as tests/test_catalogue.py."""
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from test_catalogue import assert_refused, listing

from msgan_eval.cli import main

from conftest import write_random_pngs

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture
def runs(tmp_path):
    """ref: 12 images in 2 classes; b1, b2, b3, c1: 6 each (3 per class); other: classes a, z."""
    out = {}
    for name, seed in (("ref", 1), ("b1", 10), ("b2", 20), ("b3", 30), ("c1", 40), ("c2", 50)):
        for c in ("a", "b"):
            write_random_pngs(tmp_path / name / c, 6 if name == "ref" else 3, size=(8, 8),
                              seed=seed + ord(c))
        out[name] = tmp_path / name
    for c in ("a", "z"):
        write_random_pngs(tmp_path / "other" / c, 3, size=(8, 8), seed=70 + ord(c))
    out["other"] = tmp_path / "other"
    return out


def compare(baselines, candidates, ref, *extra):
    return run("compare", "--baseline", *baselines, "--candidate", *candidates, "--ref", ref,
               "--metrics", "ndb", "--ndb-bins", 2, "--bootstrap", 10, "--quiet", *extra)


# --- 7. md / html reports of multi-run compares show every run and the pooled row -------------

def test_multirun_reports_show_every_run_and_the_pooled_row(tmp_path, runs):
    out = tmp_path / "report"
    result = compare([runs["b1"], runs["b2"]], [runs["c1"], runs["c2"]], runs["ref"], "--out", out)
    assert result.exit_code == 0, result.output
    md, page = (out / "report.md").read_text(), (out / "report.html").read_text()
    for path in (runs["b1"], runs["b2"], runs["c1"], runs["c2"]):
        assert str(path) in md and str(path) in page
    assert md.count("| pooled |") == 4                 # NDB and JSD, two arms
    assert page.count("<td>pooled</td>") == 4
    report = json.loads((out / "report.json").read_text())
    value = report["runs"]["baseline"]["ndb"]["value"]
    assert "| NDB | baseline | pooled | mean of 2 runs" in md and f"{value:.0f}" in md


# --- 8. duplicate runs, mismatched class sets, unequal run counts ------------------------------

def test_the_same_run_twice_is_refused(runs, tmp_path):
    link = tmp_path / "same-as-b1"
    link.symlink_to(runs["b1"], target_is_directory=True)
    for twice in ([runs["b1"], runs["b1"]], [runs["b1"], link]):
        result = compare(twice, [runs["c1"], runs["c2"]], runs["ref"])
        assert_refused(result, "--baseline", "given twice")


def test_runs_with_other_classes_are_refused(runs):
    result = compare([runs["b1"], runs["b2"]], [runs["c1"], runs["other"]], runs["ref"])
    assert_refused(result, f"--candidate {runs['other']}", "conditions differ", "'z'")


def test_unequal_run_counts_are_noted(runs):
    result = compare([runs["b1"], runs["b2"], runs["b3"]], [runs["c1"]], runs["ref"], "--json")
    assert result.exit_code == 0, result.output
    notes = json.loads(result.stdout)["notes"]
    assert any("runs per arm differ (baseline 3, candidate 1)" in n for n in notes), notes


def test_api_refuses_duplicate_in_memory_runs():
    import msgan_eval
    from msgan_eval.errors import ParameterError

    a = np.random.default_rng(0).integers(0, 256, (6, 8, 8, 3), dtype=np.uint8)
    with pytest.raises(ParameterError, match="candidate .*given twice"):
        msgan_eval.compare(a, [a + 1, a + 1], a, metrics=("ndb",), ndb_bins=2, bootstrap=10)


# --- 9. options a run would ignore are refused ------------------------------------------------

@pytest.fixture(scope="module")
def categorical_run(tmp_path_factory):
    from test_catalogue import TINY

    from msgan_eval.datasets import DEBIAN_FASHION_MNIST

    if not DEBIAN_FASHION_MNIST.exists():
        pytest.skip("apt-get install dataset-fashion-mnist")
    out = tmp_path_factory.mktemp("runs") / "cat"
    result = CliRunner().invoke(main, ["train", "--out", str(out), "--steps", "1", *TINY])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def pairs_run(tmp_path_factory):
    from msgan_eval.images import write_png

    root = tmp_path_factory.mktemp("pairs")
    rng = np.random.default_rng(1)
    for name in ("p1", "p2", "p3"):
        write_png(root / "data" / f"{name}.png", rng.integers(0, 256, (32, 64, 3), dtype=np.uint8))
    out = root / "run"
    result = CliRunner().invoke(main, ["train", "--dataset", "paired-folder", "--data-root",
                                       str(root / "data"), "--out", str(out), "--steps", "1",
                                       "--width", "0.125", "--batch-size", "2", "--quiet"])
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.parametrize("extra, needle", [(("--inputs", 2), "--inputs"),
                                           (("--per-input", 2), "--per-input")])
def test_image_to_image_options_on_a_categorical_run(tmp_path, categorical_run, extra, needle):
    result = run("sample", "--run", categorical_run, "--out", tmp_path / "o", *extra, "--quiet")
    assert_refused(result, needle, "categorical run", "--per-class")
    assert listing(tmp_path) == []


def test_categorical_options_on_an_image_to_image_run(tmp_path, pairs_run):
    result = run("sample", "--run", pairs_run, "--out", tmp_path / "o", "--per-class", 2, "--quiet")
    assert_refused(result, "--per-class", "image-to-image run")
    assert listing(tmp_path) == []
    # --grid is no longer ignored there: a grid of one row per input is written
    grid = tmp_path / "g.png"
    assert run("sample", "--run", pairs_run, "--out", tmp_path / "o", "--inputs", 2, "--per-input",
               2, "--grid", grid, "--quiet").exit_code == 0
    assert grid.is_file()


def test_demo_options_of_the_other_task(tmp_path):
    assert_refused(run("demo", "--out", tmp_path / "d", "--inputs", 3), "--inputs",
                   "--task image-to-image")
    assert_refused(run("demo", "--task", "image-to-image", "--out", tmp_path / "d", "--per-class",
                       3), "--per-class", "--task categorical")
    assert listing(tmp_path) == []


def test_skip_missing_without_per_class(runs, random_weights):
    result = run("fid", runs["ref"], runs["b1"], "--skip-missing", "--dims", 64,
                 "--inception-weights", random_weights, "--quiet")
    assert_refused(result, "--skip-missing", "--per-class")
    assert_refused(compare([runs["b1"]], [runs["c1"]], runs["ref"], "--skip-missing"),
                   "--skip-missing", "fid-per-class")


def test_vgg16_weights_with_inception_features(runs, tmp_path):
    result = run("prdc", runs["ref"], runs["b1"], "--vgg16-weights", tmp_path / "vgg.pth",
                 "--quiet")
    assert_refused(result, "--vgg16-weights", "--features vgg16-fc2")


# --- 10. limits checked up front --------------------------------------------------------------

@pytest.mark.parametrize("value", ["abc", "-1", "nan", "inf", "1e400"])
def test_bad_cache_cap_is_refused_before_any_command(monkeypatch, runs, value):
    monkeypatch.setenv("MSGAN_EVAL_CACHE_MAX_MB", value)
    assert_refused(run("ndb", runs["b1"], "--train", runs["ref"], "--bins", 2, "--quiet"),
                   "MSGAN_EVAL_CACHE_MAX_MB")
    import msgan_eval
    from msgan_eval.errors import UserError

    with pytest.raises(UserError, match="MSGAN_EVAL_CACHE_MAX_MB"):
        msgan_eval.fid(runs["ref"], runs["b1"], dims=64)


@pytest.mark.parametrize("args, needle", [
    (("demo", "--seeds", 10 ** 9), "--seeds"),
    (("kid", "{ref}", "{b1}", "--subsets", 10 ** 9), "--subsets"),
    (("compare", "--baseline", "{b1}", "--candidate", "{c1}", "--ref", "{ref}", "--metrics", "kid",
      "--kid-subsets", 10 ** 9), "--kid-subsets"),
    (("sample", "--run", "{b1}", "--out", "{b1}/o", "--per-input", 10 ** 8), "--per-input"),
])
def test_limits_are_checked_up_front(runs, args, needle):
    args = [str(a).format(**runs) for a in args]
    assert_refused(run(*args, "--json"), needle, json_out=True)
    assert not (Path.cwd() / "msgan-eval-demo").exists()


def test_kid_subsets_that_would_not_fit_are_refused_before_extraction(runs, monkeypatch):
    from types import SimpleNamespace

    monkeypatch.setattr("msgan_eval.defaults.MAX_BOOTSTRAP_CELLS", 100)
    no_extraction = SimpleNamespace(of=lambda *a, **k: pytest.fail("extraction before the check"))
    monkeypatch.setattr("msgan_eval.evaluate.kid.feature_source", lambda *a, **k: no_extraction)
    result = run("kid", runs["ref"], runs["b1"], "--subsets", 20, "--subset-size", 4, "--quiet")
    assert_refused(result, "--subsets 20", "more than 100")


def test_sample_refuses_what_the_disk_cannot_hold(tmp_path, categorical_run, monkeypatch):
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10 ** 9, 10 ** 9, 10 ** 5))
    result = run("sample", "--run", categorical_run, "--out", tmp_path / "o", "--per-class", 1000,
                 "--quiet")
    assert_refused(result, "--per-class", "0.1 MiB free")   # 10**5 bytes, not "0.0 GiB"
    assert listing(tmp_path) == []


# --- 11. two writers of one output folder ------------------------------------------------------

def test_a_second_sample_into_the_same_out_is_refused(tmp_path, categorical_run):
    from msgan_eval.fileio import _folder_lock

    out = tmp_path / "o"
    with _folder_lock(out, "--out"):                 # as another msgan-eval process holds it
        result = run("sample", "--run", categorical_run, "--out", out, "--per-class", 1, "--quiet")
    assert_refused(result, f"--out {out}", "another msgan-eval command is writing")
    assert listing(tmp_path) == []
    assert run("sample", "--run", categorical_run, "--out", out, "--per-class", 1,
               "--quiet").exit_code == 0
    assert not any(p.name.endswith(".lock") for p in tmp_path.iterdir())


def test_a_folder_filled_meanwhile_is_never_replaced(tmp_path):
    from msgan_eval.errors import UserError
    from msgan_eval.fileio import owned_dir

    out = tmp_path / "o"
    with pytest.raises(UserError, match="exists and is not an empty folder"):
        with owned_dir(out, "--out") as build:
            (build / "new.txt").write_text("ours")
            out.mkdir()
            (out / "theirs.txt").write_text("the other run's")       # finished first
    assert listing(tmp_path) == ["o", "o/theirs.txt"]


# --- 12. a full or read-only disk: the real folder and the real cause --------------------------

def test_disk_full_names_the_output_not_the_part_folder(tmp_path, categorical_run, monkeypatch):
    import errno

    def full(path, image):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr("msgan_eval.images.write_png", full)
    out = tmp_path / "o"
    result = run("sample", "--run", categorical_run, "--out", out, "--per-class", 1, "--quiet")
    assert_refused(result, f"{out}/", "disk full")
    assert ".part" not in result.stderr and listing(tmp_path) == []


def test_read_only_parent_names_the_folder_and_the_cause(tmp_path, monkeypatch):
    import errno
    import os

    real_open = os.open

    def read_only(path, *args, **kwargs):
        if str(path).startswith(str(tmp_path)):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", read_only)
    from msgan_eval.demo import DemoConfig, run_demo
    from msgan_eval.errors import UserError

    with pytest.raises(UserError) as info:
        run_demo(tmp_path / "demo", DemoConfig(), quiet=True, log=print, command=[],
                 work=lambda *a, **k: pytest.fail("work started"))
    message = str(info.value)
    assert message.startswith(f"--out {tmp_path / 'demo'}: cannot write in {tmp_path}")
    assert "Read-only file system" in message and ".part" not in message and "space" not in message


def test_io_errors_name_the_real_path_and_cause():
    import errno

    from msgan_eval.cli import io_message

    part = "/data/.out.host~12~ab.part/samples/a/.00001.png.host~12~cd.part.png"
    full = io_message(OSError(errno.ENOSPC, "No space left on device", part))
    assert full.startswith("/data/out/samples/a/00001.png: No space left on device; disk full")
    ro = io_message(OSError(errno.EROFS, "Read-only file system", "/data/.out.msgan-eval.lock"))
    assert ro.startswith("/data/out: Read-only file system; a read-only") and "space" not in ro


def test_inception_conversion_into_a_full_cache_says_disk_full(monkeypatch, capsys, tmp_path):
    import errno

    from msgan_eval.features import inception_convert as ic

    calls = []

    def convert(source, target):
        calls.append(target)
        if len(calls) == 1:
            raise OSError(errno.ENOSPC, "No space left on device", str(target))
        return target

    monkeypatch.setattr(ic, "fid_helper_torchscript", lambda: tmp_path / "default_1.pt")
    monkeypatch.setattr(ic, "convert_fid_helper", convert)
    path = ic.converted_inception_weights()
    err = capsys.readouterr().err
    assert "disk full" in err and str(ic.converted_path().parent) in err
    assert path == calls[1] and path.parent != ic.converted_path().parent


# --- 13. non-UTF-8 class folders ---------------------------------------------------------------

def test_lpips_of_a_non_utf8_class_folder(tmp_path):
    import os

    from msgan_eval.features.lpips_net import write_random_backbone

    root = tmp_path / "gen"
    write_random_pngs(root / "ok", 3, size=(32, 32))
    bad = Path(os.fsdecode(os.fsencode(root) + b"/caf\xe9"))
    write_random_pngs(bad, 3, size=(32, 32), seed=4)
    backbone = write_random_backbone("alex", tmp_path / "alex.pth", seed=3)
    human = run("lpips", root, "--lpips-backbone", backbone, "--quiet")
    assert human.exit_code == 0, human.output
    assert "caf\\xe9" in human.stdout
    as_json = run("lpips", root, "--lpips-backbone", backbone, "--quiet", "--json")
    assert as_json.exit_code == 0 and len(json.loads(as_json.stdout)["groups"]) == 2


# --- 14. crashes that are now one line ---------------------------------------------------------

def test_per_class_fid_with_a_one_image_class(tmp_path, runs, random_weights, monkeypatch):
    write_random_pngs(runs["b1"] / "c", 1, size=(8, 8))
    write_random_pngs(runs["ref"] / "c", 4, size=(8, 8))
    monkeypatch.setattr("msgan_eval.evaluate.features.inception_features",
                        lambda *a, **k: pytest.fail("extraction before the check"))
    result = run("fid", runs["ref"], runs["b1"], "--per-class", "--dims", 64, "--inception-weights",
                 random_weights, "--quiet")
    assert_refused(result, f"B {runs['b1']}", "class 'c' has 1 image")


def test_kid_seed_beyond_numpy_is_refused_before_extraction(runs, monkeypatch):
    monkeypatch.setattr("msgan_eval.evaluate.kid.feature_source",
                        lambda *a, **k: pytest.fail("weights resolved before the check"))
    assert_refused(run("kid", runs["ref"], runs["b1"], "--seed", 2 ** 32, "--quiet"),
                   f"--seed {2 ** 32}")


def test_fid_of_a_meta_tensor_is_refused():
    import torch

    import msgan_eval
    from msgan_eval.errors import ParameterError

    with pytest.raises(ParameterError, match="^a: a meta tensor"):
        msgan_eval.fid(torch.empty(4, 3, 8, 8, device="meta"), torch.rand(4, 3, 8, 8), dims=64)


# --- 15. messages that blamed or said the wrong thing ------------------------------------------

def test_resume_on_another_dataset_names_the_runs_dataset(categorical_run, tmp_path):
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(categorical_run, copy)
    before = listing(copy)
    for dataset in ("mnist", "fashion-mnist-edges"):
        result = run("train", "--out", copy, "--resume", "--steps", 2, "--dataset", dataset)
        assert_refused(result, "trained on --dataset fashion-mnist", f"not {dataset}")
    assert listing(copy) == before


@pytest.mark.parametrize("args", [("--threads", 0, "cache", "list", "--json"),
                                  ("--threads", 100000, "cache", "list", "--json"),
                                  ("prepare", "--threads", 100000, "--out", "x", "--json")])
def test_bad_threads_give_one_json_error(args):
    assert_refused(run(*args), "--threads", "expected a whole number of threads", json_out=True)


def test_threads_from_the_environment_are_capped(monkeypatch):
    monkeypatch.setenv("MSGAN_EVAL_THREADS", "100000")
    assert_refused(run("cache", "list", "--json"), "MSGAN_EVAL_THREADS", json_out=True)


def test_pickled_code_in_weights_is_named_whole(tmp_path, runs):
    import os

    import torch

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    evil = tmp_path / "evil.pth"
    torch.save({"x": Evil()}, evil)
    result = run("fid", runs["ref"], runs["b1"], "--inception-weights", evil, "--quiet")
    assert_refused(result, evil, "pickled code", "which is never loaded", code=3)
    assert "..." not in result.stderr


def test_read_only_features_raise_no_torch_warning():
    import warnings

    from msgan_eval.metrics.kid import kid
    from msgan_eval.metrics.prdc import prdc_counts

    a, b = (np.random.default_rng(s).random((12, 8)) for s in (0, 1))
    for x in (a, b):
        x.setflags(write=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kid(a, b, subsets=3, subset_size=5)
        prdc_counts(a, b, k=3)


# --- 17. the second reading --------------------------------------------------------------------

def test_demo_output_points_at_the_final_folder_not_the_part(tmp_path):
    from msgan_eval.demo import compare_arms, run_demo
    from msgan_eval.report.compare import CompareConfig

    def work(build, config, *, quiet, log, command):
        samples = {"baseline": [], "msgan": []}
        for arm, seed in (("baseline", 0), ("baseline", 1), ("msgan", 0), ("msgan", 1)):
            folder = build / "samples" / f"{arm}-s{seed}"
            for c in ("a", "b"):
                write_random_pngs(folder / "samples" / c, 3, size=(8, 8), seed=seed * 10 + ord(c)
                                  + len(arm))
            (folder / "sample.json").write_text(json.dumps({"run": str(build / "runs" / arm)}))
            samples[arm].append(folder / "samples")
        ref = build / "reference"
        for c in ("a", "b"):
            write_random_pngs(ref / c, 4, size=(8, 8), seed=90 + ord(c))
        report, runs_ = compare_arms(samples, ref, CompareConfig(metrics=("ndb",), ndb_bins=2,
                                                                 bootstrap=10),
                                     quiet=True, log=lambda m: None, command=["demo"])
        report["details"]["demo"] = {"task": "test"}
        return report, runs_

    out = tmp_path / "demo"
    report, files = run_demo(out, None, quiet=True, log=lambda m: None, command=["demo"], work=work)
    text = (out / "report.json").read_text() + (out / "report.md").read_text()
    for manifest in out.glob("samples/*/sample.json"):
        text += manifest.read_text()
    assert ".part" not in text and str(out / "samples" / "baseline-s1") in text
    assert json.loads((out / "samples" / "msgan-s0" / "sample.json").read_text())["run"] == \
        str(out / "runs" / "msgan")


def test_image_to_image_train_killed_with_sigkill_resumes(tmp_path):
    """A real SIGKILL during a checkpoint write, then --resume: it completes and leaves no .part."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from msgan_eval.images import write_png

    rng = np.random.default_rng(1)
    for name in ("p1", "p2", "p3", "p4"):
        write_png(tmp_path / "data" / f"{name}.png", rng.integers(0, 256, (32, 64, 3), dtype=np.uint8))
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "msgan_eval", "--threads", "1", "train", "--dataset",
           "paired-folder", "--data-root", str(tmp_path / "data"), "--out", str(out), "--width",
           "0.5", "--batch-size", "2", "--checkpoint-every", "1", "--quiet"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([*cmd, "--steps", "200"], env=env)
    deadline, caught = time.time() + 300, False
    while time.time() < deadline and proc.poll() is None and not caught:
        caught = (out / "checkpoint.pt").exists() and any(p.name.endswith(".part.pt")
                                                          for p in out.iterdir())
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert caught, "no checkpoint write was caught in flight"
    assert (out / "config.json").exists()
    done = subprocess.run([*cmd[:5], "train", "--out", str(out), "--resume", "--steps", "6",
                           "--quiet", "--json"], env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["step"] == 6
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]
    steps = [json.loads(line)["step"] for line in (out / "log.jsonl").read_text().splitlines()]
    assert steps == list(range(1, 7))
