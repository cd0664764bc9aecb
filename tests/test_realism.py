"""The realism score against its two public implementations (tests/reference_realism.py:
the official kynkaat code and dgm-eval's), and nearest-neighbour distances against scipy."""
import numpy as np
import pytest
import scipy.spatial.distance
from reference_realism import dgm_eval_realism, official_realism

from msgan_eval.metrics.realism import kept_balls, nearest_distances, realism_scores


def _features(n, d=32, seed=0, shift=0.0):
    rng = np.random.default_rng(seed)
    # non-negative, pool3-like, with a common offset that the float32 screen must survive
    return np.abs(rng.normal(size=(n, d))) + shift + rng.normal(size=(n, 1)) * 0.3


@pytest.mark.parametrize("k", [3, 5])
@pytest.mark.parametrize("block_entries", [4000, 1 << 22])
def test_matches_dgm_eval_on_even_reference(k, block_entries):
    # even n without ties: dgm-eval's `r < median` and the official `r <= percentile 50` agree
    ref, gen = _features(400, seed=1), _features(250, seed=2) * 1.05
    ours = realism_scores(ref, gen, k=k, prune_percentile=50, block_entries=block_entries)
    np.testing.assert_allclose(ours, dgm_eval_realism(ref, gen, k), rtol=1e-12)
    assert 0 < (ours >= 1).mean() < 1          # both sides of the gate are exercised


@pytest.mark.parametrize("n_ref", [301, 400])
def test_square_matches_official_code(n_ref):
    # the official code divides squared distances (float32, eps 1e-5 in the denominator) and keeps
    # the balls <= the 50th percentile: odd n keeps the median ball, as ours does
    ref, gen = _features(n_ref, seed=3, shift=5.0), _features(200, seed=4, shift=5.0)
    ours = realism_scores(ref, gen, k=3, prune_percentile=50)
    np.testing.assert_allclose(ours ** 2, official_realism(ref, gen, 3), rtol=2e-4)
    np.testing.assert_array_equal(ours >= 1, official_realism(ref, gen, 3) >= 1)


def test_official_code_without_pruning():
    ref, gen = _features(150, seed=13), _features(90, seed=14)
    ours = realism_scores(ref, gen, k=3)                  # msgan-eval's default: every ball
    np.testing.assert_allclose(ours ** 2, official_realism(ref, gen, 3, clamp_to_percentile=None),
                               rtol=2e-4)


@pytest.mark.parametrize("k", [3, 5])
def test_default_gate_is_prdc_precision(k):
    # every ball kept: realism >= 1 exactly where prdc's compute_prdc counts a fake in precision
    from prdc import compute_prdc

    ref, gen = _features(300, seed=15), _features(200, seed=16) * 1.03
    ours = (realism_scores(ref, gen, k=k) >= 1).mean()
    assert ours == compute_prdc(ref, gen, nearest_k=k)["precision"]
    assert 0.05 < ours < 0.95


def test_without_pruning_is_the_max_over_every_ball():
    ref, gen = _features(120, seed=5), _features(40, seed=6)
    d = scipy.spatial.distance.cdist(ref, ref)
    radii = np.sort(d, axis=1)[:, 3]
    expected = (radii[:, None] / scipy.spatial.distance.cdist(ref, gen)).max(axis=0)
    np.testing.assert_allclose(realism_scores(ref, gen, k=3, prune_percentile=None), expected,
                               rtol=1e-12)
    np.testing.assert_allclose(realism_scores(ref, gen, k=3, prune_percentile=100), expected,
                               rtol=1e-12)


def test_gate_is_membership_of_a_kept_ball():
    ref, gen = _features(200, seed=7), _features(300, seed=8)
    d = scipy.spatial.distance.cdist(ref, ref)
    radii = np.sort(d, axis=1)[:, 3]
    keep = kept_balls(radii, 50.0)
    assert keep.sum() == 100
    inside = (scipy.spatial.distance.cdist(gen, ref[keep]) <= radii[keep]).any(axis=1)
    np.testing.assert_array_equal(realism_scores(ref, gen, k=3, prune_percentile=50) >= 1, inside)


def test_copy_of_a_reference_sample_is_infinitely_realistic():
    ref = _features(100, seed=9)
    radii = np.sort(scipy.spatial.distance.cdist(ref, ref), axis=1)[:, 3]
    small, large = int(np.argmin(radii)), int(np.argmax(radii))
    s = realism_scores(ref, ref[[small, large]], k=3, prune_percentile=50)
    assert s[0] == np.inf                        # its own (kept) ball, distance 0
    assert np.isfinite(s[1])                     # its own ball was pruned
    assert s[1] == pytest.approx(dgm_eval_realism(ref, ref[[large]], 3)[0], rel=1e-12)


def test_far_away_samples_score_low():
    ref = _features(100, seed=10)
    s = realism_scores(ref, ref[:5] + 100.0, k=3)
    assert (s < 0.1).all()


def test_errors():
    with pytest.raises(ValueError, match="width"):
        realism_scores(np.zeros((10, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="at least 4 samples"):
        realism_scores(np.random.rand(3, 2), np.zeros((2, 2)), k=3)
    with pytest.raises(ValueError, match="prune_percentile"):
        kept_balls(np.ones(5), 0)


@pytest.mark.parametrize("block_entries", [500, 1 << 22])
def test_nearest_distances_match_scipy(block_entries):
    a, b = _features(150, seed=11, shift=3.0), _features(220, seed=12, shift=3.0)
    b[7] = a[3]                                   # an exact copy: distance 0
    ours = nearest_distances(a, b, block_entries=block_entries)
    expected = scipy.spatial.distance.cdist(a, b).min(axis=1)
    np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=1e-12)
    assert ours[3] == 0.0
