"""Test-only transcriptions of the two public realism-score implementations (neither is on PyPI).

- ``official_realism``: kynkaat/improved-precision-and-recall-metric (the paper's authors),
  precision_recall.py (commit b0247ea): ``batch_pairwise_distances`` (l. 15-30, squared distances
  ``max(|u|^2 - 2 u.v + |v|^2, 0)`` in float32), ``ManifoldEstimator.__init__`` (l. 58-109: the
  (k+1)-th smallest squared distance by ``np.partition``, then with ``clamp_to_percentile`` the
  radii above that percentile set to 0) and ``evaluate(return_realism=True)`` (l. 139:
  ``max(D / (distance + eps))``, eps = 1e-5), as experiments.py l. 56 calls it
  (``clamp_to_percentile=50``). TensorFlow replaced by numpy, the arithmetic kept in float32.
- ``dgm_eval_realism``: layer6ai-labs/dgm-eval, dgm_eval/metrics/prdc.py (commit d57a6d2):
  ``compute_nearest_neighbour_distances`` (l. 44-55, sklearn euclidean distances, the (k+1)-th
  smallest), and ``compute_prdc(..., realism=True)`` l. 101-105: radii ``< median`` kept, realism
  ``max(r / d)`` over them.
"""
import numpy as np
import sklearn.metrics


def official_realism(ref: np.ndarray, gen: np.ndarray, k: int = 3, clamp_to_percentile=50,
                     eps: float = 1e-5) -> np.ndarray:
    """The official code's realism (a ratio of *squared* distances), float32 as it computes."""
    ref, gen = ref.astype(np.float32), gen.astype(np.float32)

    def sq_dist(u, v):
        nu = np.sum(np.square(u), 1).reshape(-1, 1)
        nv = np.sum(np.square(v), 1).reshape(1, -1)
        return np.maximum(nu - 2 * (u @ v.T) + nv, np.float32(0.0))

    seq = np.arange(k + 1, dtype=np.int32)
    radii = np.partition(sq_dist(ref, ref), seq, axis=1)[:, [k]]        # (n, 1), squared
    if clamp_to_percentile is not None:
        radii[radii > np.percentile(radii, clamp_to_percentile, axis=0)] = 0
    d = sq_dist(gen, ref)
    return np.max(radii[:, 0] / (d + np.float32(eps)), axis=1)


def dgm_eval_realism(ref: np.ndarray, gen: np.ndarray, k: int = 3) -> np.ndarray:
    """dgm-eval's realism (the paper's ratio of distances; radii strictly below the median)."""
    dist = sklearn.metrics.pairwise_distances(ref, ref, metric="euclidean")
    idx = np.argpartition(dist, k + 1, axis=-1)[..., :k + 1]
    radii = np.take_along_axis(dist, idx, axis=-1).max(axis=-1)
    real_fake = sklearn.metrics.pairwise_distances(ref, gen, metric="euclidean")
    mask = radii < np.median(radii)
    return (radii[mask][:, None] / real_fake[mask]).max(axis=0)
