"""NDB / JSD maths against hand-worked cases and the reference transcription (tests/reference_ndb.py)."""
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from msgan_eval.metrics import ndb

sys.path.insert(0, str(Path(__file__).parent))
from reference_ndb import ReferenceNDB  # noqa: E402


def _as_rgb_vectors(gray: np.ndarray, pad: int = 0) -> np.ndarray:
    """Grey uint8 (N, H, W) -> (N, H*W*3) in [0, 1], as the image road gives grey images."""
    if pad:
        gray = np.pad(gray, ((0, 0), (pad, pad), (pad, pad)))
    return np.repeat(gray[..., None], 3, axis=3).reshape(len(gray), -1) / 255.0


@pytest.fixture(scope="module")
def fashion():
    from msgan_eval.datasets import load_fashion_mnist

    try:
        train, train_labels = load_fashion_mnist("train")
        test, _ = load_fashion_mnist("test")
    except Exception as exc:  # the Debian package is an environment fact; say so if it is absent
        pytest.skip(f"Fashion-MNIST not available: {exc}")
    return train, train_labels, test


# --- the z-test and JSD, by hand ------------------------------------------------------------

def test_z_test_hand_worked():
    p1, p2 = np.array([0.5, 0.3, 0.2]), np.array([0.3, 0.3, 0.4])
    z, p = ndb.two_proportion_z_test(p1, 100, p2, 100)
    # bin 0: pooled 0.4, se = sqrt(0.4 * 0.6 * (1/100 + 1/100)); bin 2: pooled 0.3
    z0 = 0.2 / math.sqrt(0.4 * 0.6 * 0.02)
    z2 = -0.2 / math.sqrt(0.3 * 0.7 * 0.02)
    np.testing.assert_allclose(z, [z0, 0.0, z2], rtol=1e-12)
    np.testing.assert_allclose(p, [math.erfc(abs(z0) / math.sqrt(2)), 1.0,
                                   math.erfc(abs(z2) / math.sqrt(2))], rtol=1e-12)
    assert list(ndb.different_bins(z, p, alpha=0.05)) == [True, False, True]
    assert list(ndb.different_bins(z, p, alpha=0.001)) == [False, False, False]
    # |z| > threshold replaces p < alpha when a threshold is given (the reference's rule)
    assert list(ndb.different_bins(z, p, z_threshold=3.0)) == [False, False, True]


def test_z_test_unequal_sizes_and_empty_bins():
    z, p = ndb.two_proportion_z_test(np.array([0.5, 0.5, 0.0]), 1000, np.array([0.0, 0.5, 0.0]), 10)
    pooled = 500 / 1010
    np.testing.assert_allclose(z[0], 0.5 / math.sqrt(pooled * (1 - pooled) * (1 / 1000 + 1 / 10)))
    assert z[1] == 0.0 and p[1] == 1.0
    # Empty on both sides: the reference gets 0/0 = NaN and calls it not different; we give z 0, p 1.
    assert z[2] == 0.0 and p[2] == 1.0
    with np.errstate(invalid="ignore"):
        ref = ReferenceNDB.two_proportions_z_test(np.array([0.5, 0.5, 0.0]), 1000,
                                                  np.array([0.0, 0.5, 0.0]), 10, 0.05)
    assert list(ndb.different_bins(z, p)) == list(ref)


def test_jsd_hand_worked():
    assert ndb.jensen_shannon_divergence([0.2, 0.3, 0.5], [0.2, 0.3, 0.5]) == 0.0
    # Half the mass moved to an empty bin: m = (.25, .5, .25); both KL terms are 0.5 ln 2.
    assert ndb.jensen_shannon_divergence([0.5, 0.5, 0.0], [0.0, 0.5, 0.5]) == pytest.approx(
        0.5 * math.log(2), rel=1e-12)
    assert ndb.jensen_shannon_divergence([1.0, 0.0], [0.0, 1.0]) == pytest.approx(math.log(2))
    p, q = np.array([0.7, 0.2, 0.1]), np.array([0.1, 0.6, 0.3])
    m = (p + q) / 2
    by_hand = 0.5 * sum(a * math.log(a / c) for a, c in zip(p, m)) + \
        0.5 * sum(b * math.log(b / c) for b, c in zip(q, m))
    assert ndb.jensen_shannon_divergence(p, q) == pytest.approx(by_hand, rel=1e-12)
    assert ndb.jensen_shannon_divergence(p, q) == pytest.approx(
        ReferenceNDB.jensen_shannon_divergence(p, q), rel=1e-14)


