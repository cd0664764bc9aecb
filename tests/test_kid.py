"""KID: the maths against torch-fidelity's own functions on the same feature arrays, by both ways of
computing the subsets' kernel sums (each subset's kernels; the whole kernel matrices once), the
bootstrap replicate against a written-out computation, and ``msgan-eval kid`` / ``msgan_eval.kid`` end to end
on a seeded random FID Inception (no real weights needed)."""
import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from torch_fidelity.metric_kid import kernel_mmd, kernel_poly, kid_features_to_metric, mmd2

import msgan_eval
from msgan_eval.cli import main
from msgan_eval.metrics.bootstrap import resample_indices
from msgan_eval.metrics.kid import (
    bootstrap_kid,
    kid,
    kid_and_bootstrap,
    kid_method,
    mmd2_unbiased,
    polynomial_kernel,
)

from _fid_fixtures import random_weights_once

TF_KERNEL = dict(kid_kernel="poly", kid_kernel_poly_degree=3, kid_kernel_poly_gamma=None,
                 kid_kernel_poly_coef0=1)


def _features(n, d, seed, shift=0.0):
    rng = np.random.default_rng(seed)
    return np.abs(rng.standard_normal((n, d))) + shift       # non-negative, like pool3


def _torch_fidelity_kid(a, b, subsets, subset_size, seed):
    out = kid_features_to_metric(torch.from_numpy(a), torch.from_numpy(b), kid_subsets=subsets,
                                 kid_subset_size=subset_size, rng_seed=seed, verbose=False,
                                 **TF_KERNEL)
    return out["kernel_inception_distance_mean"], out["kernel_inception_distance_std"]


METHODS = ("subsets", "kernel-rows")


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("n1,n2,d,subsets,size,seed,shift,block_entries", [
    (300, 250, 64, 20, 100, 0, 0.05, 1 << 22),
    (500, 500, 2048, 5, 200, 7, 0.0, 1 << 22),
    (120, 400, 16, 50, 120, 3, 0.3, 1 << 22),
    (300, 250, 64, 20, 100, 1, 0.05, 5000),              # kernel rows in blocks of 16-20 rows
])
def test_kid_equals_torch_fidelity_on_the_same_features(n1, n2, d, subsets, size, seed, shift,
                                                        block_entries, method):
    a, b = _features(n1, d, seed), _features(n2, d, seed + 100, shift)
    ours = kid(a, b, subsets=subsets, subset_size=size, seed=seed, method=method,
               block_entries=block_entries)
    mean, std = _torch_fidelity_kid(a, b, subsets, size, seed)
    assert ours.method == method
    assert ours.kid == pytest.approx(mean, rel=1e-6, abs=1e-12)
    assert ours.kid_std == pytest.approx(std, rel=1e-6, abs=1e-12)
    assert ours.subset_size == size and not ours.reduced


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("block_entries", [3000, 1 << 22])   # subsets: torch blocks / numpy SYRK
def test_each_subset_is_torch_fidelitys_subset(method, block_entries):
    """The same seed gives the same subsets: each subset's MMD^2 equals torch-fidelity's
    ``kernel_mmd`` on the rows its own loop draws (RandomState, first set then second)."""
    a, b = _features(200, 32, 8), _features(150, 32, 9, 0.1)
    ours = kid(a, b, subsets=12, subset_size=60, seed=11, method=method,
               block_entries=block_entries)
    rng = np.random.RandomState(11)
    for i in range(12):
        f1, f2 = a[rng.choice(200, 60, replace=False)], b[rng.choice(150, 60, replace=False)]
        assert ours.mmds[i] == pytest.approx(float(kernel_mmd(f1, f2, **TF_KERNEL)), rel=1e-9,
                                             abs=1e-13)


def test_inception_like_features_keep_the_parity_where_kid_is_near_zero():
    """Two draws of one distribution (KID ~ 1e-4, the MMD a difference of kernel sums ~1e4 times
    larger): both ways still agree with torch-fidelity to 1e-6 relative (measured: ~1e-12)."""
    rng = np.random.default_rng(3)
    scale = rng.gamma(0.6, 0.5, 2048)                  # pool3-like: sparse, skewed, non-negative
    a, b = (rng.gamma(0.6, 1.0, (1200, 2048)) * scale for _ in range(2))
    mean, std = _torch_fidelity_kid(a, b, 10, 500, 0)
    for method in METHODS:
        ours = kid(a, b, subsets=10, subset_size=500, seed=0, method=method)
        assert ours.kid == pytest.approx(mean, rel=1e-6) and ours.kid_std == pytest.approx(std, rel=1e-6)


def test_auto_computes_the_kernel_matrices_once_where_that_is_cheaper():
    assert kid_method(2000, 2000, 2048, 100, 1000) == "kernel-rows"
    assert kid_method(10000, 10000, 2048, 100, 1000) == "kernel-rows"
    assert kid_method(50000, 50000, 2048, 100, 1000) == "subsets"
    assert kid_method(2000, 2000, 2048, 2, 1000) == "subsets"         # few subsets: theirs is cheaper
    assert kid(_features(300, 64, 0), _features(300, 64, 1), subsets=20, subset_size=100).method \
        == "kernel-rows"


