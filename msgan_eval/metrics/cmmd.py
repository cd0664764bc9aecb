"""CMMD (Jayasumana et al., CVPR 2024): the MMD of CLIP embeddings under a Gaussian RBF kernel.

As sayakpaul/cmmd-pytorch computes it (``distance.py`` ``mmd``, lines 27-62; ``embedding.py``
line 76 normalises the embeddings): L2-normalised embeddings, kernel
``k(x, y) = exp(-||x - y||^2 / (2 sigma^2))`` with sigma = 10 written as
``exp(-gamma * (-2 x.y + |x|^2 + |y|^2))``, and the biased (minimum-variance) estimator over *all*
pairs, the diagonal included, times 1000::

    CMMD = 1000 * (mean K_xx + mean K_yy - 2 mean K_xy)

Here everything is accumulated in float64 (cmmd-pytorch runs float32, which is off by ~3e-3
relative at 60 images: its sums of near-1 kernel values cancel), and the kernel matrices are
computed in row blocks and summed, never stored whole: memory is flat in the number of images.

The bootstrap resamples the generated rows with replacement, as for the other metrics
(:mod:`msgan_eval.metrics.bootstrap`): with counts ``w`` the replicate is
``1000 * (w'K_xx w / m^2 + mean K_yy - 2 w'K_xy 1 / (m n))``, the same estimator on the resample.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from msgan_eval import defaults


def l2_normalise(x: np.ndarray) -> torch.Tensor:
    """Rows divided by their Euclidean norm, float64 (``embedding.py``: ``embs /= norm(embs)``)."""
    t = torch.from_numpy(np.array(x, dtype=np.float64))    # a copy: shared rows stay read-only
    return t / torch.linalg.norm(t, dim=-1, keepdim=True)


def _kernel_block(a: torch.Tensor, b: torch.Tensor, sq_a: torch.Tensor, sq_b: torch.Tensor,
                  gamma: float) -> torch.Tensor:
    # distance.py: exp(-gamma * (-2 * x @ y.T + x_sqnorms[:, None] + y_sqnorms[None, :]))
    return torch.exp(-gamma * (-2 * (a @ b.T) + sq_a.unsqueeze(1) + sq_b.unsqueeze(0)))


def weighted_kernel_sums(x: torch.Tensor, y: torch.Tensor, wx: Optional[torch.Tensor],
                         wy: Optional[torch.Tensor], *, sigma: float = defaults.CMMD_SIGMA,
                         block_rows: int = defaults.CMMD_BLOCK_ROWS) -> torch.Tensor:
    """``wx_b' K(x, y) wy_b`` for each row b of the weights (None: all ones, one row), in
    blocks of ``block_rows`` rows of x."""
    gamma = 1.0 / (2.0 * sigma ** 2)
    sq_x, sq_y = (x * x).sum(dim=1), (y * y).sum(dim=1)
    n_w = wx.shape[0] if wx is not None else (wy.shape[0] if wy is not None else 1)
    total = torch.zeros(n_w, dtype=torch.float64)
    for start in range(0, len(x), block_rows):
        stop = min(start + block_rows, len(x))
        k = _kernel_block(x[start:stop], y, sq_x[start:stop], sq_y, gamma)
        right = k.sum(dim=1, keepdim=True).T if wy is None else (wy @ k.T)      # (n_w or 1, rows)
        left = torch.ones(1, stop - start, dtype=torch.float64) if wx is None else wx[:, start:stop]
        total += (left * right).sum(dim=1)
    return total


def cmmd(x: np.ndarray, y: np.ndarray, *, sigma: float = defaults.CMMD_SIGMA,
         scale: float = defaults.CMMD_SCALE, block_rows: int = defaults.CMMD_BLOCK_ROWS) -> float:
    """CMMD of embeddings ``x`` (n, d) and ``y`` (m, d); symmetric. Rows are L2-normalised here."""
    a, b = l2_normalise(x), l2_normalise(y)
    if len(a) < 1 or len(b) < 1:
        raise ValueError("CMMD needs at least one embedding on each side")
    kw = dict(sigma=sigma, block_rows=block_rows)
    k_xx = float(weighted_kernel_sums(a, a, None, None, **kw)[0]) / (len(a) * len(a))
    k_yy = float(weighted_kernel_sums(b, b, None, None, **kw)[0]) / (len(b) * len(b))
    k_xy = float(weighted_kernel_sums(a, b, None, None, **kw)[0]) / (len(a) * len(b))
    return scale * (k_xx + k_yy - 2.0 * k_xy)


def bootstrap_cmmd(features: np.ndarray, ref_features: np.ndarray, value: float, *,
                   rng: np.random.Generator, n_boot: int = defaults.BOOTSTRAP,
                   confidence: float = defaults.CONFIDENCE, sigma: float = defaults.CMMD_SIGMA,
                   scale: float = defaults.CMMD_SCALE, block_rows: int = defaults.CMMD_BLOCK_ROWS):
    """CMMD ``value`` of generated ``features`` against ``ref_features`` with a re-centred
    bootstrap interval over the generated rows (cut at 0: the biased MMD is a squared norm)."""
    from .bootstrap import recentred_interval, resample_indices

    g, r = l2_normalise(features), l2_normalise(ref_features)
    m, n = len(g), len(r)
    idx = resample_indices(m, n_boot, rng)
    w = torch.from_numpy(np.stack([np.bincount(i, minlength=m) for i in idx]).astype(np.float64))
    kw = dict(sigma=sigma, block_rows=block_rows)
    within = weighted_kernel_sums(g, g, w, w, **kw) / (m * m)
    ref_term = float(weighted_kernel_sums(r, r, None, None, **kw)[0]) / (n * n)
    cross = weighted_kernel_sums(g, r, w, None, **kw) / (m * n)
    reps = scale * (within + ref_term - 2.0 * cross)
    return recentred_interval(value, reps.numpy(), confidence, floor=0.0)
