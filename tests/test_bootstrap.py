"""Bootstrap intervals and verdicts (msgan_eval/metrics/bootstrap.py) on synthetic arrays.

Replicates are checked against the written-out computation on the resampled rows (pytorch-fid's
``calculate_frechet_distance`` of ``np.cov``, the per-condition mean of LPIPS distances,
``ndb_from_counts`` of the resampled assignments); intervals by their coverage of a known target
over many seeded trials; verdicts on clearly different and on identically distributed sets.
"""
import numpy as np
import pytest
from pytorch_fid.fid_score import calculate_frechet_distance

from msgan_eval.metrics import bootstrap as bs
from msgan_eval.metrics.ndb import assign_bins, fit_bins, ndb_from_counts

# pytorch-fid passes scipy's deprecated ``disp`` argument to sqrtm.
pytestmark = pytest.mark.filterwarnings("ignore:The `disp` argument:DeprecationWarning")


def _mixture(rng, n, d, classes, spread=6.0):
    """Samples of an isotropic Gaussian mixture with 10 fixed centres, drawn from ``classes``."""
    centres = np.random.default_rng(1234).normal(0, spread, size=(10, d))
    labels = rng.choice(np.asarray(classes), size=n)
    return centres[labels] + rng.normal(size=(n, d))


@pytest.mark.parametrize("n,d", [(60, 8), (30, 64)])   # d x d route, and Gram route (n <= d)
def test_fid_replicates_equal_pytorch_fid_on_the_resampled_rows(n, d):
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(4 * d, d))
    ref_mu, ref_sigma = ref.mean(0), np.cov(ref, rowvar=False)
    x = rng.normal(0.3, 1.4, size=(n, d))
    idx = bs.resample_indices(n, 5, np.random.default_rng(1))
    got = bs.fid_replicates(x, ref_mu, ref_sigma, idx)
    want = [calculate_frechet_distance(x[i].mean(0), np.cov(x[i], rowvar=False), ref_mu, ref_sigma)
            for i in idx]
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_bootstrap_fid_value_is_pytorch_fid_and_interval_brackets_it():
    rng = np.random.default_rng(2)
    ref = rng.normal(size=(400, 6))
    ref_mu, ref_sigma = ref.mean(0), np.cov(ref, rowvar=False)
    x = rng.normal(0.5, 1.2, size=(150, 6))
    est = bs.bootstrap_fid(x, ref_mu, ref_sigma, rng=np.random.default_rng(3), n_boot=100)
    want = calculate_frechet_distance(x.mean(0), np.cov(x, rowvar=False), ref_mu, ref_sigma)
    assert est.value == pytest.approx(want, rel=1e-9)
    assert est.low < est.value < est.high
    assert len(est.replicates) == 100


def test_recentred_interval_is_the_shifted_percentile_interval():
    reps = np.random.default_rng(4).gamma(2.0, 1.0, size=500) + 10.0
    est = bs.recentred_interval(3.0, reps, confidence=0.9)
    shift = np.median(reps) - 3.0
    assert est.bias == pytest.approx(shift)
    assert est.low == pytest.approx(np.percentile(reps, 5) - shift)
    assert est.high == pytest.approx(np.percentile(reps, 95) - shift)
    cut = bs.recentred_interval(0.1, reps, confidence=0.9, floor=0.0)
    assert cut.low == 0.0 and np.percentile(reps, 5) - (np.median(reps) - 0.1) < 0


def test_fid_interval_covers_the_expected_fid_about_95_percent_of_the_time():
    # Target: E[FID] of n samples from N(0.4, 1.3^2 I) against the fixed population statistics
    # of N(0, I), by Monte Carlo. A plain percentile interval misses it most of the time:
    # resampling with replacement inflates FID.
    d, n = 16, 80
    ref_mu, ref_sigma = np.zeros(d), np.eye(d)
    mc = np.random.default_rng(5)
    target = np.mean([calculate_frechet_distance(x.mean(0), np.cov(x, rowvar=False), ref_mu, ref_sigma)
                      for x in mc.normal(0.4, 1.3, size=(3000, n, d))])
    trials = np.random.default_rng(6)
    covered = plain = 0
    for _ in range(100):
        x = trials.normal(0.4, 1.3, size=(n, d))
        est = bs.bootstrap_fid(x, ref_mu, ref_sigma, rng=trials, n_boot=200)
        covered += est.low <= target <= est.high
        plain += np.percentile(est.replicates, 2.5) <= target <= np.percentile(est.replicates, 97.5)
    assert covered >= 88
    assert plain <= 70


