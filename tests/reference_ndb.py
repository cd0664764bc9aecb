"""A written-out transcription of the NDB reference, for parity tests and benchmarks only.

Source: eitanrich/gans-n-gmms ``utils/ndb.py`` (Richardson & Weiss, "On GANs and GMMs", NeurIPS
2018), class ``NDB``: ``construct_bins``, ``evaluate``, ``__calculate_bin_proportions``,
``two_proportions_z_test``, ``jensen_shannon_divergence``, ``kl_divergence``, transcribed line by
line. Changes, all needed to run it here and none touching the numbers:

- ``KMeans(n_clusters=k, max_iter=100, n_jobs=-1)`` -> ``KMeans(n_clusters=k, max_iter=100)``:
  ``n_jobs`` was removed in scikit-learn 1.0 (the call raises TypeError now). Everything else is
  scikit-learn's default (today: k-means++ init, ``n_init='auto'`` = 1 run, Lloyd). ``n_init`` can
  be passed to reproduce older scikit-learn defaults (10 runs).
- The reference is unseeded: it draws the used dimensions with ``np.random.choice`` and lets KMeans
  use the global numpy generator. Callers seed it with ``np.random.seed(seed)`` before
  ``construct_bins``; nothing else is changed.
- The prints, the pickle bins/results cache (keyed by K only) and matplotlib plotting are left out.
"""
import numpy as np
from scipy.stats import norm
from sklearn.cluster import KMeans


class ReferenceNDB:
    def __init__(self, training_data=None, number_of_bins=100, significance_level=0.05, z_threshold=None,
                 whitening=False, max_dims=None, n_init="auto"):
        self.number_of_bins = number_of_bins
        self.significance_level = significance_level
        self.z_threshold = z_threshold
        self.whitening = whitening
        self.ndb_eps = 1e-6
        self.training_mean = 0.0
        self.training_std = 1.0
        self.max_dims = max_dims
        self.n_init = n_init
        self.bin_centers = None
        self.bin_proportions = None
        self.ref_sample_size = None
        self.used_d_indices = None
        self.labels_ = None
        if training_data is not None:
            self.construct_bins(training_data)

    def construct_bins(self, training_samples):
        n, d = training_samples.shape
        k = self.number_of_bins
        if self.whitening:
            self.training_mean = np.mean(training_samples, axis=0)
            self.training_std = np.std(training_samples, axis=0) + self.ndb_eps

        if self.max_dims is None and d > 1000:
            # To ran faster, perform binning on sampled data dimension (i.e. don't use all channels of all pixels)
            self.max_dims = d // 6

        whitened_samples = (training_samples - self.training_mean) / self.training_std
        d_used = d if self.max_dims is None else min(d, self.max_dims)
        self.used_d_indices = np.random.choice(d, d_used, replace=False)

        clusters = KMeans(n_clusters=k, max_iter=100, n_init=self.n_init).fit(
            whitened_samples[:, self.used_d_indices])
        self.labels_ = clusters.labels_

        bin_centers = np.zeros([k, d])
        for i in range(k):
            bin_centers[i, :] = np.mean(whitened_samples[clusters.labels_ == i, :], axis=0)

        # Organize bins by size
        label_vals, label_counts = np.unique(clusters.labels_, return_counts=True)
        bin_order = np.argsort(-label_counts)
        self.bin_proportions = label_counts[bin_order] / np.sum(label_counts)
        self.bin_centers = bin_centers[bin_order, :]
        self.ref_sample_size = n

    def evaluate(self, query_samples):
        n = query_samples.shape[0]
        query_bin_proportions, query_bin_assignments = self._calculate_bin_proportions(query_samples)
        different_bins = ReferenceNDB.two_proportions_z_test(
            self.bin_proportions, self.ref_sample_size, query_bin_proportions, n,
            significance_level=self.significance_level, z_threshold=self.z_threshold)
        ndb = np.count_nonzero(different_bins)
        js = ReferenceNDB.jensen_shannon_divergence(self.bin_proportions, query_bin_proportions)
        return {'NDB': ndb,
                'JS': js,
                'Proportions': query_bin_proportions,
                'N': n,
                'Bin-Assignment': query_bin_assignments,
                'Different-Bins': different_bins}

    def _calculate_bin_proportions(self, samples):
        assert samples.shape[1] == self.bin_centers.shape[1]
        n, d = samples.shape
        k = self.bin_centers.shape[0]
        D = np.zeros([n, k], dtype=samples.dtype)
        whitened_samples = (samples - self.training_mean) / self.training_std
        for i in range(k):
            D[:, i] = np.linalg.norm(whitened_samples[:, self.used_d_indices] - self.bin_centers[i, self.used_d_indices],
                                     ord=2, axis=1)
        labels = np.argmin(D, axis=1)
        probs = np.zeros([k])
        label_vals, label_counts = np.unique(labels, return_counts=True)
        probs[label_vals] = label_counts / n
        return probs, labels

    @staticmethod
    def two_proportions_z_test(p1, n1, p2, n2, significance_level, z_threshold=None):
        # Per http://stattrek.com/hypothesis-test/difference-in-proportions.aspx
        p = (p1 * n1 + p2 * n2) / (n1 + n2)
        se = np.sqrt(p * (1 - p) * (1 / n1 + 1 / n2))
        z = (p1 - p2) / se
        if z_threshold is not None:
            return abs(z) > z_threshold
        p_values = 2.0 * norm.cdf(-1.0 * np.abs(z))    # Two-tailed test
        return p_values < significance_level

    @staticmethod
    def jensen_shannon_divergence(p, q):
        m = (p + q) * 0.5
        return 0.5 * (ReferenceNDB.kl_divergence(p, m) + ReferenceNDB.kl_divergence(q, m))

    @staticmethod
    def kl_divergence(p, q):
        assert np.all(np.isfinite(p))
        assert np.all(np.isfinite(q))
        assert not np.any(np.logical_and(p != 0, q == 0))
        p_pos = (p > 0)
        return np.sum(p[p_pos] * np.log(p[p_pos] / q[p_pos]))
