"""``compare`` with per-class FID and the Vendi score (intervals, verdicts, ``check`` rules), the
duplicates note, runs of unequal size, and the MSGAN protocol preset."""
import json

import numpy as np
import pytest
from click.testing import CliRunner
from test_cli_compare import _fashion

from msgan_eval.cli import main
from msgan_eval.datasets import DEBIAN_FASHION_MNIST
from msgan_eval.metrics.vendi import cosine_similarity_matrix

pytestmark = [
    pytest.mark.skipif(not DEBIAN_FASHION_MNIST.exists(), reason="apt-get install dataset-fashion-mnist"),
    pytest.mark.filterwarnings("ignore:The `disp` argument:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:Matrix is singular"),
]
vendi_ref = pytest.importorskip("vendi_score.vendi")


def _run(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    return result


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    root = tmp_path_factory.mktemp("pclass")
    return {"base": _fashion(root / "base", 8, 1, classes=[0, 1, 7], size=28),
            "cand": _fashion(root / "cand", 8, 2, classes=[0, 1, 7], size=28),
            "ref": _fashion(root / "ref", 12, 3, classes=[0, 1, 7], size=28)}


def test_per_class_fid_and_vendi_in_compare_and_check(sets, random_weights, tmp_path, one_torch_thread):
    from msgan_eval.evaluate.features import inception_features
    from msgan_eval.images import scan_images

    from _fid_fixtures import resolved

    out = tmp_path / "out"
    result = _run("compare", "--baseline", sets["base"], "--candidate", sets["cand"], "--ref",
                  sets["ref"], "--metrics", "fid,fid-per-class,vendi", "--dims", 64,
                  "--inception-weights", random_weights, "--bootstrap", 20, "--out", out, "--json",
                  "--quiet")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["metrics"] == ["fid", "fid_per_class", "vendi"]
    for metric in ("fid_per_class", "vendi"):
        assert report["verdicts"][metric] in ("candidate-better", "baseline-better",
                                             "no-significant-difference")
        lo, hi = report["runs"]["candidate"][metric]["ci"]
        assert lo <= report["runs"]["candidate"][metric]["value"] <= hi
    # the numbers are the `fid --per-class` and vendi-score package ones on the same features
    fid_pc = _run("fid", sets["cand"], sets["ref"], "--per-class", "--dims", 64, "--inception-weights",
                  random_weights, "--json", "--quiet")
    assert report["runs"]["candidate"]["fid_per_class"]["value"] == pytest.approx(
        json.loads(fid_pc.stdout)["fid_per_class_mean"], rel=1e-9)
    images = scan_images(sets["cand"])
    feats = inception_features(images, weights=resolved(random_weights), dims=64)
    expected = np.mean([vendi_ref.score_K(cosine_similarity_matrix(feats[idx]))
                        for idx in images.groups().values()])
    assert report["runs"]["candidate"]["vendi"]["value"] == pytest.approx(expected, rel=1e-9)
    assert report["details"]["duplicates"]["candidate"]["exact"] == 0.0
    assert any(n.startswith("duplicates") for n in report["notes"])
    expect = tmp_path / "expect.toml"
    expect.write_text('[candidate.vendi]\nmin = 1.0\n[candidate.fid_per_class]\nmax = 1e9\n'
                      '[verdicts]\nvendi = ["candidate-better", "baseline-better", '
                      '"no-significant-difference"]\n')
    assert _run("check", out / "report.json", "--expect", expect).exit_code == 0
    expect.write_text("[candidate.vendi]\nmin = 1000.0\n")
    assert _run("check", out / "report.json", "--expect", expect).exit_code == 1


def test_repeated_images_are_flagged_in_compare(sets, random_weights, tmp_path):
    import shutil

    rep = tmp_path / "rep"
    for cls in sorted(p.name for p in sets["cand"].iterdir()):
        (rep / cls).mkdir(parents=True)
        srcs = sorted((sets["cand"] / cls).iterdir())[:3]
        for i in range(8):
            shutil.copyfile(srcs[i % 3], rep / cls / f"{i:03d}.png")
    result = _run("compare", "--baseline", sets["base"], "--candidate", rep, "--ref", sets["ref"],
                  "--metrics", "fid", "--dims", 64, "--inception-weights", random_weights,
                  "--bootstrap", 20, "--json", "--quiet")
    assert result.exit_code == 0, result.output
    dup = json.loads(result.stdout)["details"]["duplicates"]
    assert dup["candidate"]["exact"] == pytest.approx(5 / 8)
    assert dup["candidate"]["near"] >= 5 / 8 and dup["baseline"]["exact"] == 0.0


def test_runs_of_unequal_size_are_cut_to_the_smaller_n(tmp_path, converted, one_torch_thread):
    small = _fashion(tmp_path / "small", 3, 21, size=28)       # 30 images
    big = _fashion(tmp_path / "big", 20, 22, size=28)          # 200 images
    ref = _fashion(tmp_path / "ref", 20, 23, size=28)
    # the trial: a 30-image baseline made a 200-image candidate of the same distribution
    # look better (FID by 95), because FID and JSD grow as n shrinks
    result = _run("compare", "--baseline", small, "--candidate", big, "--ref", ref,
                  "--metrics", "fid,ndb", "--inception-weights", converted,
                  "--ndb-bins", 20, "--json", "--quiet")
    # measured without the cut (real weights): FID 130.9 vs 62.4 and JSD 0.121 vs 0.008, both
    # "candidate-better"; with it FID 130.9 vs 122.9, no significant difference
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert "candidate-better" not in report["verdicts"].values(), report["verdicts"]
    eq = report["details"]["equal_size"]
    assert eq["subsampled"] == "candidate" and eq["from"] == 200 and eq["to"] == 30 and eq["seed"] == 0
    assert report["inputs"]["candidate"]["n_images"] == 200
    assert any("per bin" in n for n in report["notes"])        # 30 images in 20 bins


def test_msgan_protocol_preset(sets, tmp_path):
    result = _run("compare", "--baseline", sets["base"], "--candidate", sets["cand"], "--ref",
                  sets["ref"], "--metrics", "ndb", "--ndb-bins", 10, "--protocol", "msgan")
    assert result.exit_code == 2
    assert "--protocol msgan sets --ndb-bins 100" in result.output.strip().splitlines()[-1]
    ref = _fashion(tmp_path / "ref", 12, 3, size=28)           # 120 images: room for 100 bins
    result = _run("ndb", sets["cand"], "--train", ref, "--protocol", "msgan", "--json", "--quiet")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["whiten"] is True and out["bins"] == 100 and out["protocol"]["name"] == "msgan"
    result = _run("ndb", sets["cand"], "--train", ref, "--protocol", "msgan", "--bins", 20)
    assert result.exit_code == 2 and "contradicts" in result.output
