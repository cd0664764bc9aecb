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

prdc holds three full float64 distance matrices (50k x 50k: 20 GB each). Here squared distances
are screened in float32 (one GEMM per block, on features shifted to the reference's mean) and
reduced tile by tile: top-k for the radii, counts and any for the metrics. The within-set
matrices are symmetric, so each square tile serves its rows and, transposed, its columns: half
their GEMM work. Each tile's rows are shifted and rounded to float32 when the tile is computed
(n^2 d / tile side element operations in all, against the GEMMs' n^2 d multiply-adds), so memory
beyond the features is the tiles and a few numbers per sample: flat in n, not n^2 nor a copy.

The counts are prdc's exactly: each screened value carries a worst-case float32 rounding bound,
and the few pairs that fall within it of a radius are recomputed in float64 as differences (prdc's
sklearn path also works in float64, on float32 features too), so every decision is a float64 one.
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Iterator, List, Optional, Tuple

import numpy as np
import torch

from msgan_eval import defaults

from .tensors import shared_tensor


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


def _tile_side(block_entries: int) -> int:
    """Side of the square tiles the within-set distances are computed in."""
    return max(16, math.isqrt(block_entries) // 2)


class _Points:
    """One feature set as given (exact checks, in float64 arithmetic), its rows centred in float32
    on demand (fast screening, :meth:`centred32`), and their squared norms."""

    def __init__(self, a: torch.Tensor, centre: torch.Tensor, chunk: int = 4096):
        # The exact checks use the features as given (float32 features stay float32 in memory:
        # half the bytes to gather); the float32 screen uses them shifted by a common centre
        # (distances do not change), whose smaller norms shrink its rounding. No shifted copy of
        # the set is kept: each tile shifts its own rows (the same float32 values every time).
        self.x, self.centre = a, centre
        self.sq64 = torch.empty(len(a), dtype=torch.float64, device=a.device)
        for s in range(0, len(a), chunk):
            centred = self._centred64(slice(s, s + chunk))
            self.sq64[s:s + chunk] = (centred * centred).sum(dim=1)
        self.sq32 = self.sq64.float()
        # Worst-case rounding of the float32 |x|^2 + |y|^2 - 2 x.y, u = 2^-24, any summation
        # order: the d-term dot product d u sum|x_k y_k| (doubled by the -2), the features'
        # conversion 2 u sum|x_k y_k| (doubled), the norms' conversion, their sum and the final
        # add u each; with 2 sum|x_k y_k| <= |x|^2 + |y|^2 that is (d + 5) u (|x|^2 + |y|^2)
        # to first order. A quarter more covers the second-order terms with room to spare.
        self.gamma = 1.25 * (a.shape[1] + 5) * 2.0 ** -24

    def __len__(self) -> int:
        return len(self.x)

    def _centred64(self, rows: slice) -> torch.Tensor:
        return self.x[rows].double() - self.centre

    def centred32(self, rows: slice) -> torch.Tensor:
        """``x[rows] - centre``, computed in float64 and rounded to float32."""
        return self._centred64(rows).float()


def _screen_d2(a: _Points, rows: slice, a32: torch.Tensor, b: _Points, cols: slice,
               b32: torch.Tensor) -> torch.Tensor:
    """float32 squared distances of ``a[rows]`` to ``b[cols]``, given their centred float32 rows
    (one GEMM: the fast part)."""
    return torch.addmm(a.sq32[rows, None] + b.sq32[None, cols], a32, b32.T, alpha=-2.0)


def _exact_d2(a: _Points, i: torch.Tensor, b: _Points, j: torch.Tensor,
              chunk: int = 1024) -> torch.Tensor:
    """float64 squared distances of the pairs (a[i], b[j]), as differences (exact to rounding)."""
    out = torch.empty(len(i), dtype=torch.float64, device=a.x.device)
    for s in range(0, len(i), chunk):
        diff = a.x[i[s:s + chunk]].double() - b.x[j[s:s + chunk]].double()
        out[s:s + chunk] = torch.einsum("ij,ij->i", diff, diff)
    return out


def _inside_both(d2: torch.Tensor, row_bound: torch.Tensor, col_bound: torch.Tensor,
                 row_tol: torch.Tensor, col_tol: torch.Tensor, a: _Points, rows: slice,
                 b: _Points, cols: slice) -> Tuple[torch.Tensor, torch.Tensor]:
    """``exact d2 < row_bound[:, None]`` and ``exact d2 < col_bound[None, :]`` (float64 bounds)
    for a screened float32 block. float32 decides wherever it is farther than the tolerance
    (per row, resp. per column: at least the pair's rounding bound) from a bound; the pairs within
    it, for either test, are recomputed in float64 once."""
    rb, cb = row_bound.float(), col_bound.float()
    rt = row_tol + rb.abs() * 2.0 ** -23                # + the bound's own rounding to float32
    ct = col_tol + cb.abs() * 2.0 ** -23
    in_row = d2 < (rb - rt)[:, None]
    in_col = d2 < (cb - ct)[None, :]
    unsure = (d2 <= (rb + rt)[:, None]) & ~in_row
    unsure |= (d2 <= (cb + ct)[None, :]) & ~in_col
    i, j = unsure.nonzero(as_tuple=True)
    if len(i):
        exact = _exact_d2(a, i + rows.start, b, j + cols.start)
        in_row[i, j] = exact < row_bound[i]
        in_col[i, j] = exact < col_bound[j]
    return in_row, in_col


def _keep_smallest(vals: torch.Tensor, cols: torch.Tensor, rows: slice, d2: torch.Tensor,
                   offset: int) -> None:
    """Merge a block's smallest screened distances into the running ones of ``rows``."""
    v, j = d2.topk(min(vals.shape[1], d2.shape[1]), dim=1, largest=False)
    both_v = torch.cat([vals[rows], v], dim=1)
    both_j = torch.cat([cols[rows], j + offset], dim=1)
    best, pick = both_v.topk(vals.shape[1], dim=1, largest=False)
    vals[rows] = best
    cols[rows] = both_j.gather(1, pick)


def _self_candidates(p: _Points, take: int, tile: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """The ``take`` smallest screened squared distances of every row of ``p`` to the set (self
    included), ascending, and their columns. The distance matrix is symmetric: each tile (I, J),
    J >= I, is computed once and serves the rows of I and, transposed, those of J (half the GEMM
    work of prdc's full matrix)."""
    n, dev = len(p), p.x.device
    vals = torch.full((n, take), float("inf"), dtype=torch.float32, device=dev)
    cols = torch.zeros((n, take), dtype=torch.int64, device=dev)
    for i0 in range(0, n, tile):
        rows = slice(i0, min(i0 + tile, n))
        rows32 = p.centred32(rows)
        for j0 in range(i0, n, tile):
            other = slice(j0, min(j0 + tile, n))
            d2 = _screen_d2(p, rows, rows32, p, other, rows32 if j0 == i0 else p.centred32(other))
            _keep_smallest(vals, cols, rows, d2, j0)
            if j0 != i0:
                _keep_smallest(vals, cols, other, d2.T, i0)
    return vals, cols


def _radii2_rows(p: _Points, screened: torch.Tensor, idx: torch.Tensor, rows: slice,
                 k: int) -> torch.Tensor:
    """Squared k-NN radii of ``p[rows]`` (the (k+1)-th smallest exact distance, self included)
    from the rows' smallest screened values (ascending) and their columns.

    With s the screened values of a row and tol its rounding bound, every true value lies within
    tol of its screened one, so the true (k+1)-th lies within tol of s[k]. Points screened more
    than 2 tol below s[k] are surely nearer, those more than 2 tol above surely farther; only the
    band between (usually s[k] alone) is recomputed in float64. A row whose band reaches past its
    screened candidates (rare) is recomputed in full.
    """
    s = screened.double()
    tol = (p.gamma * (p.sq64[rows] + p.sq64.max()))[:, None]
    kth = s[:, k:k + 1]
    below = (s < kth - 2 * tol).sum(dim=1)                       # surely inside the radius
    band = (s - kth).abs() <= 2 * tol
    bi, bj = band.nonzero(as_tuple=True)
    exact = torch.full(s.shape, float("inf"), dtype=torch.float64, device=s.device)
    exact[bi, bj] = _exact_d2(p, bi + rows.start, p, idx[bi, bj])
    r2 = exact.sort(dim=1).values.gather(1, (k - below)[:, None]).squeeze(1)
    if s.shape[1] < len(p):
        everyone = torch.arange(len(p), device=idx.device)
        for r in band[:, -1].nonzero(as_tuple=True)[0].tolist():
            full = _exact_d2(p, torch.full_like(everyone, rows.start + r), p, everyone)
            r2[r] = full.kthvalue(k + 1).values
    return r2


def nearest_neighbour_radii(x: torch.Tensor, k: int,
                            block_entries: int = defaults.PRDC_BLOCK_ENTRIES) -> torch.Tensor:
    """Distance of each row of ``x`` to its k-th nearest other row (prdc's
    ``compute_nearest_neighbour_distances``: the (k+1)-th smallest, self included), float64."""
    x = _as_tensor(x, None)
    return _radii2(_Points(x, _mean64(x)), k, block_entries).sqrt()


def _radii2(p: _Points, k: int, block_entries: int, spare: int = 4) -> torch.Tensor:
    if len(p) < k + 1:
        raise ValueError(f"k = {k} needs at least {k + 1} samples in each set, got {len(p)}")
    screened, idx = _self_candidates(p, min(len(p), k + 1 + spare), _tile_side(block_entries))
    out = torch.empty(len(p), dtype=torch.float64, device=p.x.device)
    step = _rows_per_block(screened.shape[1], block_entries)
    for start in range(0, len(p), step):
        rows = slice(start, min(start + step, len(p)))
        out[rows] = _radii2_rows(p, screened[rows], idx[rows], rows, k)
    return out


@contextlib.contextmanager
def _full_float32(device: torch.device) -> Iterator[None]:
    """The screen's rounding bound assumes float32 products: no TF32 on a GPU, whatever the
    caller set (``torch.set_float32_matmul_precision``)."""
    if device.type != "cuda":
        yield
        return
    saved = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("highest")
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(saved)


def _mean64(x: torch.Tensor, chunk: int = 4096) -> torch.Tensor:
    """Column means in float64, summed in row chunks (no float64 copy of a float32 set)."""
    total = torch.zeros(x.shape[1], dtype=torch.float64, device=x.device)
    for s in range(0, len(x), chunk):
        total += x[s:s + chunk].double().sum(dim=0)
    return total / len(x)


def _as_tensor(a, device: Optional[str]) -> torch.Tensor:
    """float32 and float64 features as they are (no copy); anything else as float64."""
    t = shared_tensor(a, device=device)
    if t.dtype not in (torch.float32, torch.float64):
        t = t.double()
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
    with _full_float32(x.device):
        return _counts(x, y, k, block_entries, keep_pairs)


def _counts(x: torch.Tensor, y: torch.Tensor, k: int, block_entries: int,
            keep_pairs: bool) -> PrdcCounts:
    centre = _mean64(x)        # of the reference: the screen's rounding grows with the norms
    r, f = _Points(x, centre), _Points(y, centre)
    real_r2 = _radii2(r, k, block_entries)
    fake_r2 = _radii2(f, k, block_entries)
    # Per-row and per-column tolerances (each pair's bound gamma (|x|^2 + |y|^2) at its largest
    # over the other side): two vectors instead of a block-sized matrix, a few more rechecks.
    real_tol = (r.gamma * (r.sq32 + f.sq32.max()))
    fake_tol = (r.gamma * (f.sq32 + r.sq32.max()))
    in_real = torch.zeros(len(f), dtype=torch.int64, device=x.device)
    in_fake = torch.zeros(len(r), dtype=torch.bool, device=x.device)
    covered = torch.zeros(len(r), dtype=torch.bool, device=x.device)
    pairs: List[List[np.ndarray]] = [[], []]
    width = min(len(f), max(1, math.isqrt(block_entries)))       # square-ish tiles: few re-shifts
    step = _rows_per_block(width, block_entries)
    for start in range(0, len(r), step):                 # real rows x fake columns, tile by tile
        rows = slice(start, min(start + step, len(r)))
        rows32 = r.centred32(rows)
        for c0 in range(0, len(f), width):
            cols = slice(c0, min(c0 + width, len(f)))
            d2 = _screen_d2(r, rows, rows32, f, cols, f.centred32(cols))
            inside, in_fake_ball = _inside_both(d2, real_r2[rows], fake_r2[cols], real_tol[rows],
                                                fake_tol[cols], r, rows, f, cols)
            del d2
            in_real[cols] += inside.sum(dim=0)
            covered[rows] |= inside.any(dim=1)     # prdc: min distance < radius, i.e. any inside
            in_fake[rows] |= in_fake_ball.any(dim=1)
            if keep_pairs:
                at = torch.tensor([start, c0], device=inside.device)
                for out, mask in zip(pairs, (inside, in_fake_ball)):
                    out.append((mask.nonzero() + at).cpu().numpy())
    kept = [None, None]
    if keep_pairs:              # (real, fake) pairs in row-major order, whatever the tiling
        both = [np.concatenate(p) if p else None for p in pairs]
        kept = [None if b is None else tuple(b[np.lexsort((b[:, 1], b[:, 0]))].T) for b in both]
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