def test_lpips_replicates_resample_pairs_within_conditions():
    rng = np.random.default_rng(7)
    dists = {"b": rng.uniform(0, 1, 30), "a": rng.uniform(0, 0.2, 10)}
    est = bs.bootstrap_lpips(dists, rng=np.random.default_rng(8), n_boot=50)
    assert est.value == pytest.approx((dists["a"].mean() + dists["b"].mean()) / 2)
    # Written out: conditions in sorted order, each resampled with its own indices.
    again = np.random.default_rng(8)
    ia = again.integers(0, 10, size=(50, 10))
    ib = again.integers(0, 30, size=(50, 30))
    want = (dists["a"][ia].mean(1) + dists["b"][ib].mean(1)) / 2
    np.testing.assert_allclose(est.replicates, want)


def test_lpips_interval_covers_the_true_score_about_95_percent_of_the_time():
    means = np.array([0.2, 0.3, 0.45, 0.5])
    truth = means.mean()
    rng = np.random.default_rng(9)
    covered = 0
    for _ in range(200):
        dists = {f"c{i}": rng.gamma(4.0, m / 4.0, size=50) for i, m in enumerate(means)}
        est = bs.bootstrap_lpips(dists, rng=rng, n_boot=200)
        covered += est.low <= truth <= est.high
    assert covered >= 176      # percentile intervals run a little short with 50 pairs


def test_flagged_fraction_resamples_within_conditions():
    from msgan_eval.metrics.bootstrap_classes import bootstrap_flagged_fraction

    flagged = np.array([1, 0, 0, 0, 1, 1, 0, 0, 0, 1], dtype=bool)
    groups = {"b": np.array([0, 2, 4, 6, 8, 9]), "a": np.array([1, 3, 5, 7])}
    est, per = bootstrap_flagged_fraction(flagged, groups, rng=np.random.default_rng(3), n_boot=40)
    assert est.value == 0.4 and per == {"a": 0.25, "b": 0.5}
    # Written out: conditions in sorted order, each resampled with its own indices, counted over all.
    again = np.random.default_rng(3)
    ia, ib = again.integers(0, 4, size=(40, 4)), again.integers(0, 6, size=(40, 6))
    want = (flagged[groups["a"]][ia].sum(1) + flagged[groups["b"]][ib].sum(1)) / 10
    np.testing.assert_allclose(est.replicates, want)
    none, _ = bootstrap_flagged_fraction(np.zeros(10, bool), groups, rng=np.random.default_rng(3))
    assert (none.value, none.low, none.high) == (0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="cover every sample"):
        bootstrap_flagged_fraction(flagged, {"a": groups["a"]}, rng=np.random.default_rng(3))


def test_flagged_fraction_interval_covers_the_true_share_about_95_percent_of_the_time():
    from msgan_eval.metrics.bootstrap_classes import bootstrap_flagged_fraction

    rng = np.random.default_rng(4)
    groups = {f"c{i}": np.arange(i * 50, (i + 1) * 50) for i in range(4)}
    covered = 0
    for _ in range(200):
        flagged = rng.uniform(size=200) < 0.2
        est, _ = bootstrap_flagged_fraction(flagged, groups, rng=rng, n_boot=200)
        covered += est.low <= 0.2 <= est.high
    assert covered >= 180


def test_ndb_replicates_are_ndb_from_counts_of_resampled_assignments():
    rng = np.random.default_rng(10)
    bins = fit_bins(rng.uniform(size=(300, 3)), k=8, seed=0)
    labels = assign_bins(bins, rng.uniform(size=(120, 3)))
    ndb, jsd = bs.bootstrap_ndb(bins, labels, rng=np.random.default_rng(11), n_boot=20)
    full = ndb_from_counts(bins, np.bincount(labels, minlength=8))
    assert (ndb.value, jsd.value) == (full.ndb, pytest.approx(full.jsd))
    idx = np.random.default_rng(11).integers(0, 120, size=(20, 120))
    want = [ndb_from_counts(bins, np.bincount(labels[i], minlength=8)) for i in idx]
    np.testing.assert_array_equal(ndb.replicates, [r.ndb for r in want])
    np.testing.assert_allclose(jsd.replicates, [r.jsd for r in want])
    assert ndb.low <= ndb.value <= ndb.high and jsd.low <= jsd.value <= jsd.high


