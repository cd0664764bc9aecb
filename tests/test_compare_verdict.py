"""compare's joint verdict, degenerate fraction and gated LPIPS on real images (issue #22's cases).

Real Fashion-MNIST items (nearest-upscaled to 32 x 32 for AlexNet), the real FID Inception
(``converted``) and the real LPIPS AlexNet (``lpips_archive``); 3 conditions so the module stays
small. The reference holds 50 held-out items per condition: with fewer, the flags' 0.1 / 99.9
percentiles sit on the reference's extreme images and ~5 % of real items fall outside them
(docs/compare-verdicts.md); one flagged item would be a third of a collapsed arm.

- collapsed real items (one item x 10 per condition) vs noise / checkerboards / blank frames: the
  candidate is more diverse by LPIPS, yet never ``candidate-better`` overall;
- collapsed real items vs 10 distinct real items per condition: ``candidate-better``.
The degenerate and gated-LPIPS numbers are checked against ``msgan_eval.inspect`` and
``msgan_eval.lpips_diversity(..., real=...)`` on the same images.
"""
import json

import numpy as np
import pytest
from click.testing import CliRunner

import msgan_eval
from msgan_eval.cli import main
from msgan_eval.datasets import DEBIAN_FASHION_MNIST, load_fashion_mnist
from msgan_eval.images import write_image_folder

pytestmark = [
    pytest.mark.skipif(not DEBIAN_FASHION_MNIST.exists(), reason="apt-get install dataset-fashion-mnist"),
    pytest.mark.filterwarnings("ignore:Matrix is singular"),
    pytest.mark.usefixtures("one_torch_thread"),
]
CLASSES = (0, 1, 7)          # T-shirt/top, Trouser, Sneaker


def _items(per_class: int, skip: int) -> dict:
    """condition -> (n, 32, 32) uint8 test items, ``skip`` items into a seeded order."""
    images, labels = load_fashion_mnist("test")
    rows = np.arange(32) * 28 // 32
    rng = np.random.default_rng(0)
    return {str(c): images[rng.permutation(np.flatnonzero(labels == c))[skip:skip + per_class]][:, rows][:, :, rows]
            for c in CLASSES}


def _degenerate_frames(seed: int) -> np.ndarray:
    """10 frames: 4 uniform static, 3 checkerboards (1- and 2-pixel), black, white and grey."""
    rng = np.random.default_rng(seed)
    board = (np.indices((32, 32)).sum(0) % 2 * 255).astype(np.uint8)
    frames = [rng.integers(0, 256, (32, 32), dtype=np.uint8) for _ in range(4)]
    frames += [board, 255 - board, np.kron(board[:16, :16], np.ones((2, 2), np.uint8))]
    frames += [np.full((32, 32), v, np.uint8) for v in (0, 255, 128)]
    return np.stack(frames)


def _folder(path, by_condition):
    images = np.concatenate(list(by_condition.values()))
    labels = np.repeat(np.arange(len(by_condition)), [len(v) for v in by_condition.values()])
    write_image_folder(path, images, labels, list(by_condition))
    return path


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    root = tmp_path_factory.mktemp("verdict")
    one = _items(1, 0)
    arrays = {"collapsed": {c: np.repeat(v, 10, axis=0) for c, v in one.items()},
              "distinct": _items(10, 1),
              "degenerate": {c: _degenerate_frames(i) for i, c in enumerate(one)},
              "ref": _items(50, 11)}
    return {name: _folder(root / name, a) for name, a in arrays.items()}


@pytest.fixture
def shared_cache(lpips_archive, monkeypatch, tmp_path_factory):
    """One cache folder for the module (the real LPIPS trunks linked in by ``lpips_archive``), so
    the reference's FID statistics are computed once, as a second compare on one reference does."""
    import os
    import shutil

    from msgan_eval.paths import cache_dir

    shared = tmp_path_factory.getbasetemp() / "verdict-cache"
    if not shared.exists():
        shutil.copytree(cache_dir(), shared, copy_function=os.link)
    monkeypatch.setenv("MSGAN_EVAL_CACHE", str(shared))


