"""``msgan-eval demo --task modes`` on a tiny setting: the report's numbers are the run folders'
modes.json (themselves checked against PacGAN's metric in test_toy2d / test_modes_metric), the
verdicts are compare_trials', the output folder is replaced only when it holds a previous demo."""
import json

import pytest
from click.testing import CliRunner
from test_catalogue import assert_refused

from msgan_eval.cli import main
from msgan_eval.datasets import DEBIAN_FASHION_MNIST
from msgan_eval.demos.modes import ARMS, ModesDemoConfig, collapse_shown, run_modes_demo
from msgan_eval.evaluate.modes_trials import compare_trials

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = {"steps": 4, "n_train": 400, "width": 0.05, "bn_refresh_batches": 1}


def test_modes_demo_report_is_the_runs_results(tmp_path):
    config = ModesDemoConfig(trials=2, workers=1, overrides=TINY)
    report, files = run_modes_demo(tmp_path / "demo", config, quiet=True, log=lambda s: None,
                                   command=["msgan-eval", "demo"])
    assert set(report["layouts"]) == {"ring", "grid"}
    for layout, lr in report["layouts"].items():
        assert list(lr["arms"]) == [a[0] for a in ARMS]
        for arm, entry in lr["arms"].items():
            run = tmp_path / "demo" / entry["run"]
            assert entry["summary"] == json.loads((run / "modes.json").read_text())["summary"]
        first = lr["comparisons"][0]
        assert (first["baseline"], first["candidate"]) == ("GAN", "PacGAN2")
        assert first["verdicts"] == compare_trials(tmp_path / "demo" / lr["arms"]["GAN"]["run"],
                                                   tmp_path / "demo" / lr["arms"]["PacGAN2"]["run"]).verdicts
        assert report["collapse_shown"][layout] == collapse_shown(lr)
        assert (tmp_path / "demo" / lr["scatter"]).is_file()
    assert json.loads(files["json"].read_text())["schema"] == "msgan-eval/modes-demo/1"
    assert "PacGAN modes" in files["md"].read_text() and "6.3 ± 0.5" in files["md"].read_text()
    # a second run replaces the first; a folder of something else is refused
    run_modes_demo(tmp_path / "demo", ModesDemoConfig(trials=2, workers=1, layouts=("ring",),
                                                      overrides=TINY),
                   quiet=True, log=lambda s: None, command=[])
    assert set(json.loads(files["json"].read_text())["layouts"]) == {"ring"}
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "keep.txt").write_text("x")
    result = CliRunner().invoke(main, ["demo", "--task", "modes", "--out", str(tmp_path / "other"),
                                       "--steps", "2", "--trials", "2", "--quiet"])
    assert_refused(result, "other", "not empty")
    assert (tmp_path / "other" / "keep.txt").read_text() == "x"


def test_options_of_another_task_are_refused(tmp_path):
    result = CliRunner().invoke(main, ["demo", "--full", "--out", str(tmp_path / "x")])
    assert_refused(result, "--full")
    for args, flag in ((["--trials", "3"], "--trials"), (["--workers", "1"], "--workers"),
                       (["--task", "modes", "--per-class", "5"], "--per-class"),
                       (["--task", "modes", "--width", "0.5"], "--width"),
                       (["--task", "modes-stacked", "--full"], "--full"),
                       (["--task", "modes-stacked", "--seeds", "2"], "--seeds")):
        result = CliRunner().invoke(main, ["demo", *args, "--out", str(tmp_path / "x")])
        assert_refused(result, flag)
    assert not (tmp_path / "x").exists()


@pytest.mark.skipif(not DEBIAN_FASHION_MNIST.exists(), reason="needs Debian's dataset-fashion-mnist")
def test_stacked_demo_reports_each_arm_over_its_runs(tmp_path, monkeypatch):
    from msgan_eval.demos.modes_stacked import StackedDemoConfig, run_stacked_demo
    from msgan_eval.evaluate import modes_classifier

    real_load = modes_classifier.load_labeller

    def cheap_labels(classifier, device="auto", batch_size=500):
        # the bundled classifier's facts, labels by brightness: the CNN on 6 x 3 x 1000 channels
        # took ~25 s of the suite and is tested in test_modes.py
        _, info = real_load(classifier, device, batch_size)
        return (lambda items: (items.reshape(len(items), -1).mean(axis=1) // 12 % 10).astype(int),
                info)
    monkeypatch.setattr(modes_classifier, "load_labeller", cheap_labels)
    config = StackedDemoConfig(trials=2, steps=2, width=0.125, samples=1000, workers=1)
    report, files = run_stacked_demo(tmp_path / "st", config, quiet=True, log=lambda s: None,
                                     command=["test"])
    for arm, entry in report["arms"].items():
        runs = [json.loads((tmp_path / "st" / r / "modes.json").read_text()) for r in entry["runs"]]
        assert [r["trials"][0]["modes"] for r in runs] == [t["modes"] for t in entry["trials"]]
        assert all(r["trials"][0]["n"] == 1000 for r in runs)
    assert [c["candidate"] for c in report["comparisons"]] == ["PacDCGAN2", "MSGAN"]
    assert report["classifier"]["name"] == "fashion-mnist" and files["md"].is_file()
    from msgan_eval.demos.modes_stacked import render_text

    assert "PacGAN: 78.9 ± 6.46 modes" in render_text(report)
