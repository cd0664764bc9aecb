"""frechet_distance and the statistics against written-out references (scipy sqrtm, np.cov)."""
import warnings

import numpy as np
import pytest
from scipy import linalg

import msgan_eval
from msgan_eval.metrics.fid import (
    FidRoundingWarning,
    RankDeficientCovarianceWarning,
    RunningStats,
    feature_statistics,
    frechet_distance,
)


def reference_frechet_distance(mu1, sigma1, mu2, sigma2, eps=1e-6):
    """pytorch-fid's calculate_frechet_distance, written out (scipy.linalg.sqrtm route)."""
    diff = mu1 - mu2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # scipy >= 1.16 deprecates disp=
        covmean, _ = linalg.sqrtm(sigma1.dot(sigma2), disp=False)
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        assert np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3)
        covmean = covmean.real
    return diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean)


def _features(n, d, seed, shift=0.0, scale=1.0):
    """Correlated, non-negative-ish features like pooled ReLU activations."""
    rng = np.random.default_rng(seed)
    mixing = rng.standard_normal((d, d)) / np.sqrt(d)
    return np.abs(rng.standard_normal((n, d)) @ mixing * scale + shift)


# n > d, n < d (both covariances singular, of equal or different ranks), and one singular beside
# one full-rank, both ways.
@pytest.mark.parametrize("n1,n2,d", [(400, 400, 64), (3000, 3000, 256), (40, 40, 64),
                                     (100, 100, 256), (30, 50, 64), (40, 400, 64), (400, 40, 64)])
def test_frechet_distance_matches_sqrtm_reference(n1, n2, d):
    a, b = _features(n1, d, 1), _features(n2, d, 2, shift=0.1, scale=1.2)
    mu1, s1 = np.mean(a, axis=0), np.cov(a, rowvar=False)
    mu2, s2 = np.mean(b, axis=0), np.cov(b, rowvar=False)
    expected = reference_frechet_distance(mu1, s1, mu2, s2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = frechet_distance(mu1, s1, mu2, s2)
    assert got == pytest.approx(expected, rel=1e-6)
    rank_warned = any(issubclass(w.category, RankDeficientCovarianceWarning) for w in caught)
    assert rank_warned == (min(n1, n2) <= d), "warns exactly when a covariance is rank-deficient"
    # Symmetric in its two arguments, like the distance it is.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert frechet_distance(mu2, s2, mu1, s1) == pytest.approx(expected, rel=1e-6)


def test_frechet_distance_of_random_spd_matrices():
    rng = np.random.default_rng(5)
    d = 50
    a, b = rng.standard_normal((d, d)), rng.standard_normal((d, d))
    s1, s2 = a @ a.T + 0.1 * np.eye(d), b @ b.T + 0.5 * np.eye(d)
    mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(
        reference_frechet_distance(mu1, s1, mu2, s2), rel=1e-6)


def test_identical_statistics_give_zero_and_clamp_rounding():
    a = _features(500, 32, 3)
    mu, sigma = feature_statistics(a)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = frechet_distance(mu, sigma, mu, sigma)
    assert value >= 0.0
    assert value == pytest.approx(0.0, abs=1e-9)
    if any(issubclass(w.category, FidRoundingWarning) for w in caught):
        assert value == 0.0


def test_frechet_distance_is_exported_at_top_level():
    assert msgan_eval.frechet_distance is frechet_distance


@pytest.mark.parametrize("bad", ["mu", "sigma", "nan"])
def test_frechet_distance_rejects_mismatched_or_nan(bad):
    mu, sigma = np.zeros(4), np.eye(4)
    if bad == "mu":
        args = (mu, sigma, np.zeros(3), sigma)
    elif bad == "sigma":
        args = (mu, sigma, mu, np.eye(3))
    else:
        args = (mu, sigma * np.nan, mu, sigma)
    with pytest.raises(ValueError):
        frechet_distance(*args)


def test_feature_statistics_match_pytorch_fid_formula():
    a = _features(37, 16, 7).astype(np.float32)
    mu, sigma = feature_statistics(a)
    # pytorch-fid: act is float64 (np.empty default), then np.mean / np.cov(rowvar=False).
    act = a.astype(np.float64)
    np.testing.assert_array_equal(mu, np.mean(act, axis=0))
    np.testing.assert_array_equal(sigma, np.cov(act, rowvar=False))


def test_running_stats_stream_and_merge_equal_np_cov():
    a = _features(1003, 48, 8).astype(np.float32)
    whole = RunningStats(48)
    for start in range(0, len(a), 50):
        whole.update(a[start:start + 50])
    left, right = RunningStats(48), RunningStats(48)
    left.update(a[:300])
    right.update(a[300:])
    merged = left.merge(right)
    act = a.astype(np.float64)
    for stats in (whole, merged):
        assert stats.n == len(a)
        np.testing.assert_allclose(stats.mu, np.mean(act, axis=0), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(stats.sigma, np.cov(act, rowvar=False), rtol=1e-9, atol=1e-12)


def test_running_stats_rejects_wrong_width_and_too_few_samples():
    stats = RunningStats(8)
    with pytest.raises(ValueError):
        stats.update(np.zeros((3, 7)))
    stats.update(np.zeros((1, 8)))
    with pytest.raises(ValueError):
        stats.sigma
