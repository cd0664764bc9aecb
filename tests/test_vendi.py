"""Vendi score and duplicates: parity with the ``vendi-score`` package on the same kernel matrix,
the command's JSON, the API, and a set of three images repeated flagged as duplicates."""
import json

import numpy as np
import pytest
from click.testing import CliRunner

from msgan_eval.cli import main
from msgan_eval.metrics.duplicates import exact_duplicate_fraction, near_duplicate_fraction, pixel_hash
from msgan_eval.metrics.vendi import (
    cosine_similarity_matrix,
    vendi_from_kernel,
    vendi_score,
    weighted_vendi,
)

from conftest import write_random_pngs

vendi_ref = pytest.importorskip("vendi_score.vendi")

DIMS = "64"


@pytest.mark.parametrize("n, d, seed", [(5, 16, 0), (40, 8, 1), (64, 64, 2), (200, 32, 3)])
def test_vendi_equals_the_vendi_score_package(n, d, seed):
    rng = np.random.default_rng(seed)
    x = np.abs(rng.normal(size=(n, d)))          # non-negative, as Inception pool features are
    k = cosine_similarity_matrix(x)
    assert vendi_from_kernel(k) == pytest.approx(vendi_ref.score_K(k), rel=1e-9)
    assert vendi_score(x) == pytest.approx(vendi_ref.score_K(k), rel=1e-9)   # n > d path too
    # the package's own cosine road (score_dual normalises rows the same way)
    assert vendi_score(x) == pytest.approx(vendi_ref.score_dual(x, normalize=True), rel=1e-6)


def test_vendi_limits_and_weighted_resample():
    x = np.eye(6)
    assert vendi_score(x) == pytest.approx(6.0)                 # orthogonal: n distinct
    assert vendi_score(np.ones((6, 3))) == pytest.approx(1.0)   # identical: one
    rng = np.random.default_rng(4)
    rows = np.abs(rng.normal(size=(10, 5)))
    counts = rng.integers(1, 4, size=10)
    expanded = np.repeat(rows, counts, axis=0)
    assert weighted_vendi(rows, counts) == pytest.approx(
        vendi_ref.score_K(cosine_similarity_matrix(expanded)), rel=1e-9)


def test_duplicate_fractions():
    imgs = [np.full((4, 4, 3), i, np.uint8) for i in range(3)] * 10
    assert exact_duplicate_fraction([pixel_hash(a) for a in imgs]) == pytest.approx(27 / 30)
    feats = np.abs(np.random.default_rng(0).normal(size=(3, 32)))
    assert near_duplicate_fraction(np.tile(feats, (10, 1))) == pytest.approx(27 / 30)
    assert near_duplicate_fraction(np.eye(5), threshold=0.5) == 0.0


@pytest.fixture(scope="module")
def repeated(tmp_path_factory):
    """Three images repeated ten times in class a; ten distinct images in class b."""
    import shutil

    root = tmp_path_factory.mktemp("vendi")
    src = write_random_pngs(root / "src", 3, seed=5)
    (root / "set" / "a").mkdir(parents=True)
    for i in range(30):
        shutil.copyfile(src / f"{i % 3:04d}.png", root / "set" / "a" / f"{i:04d}.png")
    write_random_pngs(root / "set" / "b", 10, seed=6)
    return root / "set"


def run_json(*args):
    result = CliRunner().invoke(main, [str(a) for a in args] + ["--json", "--quiet"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_vendi_command_flags_repeated_images(repeated, random_weights, one_torch_thread):
    import msgan_eval
    from msgan_eval.evaluate.features import inception_features
    from msgan_eval.images import scan_images

    from _fid_fixtures import resolved

    out = run_json("vendi", repeated, "--dims", DIMS, "--inception-weights", random_weights)
    assert {"vendi", "per_condition", "kernel", "features", "n"} <= set(out)
    assert out["kernel"] == "cosine" and out["features"] == "inception-pool3" and out["n"] == 40
    assert out["preset"] == "pytorch-fid"
    dup = out["duplicates"]["per_condition"]
    assert dup["a"]["exact"] == pytest.approx(27 / 30) and dup["a"]["near"] >= 27 / 30
    assert dup["b"]["exact"] == 0.0
    # parity on the same features: the package on each condition's cosine kernel
    images = scan_images(repeated)
    feats = inception_features(images, weights=resolved(random_weights), dims=64)
    for cond, idx in images.groups().items():
        expected = vendi_ref.score_K(cosine_similarity_matrix(feats[idx]))
        assert out["per_condition"][cond] == pytest.approx(expected, rel=1e-6)
    assert out["per_condition"]["a"] < 3.0 + 1e-6            # at most three distinct images
    assert out["vendi"] == pytest.approx(np.mean(list(out["per_condition"].values())))
    api = msgan_eval.vendi(str(repeated), dims=64, inception_weights=random_weights).to_dict()
    assert api == {k: v for k, v in out.items() if k != "threads"}   # the CLI adds its threads


def test_vendi_preset_reaches_the_features_and_the_json(tmp_path, random_weights, one_torch_thread):
    """``--preset torch-fidelity``: the Vendi score of the features that preset extracts, with the
    preset in the JSON; an unknown preset is one line, exit 2."""
    import msgan_eval
    from msgan_eval.errors import ParameterError
    from msgan_eval.evaluate.features import inception_features
    from msgan_eval.images import scan_images

    from _fid_fixtures import resolved

    write_random_pngs(tmp_path / "set" / "a", 4, seed=7)
    write_random_pngs(tmp_path / "set" / "b", 3, seed=8)
    root = tmp_path / "set"
    out = run_json("vendi", root, "--dims", DIMS, "--preset", "torch-fidelity", "--inception-weights",
                   random_weights)
    assert out["preset"] == "torch-fidelity"
    images = scan_images(root)
    feats = inception_features(images, weights=resolved(random_weights), dims=64,
                               preset="torch-fidelity")
    assert not np.allclose(feats, inception_features(images, weights=resolved(random_weights), dims=64))
    for cond, idx in images.groups().items():
        expected = vendi_ref.score_K(cosine_similarity_matrix(feats[idx]))
        assert out["per_condition"][cond] == pytest.approx(expected, rel=1e-6)
    bad = CliRunner().invoke(main, ["vendi", str(root), "--preset", "nope", "--quiet"])
    assert bad.exit_code == 2 and "--preset" in bad.output and "Traceback" not in bad.output
    with pytest.raises(ParameterError, match="not a FID preset"):
        msgan_eval.vendi(str(root), preset="nope")