def test_one_subset_mmd_equals_torch_fidelity_mmd2():
    a, b = _features(60, 32, 1), _features(60, 32, 2, 0.1)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    theirs = mmd2(kernel_poly(a, a, **TF_KERNEL), kernel_poly(a, b, **TF_KERNEL),
                  kernel_poly(b, b, **TF_KERNEL))
    ours = mmd2_unbiased(polynomial_kernel(ta, ta), polynomial_kernel(ta, tb),
                         polynomial_kernel(tb, tb))
    assert ours == pytest.approx(float(theirs), rel=1e-9)


@pytest.mark.parametrize("method", METHODS)
def test_a_set_smaller_than_the_subset_size_uses_the_largest_that_fits(method):
    a, b = _features(80, 16, 0), _features(150, 16, 1, 0.2)
    with pytest.raises(Exception):                       # torch-fidelity refuses (its issue #45)
        _torch_fidelity_kid(a, b, 10, 100, 0)
    ours = kid(a, b, subsets=10, subset_size=100, seed=0, method=method, block_entries=2000)
    assert ours.subset_size == 80 and ours.requested_subset_size == 100 and ours.reduced
    assert ours.kid == pytest.approx(_torch_fidelity_kid(a, b, 10, 80, 0)[0], rel=1e-6)


def test_sets_no_larger_than_the_subset_size_give_torch_fidelity_number_at_once():
    a, b = _features(90, 16, 4), _features(90, 16, 5, 0.1)
    ours = kid(a, b, subsets=30, subset_size=90, seed=2)
    mean, std = _torch_fidelity_kid(a, b, 30, 90, 2)
    assert ours.kid == pytest.approx(mean, rel=1e-9) and ours.kid_std == 0.0 and std < 1e-12


def test_kid_refuses_sets_of_one_and_mismatched_widths():
    with pytest.raises(ValueError, match="at least 2"):
        kid(_features(1, 8, 0), _features(10, 8, 1))
    with pytest.raises(ValueError, match="one width"):
        kid(_features(10, 8, 0), _features(10, 9, 1))


def test_bootstrap_replicate_is_the_written_out_unbiased_mmd_of_the_resample():
    g, r = _features(40, 12, 0, 0.1), _features(30, 12, 1)
    est = bootstrap_kid(g, r, 0.0, rng=np.random.default_rng(5), n_boot=3, block_entries=100)
    k = lambda x, y: (x @ y.T / x.shape[1] + 1) ** 3                        # noqa: E731
    for b, idx in enumerate(resample_indices(len(g), 3, np.random.default_rng(5))):
        gs = g[idx]
        distinct = idx[:, None] != idx[None, :]          # pairs of two different source rows
        within = k(gs, gs)[distinct].mean()
        ref = k(r, r)[~np.eye(len(r), dtype=bool)].mean()
        expected = within + ref - 2 * k(gs, r).mean()
        assert est.replicates[b] == pytest.approx(expected, rel=1e-10)


def test_bootstrap_interval_holds_the_value_and_separates_different_sets():
    r = _features(200, 16, 0)
    same, shifted = _features(200, 16, 1), _features(200, 16, 2, 0.4)
    for g in (same, shifted):
        value = kid(g, r, subsets=20, subset_size=100).kid
        est = bootstrap_kid(g, r, value, rng=np.random.default_rng(0), n_boot=100)
        assert est.low <= value <= est.high
    assert bootstrap_kid(shifted, r, kid(shifted, r, subsets=20, subset_size=100).kid,
                         rng=np.random.default_rng(0), n_boot=100).low > \
        bootstrap_kid(same, r, kid(same, r, subsets=20, subset_size=100).kid,
                      rng=np.random.default_rng(0), n_boot=100).high


@pytest.mark.parametrize("n,n_r,d,subsets,method", [
    (300, 260, 64, 20, "kernel-rows"),                  # one pass serves both
    (300, 260, 512, 2, "subsets"),                      # the two calls
    (150, 150, 16, 5, "whole-sets"),
])
def test_kid_and_bootstrap_equal_the_two_calls(n, n_r, d, subsets, method):
    g, r = _features(n, d, 0, 0.05), _features(n_r, d, 1)
    size = min(n, n_r, 150)
    est, boot = kid_and_bootstrap(g, r, subsets=subsets, subset_size=size, seed=4,
                                  rng=np.random.default_rng(9), n_boot=30, block_entries=4000)
    alone = kid(g, r, subsets=subsets, subset_size=size, seed=4)
    assert est.method == method == alone.method and est.subset_size == alone.subset_size
    assert est.kid == pytest.approx(alone.kid, rel=1e-9) and est.kid_std == pytest.approx(alone.kid_std, rel=1e-9, abs=1e-15)
    assert est.kid == pytest.approx(_torch_fidelity_kid(g, r, subsets, size, 4)[0], rel=1e-6)
    ref = bootstrap_kid(g, r, alone.kid, rng=np.random.default_rng(9), n_boot=30)
    np.testing.assert_allclose(boot.replicates, ref.replicates, rtol=1e-9)
    assert (boot.low, boot.high) == pytest.approx((ref.low, ref.high), rel=1e-9)


