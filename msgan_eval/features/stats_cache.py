"""FID statistics files (pytorch-fid's ``.npz`` format) and the on-disk cache of reference sets.

A statistics file holds ``mu`` (d,) and ``sigma`` (d, d) like the ``.npz`` files pytorch-fid reads
(``compute_statistics_of_path`` opens them with ``np.load`` and takes ``f['mu']``, ``f['sigma']``)
and writes (``np.savez_compressed(mu=..., sigma=...)``), plus metadata keys ``n``, ``dims``,
``weights_sha256`` and ``version`` that pytorch-fid ignores. Files without the metadata (pytorch-fid's
own) load here too; their ``n`` and weights are then unknown.

The cache keeps the statistics of an image set under a key made of ``ImageSet.fingerprint()`` (file
list, sizes, modification times), the weights' SHA-256, ``dims`` and the extraction path, so a second
``fid`` against the same reference folder skips its extraction.
"""
from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from .. import __version__
from ..errors import UserError
from ..fileio import save_npz_atomic
from ..paths import cache_dir

CACHE_FORMAT = 2     # bump when the features or the file layout change meaning (2: FastFIDInception)


@dataclass
class FidStats:
    mu: np.ndarray
    sigma: np.ndarray
    n: Optional[int]                  # None for files written by pytorch-fid
    dims: int
    weights_sha256: Optional[str]     # None when unknown (pytorch-fid's files)
    source: str = ""                  # where the statistics came from (folder or file)
    cached: bool = False


def save_fid_stats(path: "str | Path", stats: FidStats) -> None:
    """Write ``stats`` atomically in pytorch-fid's format plus our metadata keys."""
    save_npz_atomic(path, mu=np.asarray(stats.mu, dtype=np.float64),
                    sigma=np.asarray(stats.sigma, dtype=np.float64),
                    n=np.int64(-1 if stats.n is None else stats.n), dims=np.int64(stats.dims),
                    weights_sha256=np.str_(stats.weights_sha256 or ""), version=np.str_(__version__))


def _bad_stats(path: Path, why: str) -> UserError:
    return UserError(f"{path}: not a usable FID statistics file ({why}); re-create it with "
                     "`msgan-eval stats IMAGES -o FILE.npz`")


def load_fid_stats(path: "str | Path") -> FidStats:
    """Read ours or pytorch-fid's ``.npz`` statistics; UserError naming the file if unusable."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            files = set(data.files)
            if not {"mu", "sigma"} <= files:
                raise _bad_stats(path, f"keys {sorted(files)}, expected mu and sigma")
            mu = np.asarray(data["mu"], dtype=np.float64)
            sigma = np.asarray(data["sigma"], dtype=np.float64)
            n = int(data["n"]) if "n" in files else -1
            sha = str(data["weights_sha256"]) if "weights_sha256" in files else ""
    except UserError:
        raise
    except Exception as exc:
        raise _bad_stats(path, f"{type(exc).__name__}: {str(exc)[:120]}") from None
    if mu.ndim != 1 or sigma.shape != (mu.size, mu.size):
        raise _bad_stats(path, f"mu has shape {mu.shape} and sigma {sigma.shape}; expected (d,) "
                               "and (d, d)")
    if not (np.isfinite(mu).all() and np.isfinite(sigma).all()):
        raise _bad_stats(path, "it contains NaN or infinity")
    return FidStats(mu, sigma, n if n >= 0 else None, int(mu.size), sha or None, str(path))


def cache_key(fingerprint: str, weights_sha256: str, dims: int, fast: bool) -> str:
    text = f"fid-stats {CACHE_FORMAT}\n{fingerprint}\n{weights_sha256}\n{dims}\n" \
           f"{'folded' if fast else 'reference'}\n"
    return hashlib.sha256(text.encode()).hexdigest()


def cache_path(key: str) -> Path:
    return cache_dir() / "fid-stats" / f"{key}.npz"


def read_cached_stats(key: str, source: str) -> Optional[FidStats]:
    """The cached statistics for ``key``, or None (a corrupt entry is reported and ignored)."""
    path = cache_path(key)
    if not path.is_file():
        return None
    try:
        stats = load_fid_stats(path)
    except UserError as exc:
        print(f"msgan-eval: warning: ignoring cached statistics: {exc}", file=sys.stderr)
        return None
    stats.source, stats.cached = source, True
    return stats


def write_cached_stats(key: str, stats: FidStats) -> None:
    try:
        save_fid_stats(cache_path(key), stats)
    except OSError as exc:   # a read-only cache must not fail the command
        print(f"msgan-eval: warning: could not cache statistics ({exc})", file=sys.stderr)
