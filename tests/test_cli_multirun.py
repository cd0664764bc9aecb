"""``compare`` with several runs per arm: per-run values equal one-run compares, pooled verdicts."""
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from test_cli_compare import _fashion

from msgan_eval.cli import main
from msgan_eval.datasets import DEBIAN_FASHION_MNIST
from msgan_eval.metrics.multirun import run_spread
from msgan_eval.report.schema import validate_report

pytestmark = [
    pytest.mark.skipif(not DEBIAN_FASHION_MNIST.exists(), reason="apt-get install dataset-fashion-mnist"),
    pytest.mark.usefixtures("one_torch_thread", "small_inception"),
]


def _run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def arms(tmp_path_factory):
    from msgan_eval.features.lpips_net import write_random_backbone

    root = tmp_path_factory.mktemp("multirun")
    return {"base": [_fashion(root / f"base{i}", 3, 10 + i, classes=[0, 1, 7]) for i in range(2)],
            "cand": [_fashion(root / f"cand{i}", 3, 20 + i, classes=[0, 1, 7]) for i in range(3)],
            "ref": _fashion(root / "ref", 4, 3), "alex": write_random_backbone("alex", root / "alex.pth"),
            "root": root}


def test_several_runs_per_arm_report_per_run_values_and_a_pooled_verdict(arms, tmp_path):
    common = ["--ref", arms["ref"], "--metrics", "lpips,ndb", "--ndb-bins", 4, "--bootstrap", 50,
              "--lpips-backbone", arms["alex"], "--lpips-num-pairs", 5, "--json", "--quiet"]
    # --baseline R1 R2 (several words), --candidate as a quoted glob
    result = _run("compare", "--baseline", *arms["base"], "--candidate", str(arms["root"] / "cand*"),
                  *common, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    validate_report(json.loads((tmp_path / "out" / "report.json").read_text()))
    multi = report["details"]["multirun"]
    assert [len(multi["inputs"][a]) for a in ("baseline", "candidate")] == [2, 3]
    # run i of an arm is measured as a one-run compare with seed + i measures it
    for arm, paths in (("baseline", arms["base"]), ("candidate", arms["cand"])):
        for i, path in enumerate(paths):
            one = _run("compare", "--baseline", path, "--candidate", path, *common, "--seed", i)
            assert one.exit_code == 0, one.output
            single = json.loads(one.stdout)["runs"]["baseline"]
            for metric in ("lpips", "ndb", "jsd"):
                assert multi["metrics"][metric][arm]["values"][i] == pytest.approx(single[metric]["value"])
    for metric in ("lpips", "ndb", "jsd"):
        for arm in ("baseline", "candidate"):
            values = multi["metrics"][metric][arm]["values"]
            assert report["runs"][arm][metric]["value"] == pytest.approx(np.mean(values))
            assert multi["metrics"][metric][arm]["spread"] == pytest.approx(run_spread(values))
        assert report["verdicts"][metric] in ("candidate-better", "baseline-better",
                                              "no-significant-difference")
    assert "two-level bootstrap" in report["bootstrap"]["method"]


def test_text_output_lists_the_runs_and_a_bad_glob_is_one_line(arms):
    result = _run("compare", "--baseline", *arms["base"], "--candidate", *arms["cand"][:2],
                  "--ref", arms["ref"], "--metrics", "ndb", "--ndb-bins", 4, "--bootstrap", 20,
                  "--quiet")
    assert result.exit_code == 0, result.output
    assert "ndb baseline: runs [" in result.output and "between-run sd" in result.output
    bad = _run("compare", "--baseline", str(arms["root"] / "nothing*"), "--candidate",
               arms["cand"][0], "--ref", arms["ref"], "--metrics", "ndb", "--quiet")
    assert bad.exit_code == 2 and "matches nothing" in bad.output and "Traceback" not in bad.output


def test_overall_verdict_and_degenerate_pool_over_runs(arms, tmp_path):
    """Candidate runs: two of real items, one of static. The degenerate fraction pools like every
    metric (mean of the runs' shares, one per run in the details), the overall verdict is taken
    over the pooled verdicts, and the picture draws a point per run."""
    import re

    from msgan_eval.images import write_image_folder
    from msgan_eval.metrics.overall import overall_verdict

    static = np.random.default_rng(5).integers(0, 256, (9, 32, 32), dtype=np.uint8)
    noisy = tmp_path / "static"
    # the candidate runs' own classes: the runs of an arm must share one set (issue 23, item 8)
    classes = sorted(p.name for p in Path(arms["cand"][0]).iterdir() if p.is_dir())
    write_image_folder(noisy, static, np.repeat([0, 1, 2], 3), classes)
    ref = _fashion(tmp_path / "ref60", 6, 4)                       # 60 images: enough to calibrate
    result = _run("compare", "--baseline", *arms["base"], "--candidate", *arms["cand"][:2], noisy,
                  "--ref", ref, "--metrics", "lpips,degenerate", "--bootstrap", 50,
                  "--lpips-backbone", arms["alex"], "--lpips-num-pairs", 5, "--json", "--quiet",
                  "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    values = report["details"]["multirun"]["metrics"]["degenerate"]["candidate"]["values"]
    assert values[2] == 1.0 and max(values[:2]) <= 0.12
    assert report["runs"]["candidate"]["degenerate"]["value"] == pytest.approx(np.mean(values))
    want = overall_verdict(report["verdicts"], {m: d["value"] for m, d in report["deltas"].items()})
    assert (report["overall"]["verdict"], report["overall"]["worse"]) == (want.verdict, list(want.worse))
    assert not any("noise" in r for r in report["overall"]["reasons"])   # flags are the first run's
    html = (tmp_path / "out" / "report.html").read_text()
    assert len(re.findall(r"<title>candidate run \d", html)) == 3
    assert len(re.findall(r"<title>baseline run \d", html)) == 2