def test_ndb_from_counts_matches_reference_statistics():
    rng = np.random.default_rng(0)
    counts = rng.integers(1, 50, size=12)
    bins = _toy_bins(counts)
    gen = rng.integers(0, 30, size=12)
    gen[3] = 0
    res = ndb.ndb_from_counts(bins, gen, alpha=0.05)
    p1, p2 = counts / counts.sum(), gen / gen.sum()
    ref_diff = ReferenceNDB.two_proportions_z_test(p1, counts.sum(), p2, gen.sum(), 0.05)
    assert res.ndb == int(np.count_nonzero(ref_diff))
    assert [b.different for b in res.per_bin] == list(ref_diff)
    assert res.jsd == pytest.approx(ReferenceNDB.jensen_shannon_divergence(p1, p2), rel=1e-14)
    assert res.ndb_ratio == res.ndb / 12 and res.n_samples == gen.sum() and res.n_train == counts.sum()
    with pytest.raises(ValueError, match="no samples"):
        ndb.ndb_from_counts(bins, np.zeros(12, dtype=int))
    with pytest.raises(ValueError, match="one entry per bin"):
        ndb.ndb_from_counts(bins, np.ones(5, dtype=int))


def _toy_bins(counts, centers=None):
    k = len(counts)
    centers = np.eye(k) if centers is None else centers
    d = centers.shape[1]
    return ndb.Bins(centers=centers, counts=np.asarray(counts), used_dims=np.arange(d),
                    mean=np.zeros(d), std=np.ones(d), whiten=False, seed=0, max_dims=None,
                    n_init=1, max_iter=100)


def test_assignment_ties_go_to_the_first_centre_like_the_reference():
    centers = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0]])
    bins = _toy_bins([3, 2, 1], centers)
    samples = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [1.9, 0.1], [0.3, 0.3]])
    ref = ReferenceNDB(number_of_bins=3)
    ref.bin_centers, ref.used_d_indices = centers, np.arange(2)
    assert list(ndb.assign_bins(bins, samples)) == list(ref._calculate_bin_proportions(samples)[1])
    assert list(ndb.assign_bins(bins, samples)) == [0, 0, 0, 1, 0]


# --- fitting and evaluating: parity with the reference transcription -------------------------

def _reference(train, queries, k, seed, whiten=False, max_dims=None):
    np.random.seed(seed)  # the reference draws from numpy's global generator
    ref = ReferenceNDB(train, number_of_bins=k, whitening=whiten, max_dims=max_dims)
    return ref, [ref.evaluate(q) for q in queries]