def _compare_cli(sets, candidate, out, converted, *extra):
    return CliRunner().invoke(main, [str(a) for a in (
        "compare", "--baseline", sets["collapsed"], "--candidate", sets[candidate], "--ref", sets["ref"],
        "--inception-weights", converted, "--ndb-bins", 5, "--lpips-pairs", "all", "--bootstrap", 100,
        "--out", out, "--quiet", *extra)])


def _check(report_dir, tmp_path, rules):
    expect = tmp_path / "expect.toml"
    expect.write_text(rules)
    return CliRunner().invoke(main, ["check", str(report_dir), "--expect", str(expect)])


def test_noise_is_never_a_diversity_win(sets, converted, shared_cache, tmp_path):
    result = _compare_cli(sets, "degenerate", tmp_path / "out", converted, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["skipped"] == {}
    runs, overall = report["runs"], report["overall"]
    assert report["verdicts"]["lpips"] == "candidate-better"            # static is "diverse"
    assert overall["verdict"] in ("trade-off", "baseline-better"), overall
    assert runs["candidate"]["degenerate"]["value"] >= 0.9
    assert runs["baseline"]["degenerate"]["value"] <= 0.05
    assert "degenerate" in overall["worse"] and "fid" in overall["worse"]
    assert "of the candidate's samples flagged: noise" in overall["reasons"][0]
    # the same numbers as inspect on the same images and reference
    for run, folder in (("baseline", "collapsed"), ("candidate", "degenerate")):
        inspected = msgan_eval.inspect(sets[folder], ref=sets["ref"], inception_weights=converted)
        assert runs[run]["degenerate"]["value"] == pytest.approx(inspected.degenerate.mean())
    # the HTML shows the picture and the flagged frames; check gates on both new rules
    html = (tmp_path / "out" / "report.html").read_text()
    assert "Quality and diversity" in html and "Flagged samples" in html
    assert _check(tmp_path / "out", tmp_path, '[overall]\nverdict = "candidate-better"\n').exit_code == 1
    assert _check(tmp_path / "out", tmp_path, "[candidate.degenerate]\nmax = 0.02\n").exit_code == 1
    assert _check(tmp_path / "out", tmp_path, "[baseline.degenerate]\nmax = 0.05\n"
                                              '[overall]\nverdict = ["trade-off", "baseline-better"]\n'
                  ).exit_code == 0


def test_distinct_real_items_beat_collapsed_ones(sets, converted, shared_cache, tmp_path):
    args = dict(ndb_bins=5, lpips_pairs="all", bootstrap=100, inception_weights=str(converted))
    api = msgan_eval.compare(sets["collapsed"], sets["distinct"], sets["ref"], **args)
    assert api.overall["verdict"] == "candidate-better", api.overall
    assert api.overall["worse"] == [] and "lpips" in api.overall["better"]
    for run in ("baseline", "candidate"):
        assert api.runs[run]["degenerate"]["value"] <= 0.05
    # gated LPIPS is what `msgan-eval lpips --real` reports for the candidate
    gated = msgan_eval.lpips_diversity(sets["distinct"], real=sets["ref"], pairs="all",
                                       inception_weights=str(converted))
    assert api.runs["candidate"]["lpips_gated"]["value"] == pytest.approx(gated.lpips_gated, rel=1e-6)
    kept = api.report["details"]["lpips_gated"]["candidate"]["kept_per_condition"]
    assert kept == pytest.approx(gated.gated["kept_fraction_per_group"])
    # the command gives the same report (the Python API and the CLI share the evaluation layer),
    # and prints the overall verdict and its reasons under the metrics
    result = _compare_cli(sets, "distinct", tmp_path / "out", converted)
    assert result.exit_code == 0, result.output
    cli = json.loads((tmp_path / "out" / "report.json").read_text())
    for key in ("runs", "deltas", "verdicts", "overall"):
        assert cli[key] == json.loads(json.dumps(api.report[key])), key
    lines = result.stdout.splitlines()
    at = lines.index("overall: candidate-better")
    assert lines[at + 1] == f"  - {api.overall['reasons'][0]}"
    assert at > max(i for i, line in enumerate(lines) if line.startswith(("FID", "Gated LPIPS")))
