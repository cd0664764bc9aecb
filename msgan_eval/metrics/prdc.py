"""Precision and recall (Kynkaanniemi et al. 2019) and density and coverage (Naeem et al. 2020) of
a generated ("fake") feature set against a reference ("real") one (pure maths).

The definitions are those of clovaai's ``prdc.compute_prdc`` (real = reference, fake = generated;
torch-fidelity's issue #58 was the two swapped):

- radius of a sample: the distance to its k-th nearest neighbour in its own set (the (k+1)-th
  smallest distance, the sample itself being the first);
- precision: fraction of fakes inside some real sample's ball (strict ``<``, as prdc);
- recall: fraction of reals inside some fake sample's ball;
- density: fake-in-real-ball memberships / (k * n_fake), unbounded above (1 on matched sets);
- coverage: fraction of reals whose nearest fake lies inside their own ball.

prdc holds three full distance matrices (50k x 50k float32: 10 GB each); here distances are
computed with ``torch.cdist`` in row blocks of at most ``block_entries`` entries, each block reduced
at once (top-k for radii; counts, any and min for the metrics), so memory stays flat as n grows.
Distances are float64 (prdc's sklearn path also computes in float64), so the counts agree.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Tuple

import numpy as np
import torch

from msgan_eval import defaults


@dataclass(frozen=True)
class PrdcCounts:
    """Per-sample outcomes the four metrics are means of (what a bootstrap resamples)."""

    k: int
    fake_in_real_balls: np.ndarray   # (n_fake,) number of real balls holding each fake
    real_in_fake_ball: np.ndarray    # (n_real,) bool: inside some fake ball (recall)
    real_covered: np.ndarray         # (n_real,) bool: nearest fake inside own ball (coverage)
    # with keep_pairs: (real, fake) index pairs with the fake inside the real ball, and with the
    # real inside the fake ball (what a bootstrap over the fakes needs for coverage and recall)
    real_ball_pairs: Optional[Tuple[np.ndarray, np.ndarray]] = None
    fake_ball_pairs: Optional[Tuple[np.ndarray, np.ndarray]] = None

    @property
    def precision(self) -> float:
        return float((self.fake_in_real_balls > 0).mean())

    @property
    def recall(self) -> float:
        return float(self.real_in_fake_ball.mean())

    @property
    def density(self) -> float:
        return float(self.fake_in_real_balls.sum() / (self.k * len(self.fake_in_real_balls)))

    @property
    def coverage(self) -> float:
        return float(self.real_covered.mean())

    def as_dict(self) -> dict:
        return {"precision": self.precision, "recall": self.recall, "density": self.density,
                "coverage": self.coverage}


def _rows_per_block(n_cols: int, block_entries: int) -> int:
    return max(1, block_entries // max(1, n_cols))


class _Points:
    """One feature set in float64 (exact checks) and float32 (fast screening), with squared norms."""

    def __init__(self, a: torch.Tensor, centre: torch.Tensor):
        # The exact checks use the features as given; the float32 screen uses them shifted by a
        # common centre (distances do not change), whose smaller norms shrink its rounding.
        self.x64 = a
        centred = a - centre
        self.sq64 = (centred * centred).sum(dim=1)
        self.x32 = centred.float()
        del centred
        self.sq32 = self.sq64.float()
        # Worst-case rounding of the float32 |x|^2 + |y|^2 - 2 x.y (conversion and a d-term dot
        # product, any summation order) is below (d + 5) u (|x|^2 + |y|^2), u = 2^-24: twice that.
        self.gamma = 2.0 * (a.shape[1] + 5) * 2.0 ** -24

    def __len__(self) -> int:
        return len(self.x64)


def _screen_d2(a: _Points, rows: slice, b: _Points) -> torch.Tensor:
    """float32 squared distances of ``a[rows]`` to all of ``b`` (one GEMM: the fast part)."""
    return torch.addmm(a.sq32[rows, None] + b.sq32[None, :], a.x32[rows], b.x32.T, alpha=-2.0)


def _exact_d2(a: _Points, i: torch.Tensor, b: _Points, j: torch.Tensor,
              chunk: int = 1024) -> torch.Tensor:
    """float64 squared distances of the pairs (a[i], b[j]), as differences (exact to rounding)."""
    out = torch.empty(len(i), dtype=torch.float64, device=a.x64.device)
    for s in range(0, len(i), chunk):
        diff = a.x64[i[s:s + chunk]] - b.x64[j[s:s + chunk]]
        out[s:s + chunk] = torch.einsum("ij,ij->i", diff, diff)
    return out


def _resolve(d2: torch.Tensor, bound: torch.Tensor, tol: torch.Tensor, a: _Points, rows: slice,
             b: _Points) -> torch.Tensor:
    """``exact d2 < bound`` (float64 ``bound``) for a screened float32 block: float32 decides
    wherever it is farther than ``tol`` from the bound; pairs within it are recomputed in float64."""
    bound32 = bound.float()
    tol = tol + bound32.abs() * 2.0 ** -23            # the bound's own rounding to float32
    less = d2 < bound32 - tol
    unsure = ~less & (d2 <= bound32 + tol)
    i, j = unsure.nonzero(as_tuple=True)
    if len(i):
        exact = _exact_d2(a, i + rows.start, b, j)
        less[i, j] = exact < bound.expand_as(d2)[i, j]
    return less


def _radii2_block(p: _Points, rows: slice, k: int, spare: int = 4) -> torch.Tensor:
    """Squared k-NN radii of ``p[rows]`` (the (k+1)-th smallest exact distance, self included).

    With s the screened values of a row, sorted, and tol its rounding bound, every true value lies
    within tol of its screened one, so the true (k+1)-th lies within tol of s[k]. Points screened
    more than 2 tol below s[k] are surely nearer, those more than 2 tol above surely farther; only
    the band between (usually s[k] alone) is recomputed in float64. A row whose band reaches past
    its ``k + 1 + spare`` smallest (rare) is recomputed in full.
    """
    d2 = _screen_d2(p, rows, p)
    take = min(len(p), k + 1 + spare)
    screened, idx = d2.topk(take, dim=1, largest=False)          # ascending
    del d2
    tol = (p.gamma * (p.sq64[rows] + p.sq64.max()))[:, None]
    s = screened.double()
    kth = s[:, k:k + 1]
    below = (s < kth - 2 * tol).sum(dim=1)                       # surely inside the radius
    band = (s - kth).abs() <= 2 * tol
    bi, bj = band.nonzero(as_tuple=True)
    exact = torch.full(s.shape, float("inf"), dtype=torch.float64, device=s.device)
    exact[bi, bj] = _exact_d2(p, bi + rows.start, p, idx[bi, bj])
    r2 = exact.sort(dim=1).values.gather(1, (k - below)[:, None]).squeeze(1)
    if take < len(p):
        everyone = torch.arange(len(p), device=idx.device)
        for r in band[:, -1].nonzero(as_tuple=True)[0].tolist():
            full = _exact_d2(p, torch.full_like(everyone, rows.start + r), p, everyone)
            r2[r] = full.kthvalue(k + 1).values
    return r2


def nearest_neighbour_radii(x: torch.Tensor, k: int,
                            block_entries: int = defaults.PRDC_BLOCK_ENTRIES) -> torch.Tensor:
    """Distance of each row of ``x`` to its k-th nearest other row (prdc's
    ``compute_nearest_neighbour_distances``: the (k+1)-th smallest, self included), float64."""
    x = x.double()
    return _radii2(_Points(x, x.mean(dim=0)), k, block_entries).sqrt()


def _radii2(p: _Points, k: int, block_entries: int) -> torch.Tensor:
    if len(p) < k + 1:
        raise ValueError(f"k = {k} needs at least {k + 1} samples in each set, got {len(p)}")
    out = torch.empty(len(p), dtype=torch.float64, device=p.x64.device)
    step = _rows_per_block(len(p), block_entries)
    for start in range(0, len(p), step):
        rows = slice(start, min(start + step, len(p)))
        out[rows] = _radii2_block(p, rows, k)
    return out


def _as_tensor(a: np.ndarray, device: Optional[str]) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(a), dtype=torch.float64, device=device)
    if t.ndim != 2:
        raise ValueError(f"features must be an (n, d) array, got shape {tuple(t.shape)}")
    return t


def prdc_counts(real: np.ndarray, fake: np.ndarray, *, k: int = defaults.PRDC_K,
                block_entries: int = defaults.PRDC_BLOCK_ENTRIES, device: Optional[str] = None,
                keep_pairs: bool = False) -> PrdcCounts:
    """The per-sample outcomes behind precision, recall, density and coverage (see module doc).

    Example:
        >>> c = prdc_counts(np.random.rand(200, 16), np.random.rand(150, 16), k=5)
        >>> sorted(c.as_dict())
        ['coverage', 'density', 'precision', 'recall']
    """
    x, y = _as_tensor(real, device), _as_tensor(fake, device)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"real and fake features differ in width: {x.shape[1]} and {y.shape[1]}")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    centre = x.mean(dim=0)     # of the reference: the screen's rounding grows with the norms
    r, f = _Points(x, centre), _Points(y, centre)
    real_r2 = _radii2(r, k, block_entries)
    fake_r2 = _radii2(f, k, block_entries)
    in_real = torch.zeros(len(f), dtype=torch.int64, device=x.device)
    in_fake = torch.zeros(len(r), dtype=torch.bool, device=x.device)
    covered = torch.zeros(len(r), dtype=torch.bool, device=x.device)
    pairs: List[List[np.ndarray]] = [[], []]
    step = _rows_per_block(len(f), block_entries)
    for start in range(0, len(r), step):                 # real rows x all fakes
        rows = slice(start, min(start + step, len(r)))
        d2 = _screen_d2(r, rows, f)
        tol = r.gamma * (r.sq32[rows, None] + f.sq32[None, :])       # per pair
        inside = _resolve(d2, real_r2[rows, None], tol, r, rows, f)
        in_real += inside.sum(dim=0)
        covered[rows] = inside.any(dim=1)      # prdc: min distance < radius, i.e. any inside
        in_fake_ball = _resolve(d2, fake_r2[None, :], tol, r, rows, f)
        in_fake[rows] = in_fake_ball.any(dim=1)
        if keep_pairs:
            for out, mask in zip(pairs, (inside, in_fake_ball)):
                out.append((mask.nonzero() + torch.tensor([start, 0], device=mask.device)).cpu().numpy())
    kept = [None, None]
    if keep_pairs:
        kept = [(np.concatenate(p)[:, 0], np.concatenate(p)[:, 1]) if p else None for p in pairs]
    return PrdcCounts(int(k), in_real.cpu().numpy(), in_fake.cpu().numpy(), covered.cpu().numpy(),
                      kept[0], kept[1])


def prdc(real: np.ndarray, fake: np.ndarray, *, k: int = defaults.PRDC_K,
         block_entries: int = defaults.PRDC_BLOCK_ENTRIES, device: Optional[str] = None) -> dict:
    """``{"precision", "recall", "density", "coverage"}``: prdc's ``compute_prdc(real, fake, k)``."""
    return prdc_counts(real, fake, k=k, block_entries=block_entries, device=device).as_dict()