def _assert_same_as_reference(train, queries, k, seed, whiten=False, max_dims=None):
    ref, ref_results = _reference(train, queries, k, seed, whiten, max_dims)
    bins = ndb.fit_bins(train, k=k, seed=seed, whiten=whiten, max_dims=max_dims, kmeans="exact")
    np.testing.assert_array_equal(bins.used_dims, ref.used_d_indices)
    assert bins.n_train == ref.ref_sample_size
    # Tied bins may be ordered differently (stable sort here): match each bin by its centre.
    match = np.argmin(((bins.centers[:, None] - ref.bin_centers[None]) ** 2).sum(-1), axis=1)
    assert sorted(match) == list(range(k))
    np.testing.assert_allclose(bins.centers, ref.bin_centers[match], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(bins.proportions, ref.bin_proportions[match])
    assert list(bins.counts) == sorted(bins.counts, reverse=True)
    for q, r in zip(queries, ref_results):
        labels = ndb.assign_bins(bins, q)
        np.testing.assert_array_equal(match[labels], r["Bin-Assignment"])
        res = ndb.evaluate_bins(bins, q)
        assert res.ndb == r["NDB"]
        assert res.jsd == pytest.approx(r["JS"], rel=1e-12, abs=1e-15)
        assert [b.different for b in res.per_bin] == list(r["Different-Bins"][match])
    return bins


def test_parity_uniform_whitened():
    rng = np.random.RandomState(1)
    train = rng.uniform(size=(3000, 40))
    queries = [rng.uniform(high=h, size=(600, 40)) for h in (1.0, 0.9, 0.75)]
    _assert_same_as_reference(train, queries, k=25, seed=7, whiten=True)


def test_parity_fashion_mnist_subsampled_dims(fashion):
    train, _, test = fashion
    # 32x32x3 like the benchmark: d = 3072 > 1000, so both use a random d // 6 = 512 dimensions;
    # padding gives constant columns and grey-as-RGB gives repeated ones (the exact reduction path).
    bins = _assert_same_as_reference(_as_rgb_vectors(train[:2000], pad=2),
                                     [_as_rgb_vectors(test[:500], pad=2)], k=15, seed=3)
    assert len(bins.used_dims) == 3072 // 6


def test_parity_max_dims_and_whitening(fashion):
    train, _, test = fashion
    _assert_same_as_reference(_as_rgb_vectors(train[:1500]), [_as_rgb_vectors(test[:400])],
                              k=10, seed=11, whiten=True, max_dims=60)


# --- the reference's own sanity scenario -----------------------------------------------------

def test_reference_sanity_scenario_uniform():
    """The reference's __main__: train ~ U[0,1]^d; queries U[0,1], U[0,0.9], U[0,0.75]."""
    k, dim, alpha = 20, 20, 0.05
    rng = np.random.RandomState(0)
    bins = ndb.fit_bins(rng.uniform(size=(k * 100, dim)), k=k, seed=0, whiten=True)
    results = {high: [ndb.evaluate_bins(bins, rng.uniform(high=high, size=(k * 10, dim)), alpha)
                      for _ in range(20)] for high in (1.0, 0.9, 0.75)}
    mean_ndb = {h: np.mean([r.ndb for r in rs]) for h, rs in results.items()}
    mean_jsd = {h: np.mean([r.jsd for r in rs]) for h, rs in results.items()}
    assert mean_ndb[1.0] < mean_ndb[0.9] < mean_ndb[0.75]
    assert mean_jsd[1.0] < mean_jsd[0.9] < mean_jsd[0.75]
    # Same distribution: each bin is a false positive with probability ~alpha, so NDB ~ alpha * K.
    assert 0.25 * alpha * k <= mean_ndb[1.0] <= 2.5 * alpha * k
    assert mean_ndb[0.75] > 0.3 * k


# --- real data: Fashion-MNIST --------------------------------------------------------------

def test_fashion_mnist_held_out_low_collapsed_high(fashion):
    train, labels, test = fashion
    k = 20
    bins = ndb.fit_bins(_as_rgb_vectors(train[:6000]), k=k, seed=0)
    held_out = ndb.evaluate_bins(bins, _as_rgb_vectors(test[:2000]))
    three = np.flatnonzero(np.isin(labels[6000:], [0, 1, 7]))[:2000] + 6000
    three_classes = ndb.evaluate_bins(bins, _as_rgb_vectors(train[three]))
    duplicated = ndb.evaluate_bins(bins, _as_rgb_vectors(np.repeat(test[:20], 100, axis=0)))
    assert held_out.ndb <= 0.2 * k and held_out.jsd < 0.01
    assert three_classes.ndb >= 0.6 * k and three_classes.jsd > 10 * held_out.jsd
    assert duplicated.ndb >= 0.6 * k and duplicated.jsd > 10 * held_out.jsd


@pytest.mark.parametrize("kmeans", ["fast", "exact"])
def test_same_seed_same_output_other_seed_differs(fashion, kmeans):
    train, _, test = fashion
    x, q = _as_rgb_vectors(train[:1500], pad=2), _as_rgb_vectors(test[:300], pad=2)
    a = ndb.fit_bins(x, k=8, seed=5, kmeans=kmeans)
    b = ndb.fit_bins(x, k=8, seed=5, kmeans=kmeans)
    c = ndb.fit_bins(x, k=8, seed=6, kmeans=kmeans)
    np.testing.assert_array_equal(a.centers, b.centers)
    assert ndb.evaluate_bins(a, q) == ndb.evaluate_bins(b, q)
    assert not np.array_equal(a.used_dims, c.used_dims)


def test_bootstrap_path_equals_evaluate(fashion):
    train, _, test = fashion
    bins = ndb.fit_bins(_as_rgb_vectors(train[:1000]), k=8, seed=0)
    q = _as_rgb_vectors(test[:300])
    labels = ndb.assign_bins(bins, q)
    assert ndb.ndb_from_counts(bins, ndb.bin_counts(labels, bins.k)) == ndb.evaluate_bins(bins, q)


def test_uint8_input_is_not_truncated():
    # The reference sized its distance matrix with the input dtype: uint8 distances truncated.
    rng = np.random.RandomState(0)
    x = rng.randint(0, 256, size=(400, 12)).astype(np.uint8)
    bins = ndb.fit_bins(x, k=5, seed=0)
    np.testing.assert_array_equal(ndb.assign_bins(bins, x), ndb.assign_bins(bins, x.astype(float)))


def test_bad_inputs():
    rng = np.random.RandomState(0)
    with pytest.raises(ValueError, match="5 training samples for 10 bins"):
        ndb.fit_bins(rng.uniform(size=(5, 3)), k=10)
    with pytest.raises(ValueError, match="non-empty bins"):
        ndb.fit_bins(np.repeat(rng.uniform(size=(3, 4)), 10, axis=0), k=5)
    bins = ndb.fit_bins(rng.uniform(size=(50, 4)), k=3)
    with pytest.raises(ValueError, match="4"):
        ndb.evaluate_bins(bins, rng.uniform(size=(10, 5)))
    with pytest.raises(ValueError, match="no samples"):
        ndb.evaluate_bins(bins, np.zeros((0, 4)))
    with pytest.raises(ValueError, match="NaN"):
        ndb.evaluate_bins(bins, np.full((3, 4), np.nan))


def test_exported_at_top_level():
    import msgan_eval

    assert msgan_eval.fit_bins is ndb.fit_bins and msgan_eval.evaluate_bins is ndb.evaluate_bins


# --- the accelerated K-means against scikit-learn's KMeans -----------------------------------

def test_distinct_columns_keep_every_distance():
    from msgan_eval.metrics.ndb_kmeans import distinct_columns

    rng = np.random.RandomState(0)
    base = rng.uniform(size=(50, 6))
    x = np.hstack([base, base[:, [1, 1, 4]], np.full((50, 2), 0.3)])   # repeated and constant
    reduced = distinct_columns(x)
    assert reduced.shape == (50, 6)

    def sq_dist(a):
        return ((a[:, None] - a[None]) ** 2).sum(-1)

    np.testing.assert_allclose(sq_dist(reduced), sq_dist(x), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("k, whiten", [(40, False), (25, True)])
def test_kmeans_labels_equal_sklearn_kmeans(fashion, k, whiten):
    """Many Lloyd iterations (Elkan skipping, incremental sums) on grey-as-RGB 32x32x3 images."""
    from sklearn.cluster import KMeans

    from msgan_eval.metrics.ndb_kmeans import kmeans_labels

    train, _, _ = fashion
    x = _as_rgb_vectors(train[:4000], pad=2)
    used = np.random.RandomState(1).choice(x.shape[1], 512, replace=False)
    x = x[:, used]
    if whiten:
        x = (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-6)
    km = KMeans(n_clusters=k, max_iter=100, random_state=np.random.RandomState(9)).fit(x)
    assert km.n_iter_ > 10                       # the bounds and incremental sums are exercised
    np.testing.assert_array_equal(kmeans_labels(x, k, np.random.RandomState(9)), km.labels_)


def test_kmeans_more_inits_go_to_sklearn(fashion):
    from sklearn.cluster import KMeans

    from msgan_eval.metrics.ndb_kmeans import kmeans_labels

    x = _as_rgb_vectors(fashion[0][:800])[:, ::7]
    expected = KMeans(n_clusters=6, max_iter=100, n_init=3, random_state=np.random.RandomState(2)).fit(x)
    np.testing.assert_array_equal(kmeans_labels(x, 6, np.random.RandomState(2), n_init=3),
                                  expected.labels_)


# --- the fast K-means path (float32) against the reference -----------------------------------

@pytest.mark.parametrize("seed", [0, 1])
def test_fast_path_ndb_within_2_of_reference(fashion, seed):
    """Issue 7's criterion on real data: the reference's NDB within 2 and JSD close, for a held-out
    split (low NDB) and a 3-class subset (high NDB), 32x32x3 so d // 6 dimensions are used."""
    train, labels, test = fashion
    k = 20
    x = _as_rgb_vectors(train[:3000], pad=2)
    three = np.flatnonzero(np.isin(labels[3000:], [0, 1, 7]))[:800] + 3000
    queries = [_as_rgb_vectors(test[:1000], pad=2), _as_rgb_vectors(train[three], pad=2)]
    _, expected = _reference(x, queries, k, seed)
    bins = ndb.fit_bins(x, k=k, seed=seed, kmeans="fast")
    for q, r in zip(queries, expected):
        res = ndb.evaluate_bins(bins, q)
        assert abs(res.ndb - r["NDB"]) <= 2
        assert res.jsd == pytest.approx(r["JS"], rel=0.1, abs=1e-3)
    assert expected[1]["NDB"] >= 0.5 * k                 # the subset query really is different


def test_fast_kmeans_labels_agree_with_sklearn_kmeans(fashion):
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score

    from msgan_eval.metrics.ndb_kmeans_fast import fast_kmeans_labels

    x = _as_rgb_vectors(fashion[0][:4000], pad=2)
    x = x[:, np.random.RandomState(1).choice(x.shape[1], 512, replace=False)]
    km = KMeans(n_clusters=40, max_iter=100, random_state=np.random.RandomState(9)).fit(x)
    assert km.n_iter_ > 10
    labels = fast_kmeans_labels(x, 40, np.random.RandomState(9))
    # Same seeded k-means++ draws and Lloyd steps: float32 can only flip near-ties.
    assert adjusted_rand_score(km.labels_, labels) > 0.98


def test_fast_kmeans_more_inits_keep_the_lowest_inertia_like_sklearn(fashion):
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score

    from msgan_eval.metrics.ndb_kmeans_fast import fast_kmeans_labels

    x = _as_rgb_vectors(fashion[0][:800])[:, ::7]
    expected = KMeans(n_clusters=6, max_iter=100, n_init=3,
                      random_state=np.random.RandomState(2)).fit(x)
    labels = fast_kmeans_labels(x, 6, np.random.RandomState(2), n_init=3)
    assert adjusted_rand_score(expected.labels_, labels) > 0.98


def test_unknown_kmeans_path_is_refused():
    with pytest.raises(ValueError, match="kmeans must be one of fast, exact"):
        ndb.fit_bins(np.random.RandomState(0).uniform(size=(50, 4)), k=3, kmeans="turbo")


def test_cli_kmeans_exact_matches_reference(fashion, tmp_path):
    """``msgan-eval ndb --kmeans exact`` gives the reference's numbers; a bad value exits 2."""
    import json

    from click.testing import CliRunner
    from PIL import Image

    from msgan_eval.cli import main
    from msgan_eval.images import write_image_folder

    train, labels, test = fashion
    write_image_folder(tmp_path / "train", train[:300], labels[:300], [str(c) for c in range(10)])
    write_image_folder(tmp_path / "gen", test[:100], [0] * 100, ["0"])
    folders = ["ndb", str(tmp_path / "gen"), "--train", str(tmp_path / "train")]
    result = CliRunner().invoke(main, [*folders, "--bins", "6", "--seed", "4", "--kmeans", "exact",
                                       "--json", "--quiet"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)

    def vectors(folder):
        files = sorted(folder.rglob("*.png"), key=lambda f: f.relative_to(folder).as_posix())
        return np.stack([np.asarray(Image.open(f).convert("RGB"), dtype=np.float64).reshape(-1)
                         for f in files]) / 255.0

    _, (expected,) = _reference(vectors(tmp_path / "train"), [vectors(tmp_path / "gen")], 6, 4)
    assert out["kmeans"] == "exact" and out["ndb"] == expected["NDB"]
    assert out["jsd"] == pytest.approx(expected["JS"], rel=1e-12, abs=1e-15)
    bad = CliRunner().invoke(main, [*folders, "--kmeans", "turbo"])
    assert bad.exit_code == 2 and "--kmeans" in bad.output and "Traceback" not in bad.output
