"""Mode-counting results over trials (evaluate/modes_trials.py) and `compare` of two of them."""
import json

import numpy as np
import pytest
from click.testing import CliRunner
from scipy import stats
from test_catalogue import assert_refused

from msgan_eval.cli import main
from msgan_eval.evaluate.modes_trials import SCHEMA, compare_trials, mean_se, welch_interval


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _result(path, modes, hq, kl, layout="ring", arm="GAN"):
    trials = [{"trial": i, "modes": m, "modes_total": 8, "high_quality": h, "reverse_kl": k,
               "counts": [], "n": 2500} for i, (m, h, k) in enumerate(zip(modes, hq, kl))]
    path.write_text(json.dumps({"schema": SCHEMA, "layout": layout, "arm": arm, "trials": trials}))
    return path


def test_mean_and_standard_error_match_scipy():
    xs = [6, 7, 5, 8, 6, 6, 7, 4, 8, 6]
    got = mean_se(xs)
    assert got["mean"] == pytest.approx(np.mean(xs)) and got["n"] == 10
    assert got["se"] == pytest.approx(stats.sem(xs))
    assert mean_se([None, 2.0])["n"] == 1 and mean_se([None, 2.0])["se"] is None


def test_welch_interval_matches_scipy():
    a, b = [6.0, 7, 5, 8, 6, 6, 7, 4], [8.0, 8, 7, 8, 8, 7, 8, 8, 8, 8]
    diff, low, high = welch_interval(a, b)
    ci = stats.ttest_ind(b, a, equal_var=False).confidence_interval(0.95)
    assert diff == pytest.approx(np.mean(b) - np.mean(a))
    assert (low, high) == pytest.approx((ci.low, ci.high))


def test_verdicts_follow_the_better_direction(tmp_path):
    gan = _result(tmp_path / "gan.json", [5, 6, 6, 5, 7], [0.98, 0.97, 0.99, 0.98, 0.97],
                  [0.6, 0.5, 0.55, 0.7, 0.4])
    pac = _result(tmp_path / "pac.json", [8, 8, 8, 8, 8], [0.95, 0.99, 0.96, 0.97, 0.99],
                  [0.05, 0.08, 0.06, 0.1, None], arm="PacGAN2")
    res = compare_trials(gan, pac)
    assert res.verdicts == {"modes": "candidate-better", "high_quality": "no-significant-difference",
                            "reverse_kl": "candidate-better"}
    assert res.metrics["reverse_kl"]["candidate"]["n"] == 4 and "1 trial(s)" in res.notes[0]
    assert compare_trials(pac, gan).verdicts["modes"] == "baseline-better"
    # the joint verdict is metrics.overall's rule over the trial metrics' roles
    assert res.overall["verdict"] == "candidate-better"
    assert res.overall["better"] == ["modes", "reverse_kl"] and res.overall["worse"] == []
    assert "diversity: Modes +2.2, Reverse KL -0.478" in res.overall["reasons"][0]
    blurry = _result(tmp_path / "blurry.json", [8, 8, 8, 8, 8], [0.5, 0.6, 0.55, 0.5, 0.6],
                     [0.05, 0.08, 0.06, 0.1, 0.07], arm="MSGAN")
    mixed = compare_trials(gan, blurry).overall
    assert mixed["verdict"] == "trade-off" and mixed["worse"] == ["high_quality"]
    assert "fidelity: High-quality fraction" in mixed["reasons"][0]


def test_compare_cli_reads_modes_results_without_ref(tmp_path):
    gan = _result(tmp_path / "gan.json", [5, 6, 6], [0.9, 0.9, 0.9], [0.6, 0.5, 0.55])
    folder = tmp_path / "run"
    folder.mkdir()
    _result(folder / "modes.json", [8, 8, 7], [0.9, 0.9, 0.9], [0.1, 0.1, 0.2], arm="MSGAN")
    result = run("compare", "--baseline", gan, "--candidate", folder, "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["kind"] == "modes-trials" and out["candidate"]["arm"] == "MSGAN"
    assert out["verdicts"] == compare_trials(gan, folder).verdicts
    human = run("compare", "--baseline", gan, "--candidate", folder)
    assert "Reverse KL" in human.stdout and "MSGAN (3 trials)" in human.stdout
    assert out["overall"] == compare_trials(gan, folder).overall
    assert f"overall: {out['overall']['verdict']}" in human.stdout


def test_compare_of_modes_results_refuses_bad_input(tmp_path):
    gan = _result(tmp_path / "gan.json", [5, 6], [0.9, 0.9], [0.6, 0.5])
    grid = _result(tmp_path / "grid.json", [20, 21], [0.9, 0.9], [0.6, 0.5], layout="grid")
    other = tmp_path / "other.json"
    other.write_text('{"schema": "something else"}')
    assert_refused(run("compare", "--baseline", gan, "--candidate", grid), "layout 'grid'")
    assert_refused(run("compare", "--baseline", gan, "--candidate", other), str(other),
                   "not a modes result")
    assert_refused(run("compare", "--baseline", gan, "--candidate", tmp_path), "on both")
    images = tmp_path / "imgs"
    images.mkdir()
    assert_refused(run("compare", "--baseline", gan, "--candidate", images), "on both")
    assert_refused(run("compare", "--baseline", gan, "--candidate", gan, "--out", tmp_path / "o"),
                   "--out")
    assert_refused(run("compare", "--baseline", images, "--candidate", images), "--ref")


def test_several_results_per_side_pool_their_trials(tmp_path):
    runs = [_result(tmp_path / f"b{i}.json", [5 + i], [0.9], [0.5]) for i in range(3)]
    cand = _result(tmp_path / "c.json", [8, 8, 7], [0.9, 0.9, 0.9], [0.1, 0.1, 0.2], arm="PacGAN2")
    result = run("compare", "--baseline", *runs, "--candidate", cand, "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["baseline"]["trials"] == 3 and out["metrics"]["modes"]["baseline"]["mean"] == 6.0
    assert_refused(run("compare", "--baseline", runs[0], cand, "--candidate", cand), "one arm per side")