def test_verdicts_on_a_three_class_subset_against_a_balanced_set():
    d = 6
    rng = np.random.default_rng(12)
    ref = _mixture(rng, 1000, d, range(10))
    ref_mu, ref_sigma = ref.mean(0), np.cov(ref, rowvar=False)
    collapsed, balanced = _mixture(rng, 300, d, [0, 1, 2]), _mixture(rng, 300, d, range(10))
    fid_c = bs.bootstrap_fid(collapsed, ref_mu, ref_sigma, rng=rng, n_boot=200)
    fid_b = bs.bootstrap_fid(balanced, ref_mu, ref_sigma, rng=rng, n_boot=200)
    v = bs.compare_estimates(fid_c, fid_b, higher_is_better=False)
    assert v.verdict == bs.CANDIDATE_BETTER and v.high < 0
    assert v.delta == pytest.approx(fid_b.value - fid_c.value)
    assert bs.compare_estimates(fid_b, fid_c, higher_is_better=False).verdict == bs.BASELINE_BETTER

    bins = fit_bins(ref, k=10, seed=0)
    ndb_c, jsd_c = bs.bootstrap_ndb(bins, assign_bins(bins, collapsed), rng=rng)
    ndb_b, jsd_b = bs.bootstrap_ndb(bins, assign_bins(bins, balanced), rng=rng)
    assert bs.compare_estimates(ndb_c, ndb_b, higher_is_better=False).verdict == bs.CANDIDATE_BETTER
    assert bs.compare_estimates(jsd_c, jsd_b, higher_is_better=False).verdict == bs.CANDIDATE_BETTER


def test_lpips_verdict_follows_higher_is_better():
    rng = np.random.default_rng(13)
    low = {c: rng.uniform(0.0, 0.2, 50) for c in "abc"}
    high = {c: rng.uniform(0.3, 0.6, 50) for c in "abc"}
    est_low = bs.bootstrap_lpips(low, rng=rng)
    est_high = bs.bootstrap_lpips(high, rng=rng)
    assert bs.compare_estimates(est_low, est_high, higher_is_better=True).verdict == bs.CANDIDATE_BETTER
    assert bs.compare_estimates(est_high, est_low, higher_is_better=True).verdict == bs.BASELINE_BETTER


def test_two_halves_of_one_distribution_are_rarely_called_different():
    d = 5
    rng = np.random.default_rng(14)
    ref = _mixture(rng, 800, d, range(10))
    ref_mu, ref_sigma = ref.mean(0), np.cov(ref, rowvar=False)
    significant = 0
    for _ in range(20):
        pool = _mixture(rng, 400, d, range(10))
        a = bs.bootstrap_fid(pool[:200], ref_mu, ref_sigma, rng=rng, n_boot=200)
        b = bs.bootstrap_fid(pool[200:], ref_mu, ref_sigma, rng=rng, n_boot=200)
        significant += bs.compare_estimates(a, b, higher_is_better=False).verdict != bs.NO_DIFFERENCE
    assert significant <= 3      # 95 % intervals: about 1 in 20 expected


def test_same_seed_same_interval_and_mismatched_replicates_refused():
    x = np.random.default_rng(15).normal(size=(40, 3))
    a = bs.bootstrap_fid(x, np.zeros(3), np.eye(3), rng=np.random.default_rng(0), n_boot=30)
    b = bs.bootstrap_fid(x, np.zeros(3), np.eye(3), rng=np.random.default_rng(0), n_boot=30)
    c = bs.bootstrap_fid(x, np.zeros(3), np.eye(3), rng=np.random.default_rng(1), n_boot=30)
    assert a.ci == b.ci and a.ci != c.ci
    short = bs.bootstrap_fid(x, np.zeros(3), np.eye(3), rng=np.random.default_rng(0), n_boot=10)
    with pytest.raises(ValueError, match="same number"):
        bs.compare_estimates(a, short, higher_is_better=False)
