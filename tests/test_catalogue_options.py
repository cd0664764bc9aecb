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


@pytest.mark.parametrize("extra, needle", [(("--per-class", 2), "--per-class"),
                                           (("--grid", "GRID"), "--grid")])
def test_categorical_options_on_an_image_to_image_run(tmp_path, pairs_run, extra, needle):
    extra = [str(tmp_path / "g.png") if e == "GRID" else e for e in extra]
    result = run("sample", "--run", pairs_run, "--out", tmp_path / "o", *extra, "--quiet")
    assert_refused(result, needle, "image-to-image run")
    assert listing(tmp_path) == []


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
    monkeypatch.setattr("msgan_eval.defaults.MAX_BOOTSTRAP_CELLS", 100)
    monkeypatch.setattr("msgan_eval.evaluate.prdc.feature_source",
                        lambda *a, **k: pytest.fail("weights resolved before the check"))
    result = run("kid", runs["ref"], runs["b1"], "--subsets", 20, "--subset-size", 4, "--quiet")
    assert_refused(result, "--subsets 20", "more than 100")


def test_sample_refuses_what_the_disk_cannot_hold(tmp_path, categorical_run, monkeypatch):
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10 ** 9, 10 ** 9, 10 ** 5))
    result = run("sample", "--run", categorical_run, "--out", tmp_path / "o", "--per-class", 1000,
                 "--quiet")
    assert_refused(result, "--per-class", "GiB free")
    assert listing(tmp_path) == []