PRDC_METRICS = ("precision", "recall", "density", "coverage")


def bootstrap_prdc(counts: PrdcCounts, *, rng: np.random.Generator,
                   n_boot: int = defaults.BOOTSTRAP,
                   confidence: float = defaults.CONFIDENCE) -> dict:
    """metric -> BootstrapEstimate for precision, recall, density and coverage, resampling the
    generated samples (the reference and its radii stay fixed, as FID's reference statistics do).

    Precision and density are means over the fakes, resampled directly. Coverage and recall ask
    whether *some* resampled fake reaches a real sample; they are read off the kept index pairs,
    with each fake's ball radius kept from the full set (a resample's duplicates would otherwise
    shrink the radii to 0). The intervals are re-centred on the full-set values and cut at 0.
    ``counts`` must come from ``prdc_counts(..., keep_pairs=True)``.
    """
    from .bootstrap import recentred_interval, resample_indices

    if counts.real_ball_pairs is None or counts.fake_ball_pairs is None:
        raise ValueError("bootstrap_prdc needs prdc_counts(..., keep_pairs=True)")
    n_real, m = len(counts.real_covered), len(counts.fake_in_real_balls)
    reps = {name: np.empty(n_boot) for name in PRDC_METRICS}
    hits = counts.fake_in_real_balls.astype(np.float64)
    for b, idx in enumerate(resample_indices(m, n_boot, rng)):
        present = np.bincount(idx, minlength=m) > 0
        reps["precision"][b] = (hits[idx] > 0).mean()
        reps["density"][b] = hits[idx].mean() / counts.k
        for name, (ri, fj) in (("coverage", counts.real_ball_pairs),
                               ("recall", counts.fake_ball_pairs)):
            reached = np.zeros(n_real, dtype=bool)
            reached[ri[present[fj]]] = True
            reps[name][b] = reached.mean()
    values = counts.as_dict()
    return {name: recentred_interval(values[name], reps[name], confidence, floor=0.0)
            for name in PRDC_METRICS}