def _images(n, seed, bright=0):
    rng = np.random.default_rng(seed)
    return np.clip(rng.integers(0, 200, (n, 32, 32, 3)) + bright, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    root = tmp_path_factory.mktemp("kid")
    np.save(root / "a.npy", _images(12, 0))
    np.save(root / "b.npy", _images(9, 1, 40))
    return {"a": root / "a.npy", "b": root / "b.npy",
            "weights": random_weights_once(tmp_path_factory)}


def _run(*args):
    return CliRunner().invoke(main, [str(x) for x in args])


def test_cli_json_has_the_interface_keys_and_equals_the_api_and_the_features(sets):
    from msgan_eval.evaluate.features import inception_features
    from msgan_eval.evaluate.inputs import as_image_set
    from msgan_eval.features.inception import resolve_inception_weights

    result = _run("kid", sets["a"], sets["b"], "--subsets", 7, "--seed", 3, "--inception-weights",
                  sets["weights"], "--json", "--quiet")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    for key in ("kid", "kid_std", "subsets", "subset_size", "n", "features", "seed", "version"):
        assert key in out
    assert (out["subsets"], out["subset_size"], out["n"], out["features"], out["seed"]) == \
        (7, 9, [12, 9], "inception-pool3", 3)
    assert out["requested_subset_size"] == 1000 and "used 9" in out["warnings"][0]
    assert out["preset"] == "pytorch-fid"
    api = msgan_eval.kid(str(sets["a"]), str(sets["b"]), subsets=7, seed=3,
                         inception_weights=sets["weights"])
    assert api.to_dict() == {k: v for k, v in out.items() if k != "threads"}
    w = resolve_inception_weights(sets["weights"])
    fa, fb = (inception_features(as_image_set(sets[p], param=p), weights=w) for p in "ab")
    mean, std = _torch_fidelity_kid(fa, fb, 7, 9, 3)
    assert out["kid"] == pytest.approx(mean, rel=1e-6) and out["kid_std"] == pytest.approx(std, rel=1e-6)


def test_cli_refuses_a_statistics_file_in_one_line(sets, tmp_path):
    stats = tmp_path / "s.npz"
    np.savez(stats, mu=np.zeros(4), sigma=np.eye(4))
    result = _run("kid", sets["a"], stats, "--inception-weights", sets["weights"], "--quiet")
    assert result.exit_code == 2, result.output
    assert "statistics file" in result.output and "Traceback" not in result.output
    result = _run("kid", sets["a"], sets["b"], "--seed", -1, "--inception-weights", sets["weights"])
    assert result.exit_code == 2 and "--seed -1" in result.output


def test_preset_reaches_the_features_and_the_json(sets):
    """``--preset torch-fidelity``: KID on the features that preset extracts (torch-fidelity's
    own preprocessing), recorded in the JSON; the default preset's features differ, so a preset
    that never reached the extractor would fail here."""
    from msgan_eval.errors import ParameterError
    from msgan_eval.evaluate.features import inception_features
    from msgan_eval.evaluate.inputs import as_image_set
    from msgan_eval.features.inception import resolve_inception_weights

    result = _run("kid", sets["a"], sets["b"], "--subsets", 7, "--seed", 3, "--preset",
                  "torch-fidelity", "--inception-weights", sets["weights"], "--json", "--quiet")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["preset"] == "torch-fidelity"
    w = resolve_inception_weights(sets["weights"])
    fa, fb = (inception_features(as_image_set(sets[p], param=p), weights=w, preset="torch-fidelity")
              for p in "ab")
    assert not np.allclose(fa, inception_features(as_image_set(sets["a"], param="a"), weights=w))
    mean, std = _torch_fidelity_kid(fa, fb, 7, 9, 3)
    assert out["kid"] == pytest.approx(mean, rel=1e-6) and out["kid_std"] == pytest.approx(std, rel=1e-6)
    api = msgan_eval.kid(str(sets["a"]), str(sets["b"]), subsets=7, seed=3, preset="torch-fidelity",
                         inception_weights=sets["weights"])
    assert api.to_dict() == {k: v for k, v in out.items() if k != "threads"}

    bad = _run("kid", sets["a"], sets["b"], "--preset", "tensorflow", "--inception-weights",
               sets["weights"], "--quiet")
    assert bad.exit_code == 2 and "--preset" in bad.output and "Traceback" not in bad.output
    with pytest.raises(ParameterError, match="preset 'tensorflow' is not a FID preset"):
        msgan_eval.kid(str(sets["a"]), str(sets["b"]), preset="tensorflow")
