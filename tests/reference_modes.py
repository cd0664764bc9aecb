"""PacGAN's mode-counting code, transcribed line by line (Python 2 -> 3 only), as the reference
the metric in ``msgan_eval/metrics/modes.py`` is tested against. Nothing here imports msgan_eval.

Source: github:fjxmlzn/PacGAN at 190853e.
- ``JSD`` and ``MetricLogger.do``: ``synthetic_data_experiments/PacGAN/pacgan/extensions.py``
  l.19-28, l.114-194 (file I/O, the log-likelihood of l.144-152 and the CSV writing left out; the
  means and variances come from the ``config.py`` files, l.6-7 / l.5-7);
- ``log_metrics``: ``stacked_MNIST_experiments/VEEGAN_experiment/model.py`` l.246-285 (the
  classifier's labels are given instead of ``self.evaluate(...)`` of l.252-254).
"""
import itertools
import math
from math import cos, log, sin

import numpy
import scipy.stats

# synthetic_data_experiments/2DRing_GAN&PacGAN/config.py l.6-7
RING_MEANS = [numpy.array([cos(id * numpy.pi * 2 / 8), sin(id * numpy.pi * 2 / 8)]) for id in range(8)]
RING_VARIANCES = [0.01 ** 2 * numpy.eye(len(mean)) for mean in RING_MEANS]
# synthetic_data_experiments/2DGrid_GAN&PacGAN/config.py l.5-7
GRID_MEANS = [numpy.array([i, j]) for i, j in itertools.product(range(-4, 5, 2),
                                                                range(-4, 5, 2))]
GRID_VARIANCES = [0.05 ** 2 * numpy.eye(len(mean)) for mean in GRID_MEANS]


# extensions.py l.19-28
class JSD:
    def KLD(self, p, q):
        if 0 in q:
            raise ValueError
        return sum(_p * log(_p / _q) for (_p, _q) in zip(p, q) if _p != 0)

    def JSD_core(self, p, q):
        M = [0.5 * (_p + _q) for _p, _q in zip(p, q)]
        return 0.5 * self.KLD(p, M) + 0.5 * self.KLD(q, M)


def metric_logger(gan_x_tilde, means, variances, dis_thre=3):
    """``MetricLogger.do`` l.154-175 on the samples ``gan_x_tilde`` (N, 2); returns its fields and
    the reverse KL that Table 1 reports, ``JSD().KLD(detail / sum(detail), uniform)`` (inferred:
    the 2D code has no KL line; see the refs note)."""
    # map points to modes
    detail_of_coverage = numpy.zeros(len(means))
    for i in range(gan_x_tilde.shape[0]):
        min_dis = 10000000
        min_dis_j = -1
        for j in range(len(means)):
            dis_vector = numpy.array(gan_x_tilde[i, :], dtype=float) - numpy.array(means[j], dtype=float)
            variance_vector = numpy.array(numpy.diag(variances[j]), dtype=float)
            variance_vector[variance_vector == 0] = variance_vector[variance_vector != 0][1]  # ugly fix for 1200D
            dis = math.sqrt(numpy.sum((dis_vector * dis_vector) / variance_vector))
            if dis < min_dis:
                min_dis = dis
                min_dis_j = j
        if min_dis < dis_thre:
            detail_of_coverage[min_dis_j] += 1

    mode_coverage = float(len(numpy.nonzero(detail_of_coverage)[0]))
    good_points_percentage = float(numpy.sum(detail_of_coverage)) / float(gan_x_tilde.shape[0])
    with numpy.errstate(invalid="ignore", divide="ignore"):
        variance_of_coverage = detail_of_coverage.var()
        entropy_of_coverage = scipy.stats.entropy(detail_of_coverage / numpy.sum(detail_of_coverage))
        p = detail_of_coverage / numpy.sum(detail_of_coverage)
    q = [1.0 / len(means)] * len(means)
    jsd = JSD().JSD_core(p, q)
    reverse_kl = JSD().KLD(p, q)
    return {"mode coverage": mode_coverage, "good points percentage": good_points_percentage,
            "variance of coverage": variance_of_coverage, "entropy of coverage": entropy_of_coverage,
            "JSD": jsd, "detail of coverage": detail_of_coverage, "reverse KL": reverse_kl}


def log_metrics(dect0, dect1, dect2, num_test_sample):
    """``log_metrics`` l.256-276 given the three channels' labels (one batch holding them all)."""
    results = []
    new_results = list(zip(dect0, dect1, dect2))
    if len(results) + len(new_results) > num_test_sample:
        results.extend(new_results[0: (num_test_sample - len(results))])
    else:
        results.extend(new_results)

    map = {}
    for result in results:
        if result in map:
            map[result] += 1
        else:
            map[result] = 1
    num_mode = len(map.keys())
    p = numpy.zeros(1000)
    p[0:num_mode] = list(map.values())
    p = p / numpy.sum(p)
    q = [1.0 / 1000.0] * 1000
    kl = JSD().KLD(p, q)
    return {"mode coverage": num_mode, "KL": kl, "details": map}
