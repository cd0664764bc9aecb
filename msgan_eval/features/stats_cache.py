"""FID statistics files (pytorch-fid's ``.npz`` format) and the on-disk cache of reference sets.

A statistics file holds ``mu`` (d,) and ``sigma`` (d, d) like the ``.npz`` files pytorch-fid reads
(``compute_statistics_of_path`` opens them with ``np.load`` and takes ``f['mu']``, ``f['sigma']``)
and writes (``np.savez_compressed(mu=..., sigma=...)``), plus metadata keys ``n``, ``dims``,
``weights_sha256``, ``preset`` (whose preprocessing, :mod:`msgan_eval.features.preprocess`),
``features`` (the network: ``inception``, ``dinov2-vit-l14``, ...) and ``version`` that pytorch-fid
ignores. Files without the metadata (pytorch-fid's own) load here too;
their ``n``, weights and preset are then unknown.

The cache keeps the statistics of an image set under a key made of ``ImageSet.fingerprint()`` (file
list, sizes, modification times), the weights' SHA-256, ``dims``, the preset and the extraction path, so a second
``fid`` against the same reference folder skips its extraction. Only reference sets are meant to
be cached (:func:`should_cache`): generated sets change with every model. The cache is capped in
size with least-recently-used eviction (:mod:`msgan_eval.cache`).

Every file is validated on load and before it is written (:func:`stats_problem`): ``mu`` finite of
shape (d,), ``sigma`` finite, symmetric and positive semi-definite within rounding, of shape (d, d),
d one of the feature network's sizes (Inception: 64, 192, 768, 2048) and equal to the stored ``dims``. A broken ``sigma`` would
otherwise give a plausible FID (even 0.0) that every ``max`` gate passes.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from msgan_eval import __version__, defaults
from msgan_eval.cache import store, touch
from msgan_eval.cache_manifest import adopt
from msgan_eval.errors import UserError
from msgan_eval.fileio import save_npz_atomic
from msgan_eval.metrics.fid import covariance_problem
from msgan_eval.paths import cache_dir
from msgan_eval.progress import warn

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
    preset: Optional[str] = None      # whose preprocessing; None when unknown (pytorch-fid's files)
    features: Optional[str] = None    # the feature network (features/networks.py); None: Inception


# Inception pool3 features are averages of ReLU outputs, single digits in practice; a mean
# beyond 1e100 (or a covariance beyond its square) cannot come from images, and its distance
# overflows float64 (mu = 1e200 printed `"fid": null` with exit 0).
MAX_ABS_MEAN = 1e100


def feature_dims(features: Optional[str]) -> tuple:
    """The feature sizes a network gives (Inception: its four blocks)."""
    from .networks import NETWORKS

    net = NETWORKS.get(features or "")
    if features == "vgg16-fc2":
        return (4096,)
    return (net.dims,) if net is not None else defaults.FID_DIMS_CHOICES


def stats_problem(mu: np.ndarray, sigma: np.ndarray, dims: Optional[int] = None,
                  features: Optional[str] = None) -> Optional[str]:
    """Why (mu, sigma) are not usable FID statistics of ``features``, or None when they are."""
    if mu.ndim != 1 or sigma.shape != (mu.size, mu.size):
        return f"mu has shape {mu.shape} and sigma {sigma.shape}; expected (d,) and (d, d)"
    if mu.size not in feature_dims(features):
        return (f"d = {mu.size}; {features or 'Inception'} features have "
                f"{', '.join(map(str, feature_dims(features)))} dimensions")
    if dims is not None and dims != mu.size:
        return f"its dims entry says {dims} but mu has {mu.size} values"
    if not (np.isfinite(mu).all() and np.isfinite(sigma).all()):
        return "it contains NaN or infinity"
    if float(np.abs(mu).max()) > MAX_ABS_MEAN or float(np.abs(sigma).max()) > MAX_ABS_MEAN ** 2:
        return (f"its values reach {max(np.abs(mu).max(), np.abs(sigma).max()):.3g}, beyond any "
                "Inception features (the distance would overflow)")
    problem = covariance_problem(sigma)       # the tolerances frechet_distance applies
    return None if problem is None else f"sigma: {problem}"


def save_fid_stats(path: "str | Path", stats: FidStats) -> None:
    """Write ``stats`` atomically in pytorch-fid's format plus our metadata keys.

    Statistics that fail :func:`stats_problem` (NaN features from damaged weights, say) are refused
    with a UserError and nothing is written.
    """
    problem = stats_problem(np.asarray(stats.mu, dtype=np.float64),
                            np.asarray(stats.sigma, dtype=np.float64), stats.dims, stats.features)
    if problem is not None:
        raise UserError(f"statistics of {stats.source or 'the images'} are unusable ({problem}); "
                        f"nothing written to {path}; check the Inception weights and the images")
    save_npz_atomic(path, mu=np.asarray(stats.mu, dtype=np.float64),
                    sigma=np.asarray(stats.sigma, dtype=np.float64),
                    n=np.int64(-1 if stats.n is None else stats.n), dims=np.int64(stats.dims),
                    weights_sha256=np.str_(stats.weights_sha256 or ""),
                    preset=np.str_(stats.preset or ""),
                    features=np.str_(stats.features or "inception"), version=np.str_(__version__))


def _bad_stats(path: Path, why: str) -> UserError:
    return UserError(f"{path}: not a usable FID statistics file ({why}); re-create it with "
                     "`msgan-eval stats IMAGES -o FILE.npz`")


def load_fid_stats(path: "str | Path") -> FidStats:
    """Read ours or pytorch-fid's ``.npz`` statistics; UserError naming the file if unusable."""
    path = Path(path)
    if path.exists() and not path.is_file():      # a FIFO would block np.load forever
        raise _bad_stats(path, "not a regular file")
    try:
        with np.load(path, allow_pickle=False) as data:
            files = set(data.files)
            if not {"mu", "sigma"} <= files:
                raise _bad_stats(path, f"keys {sorted(files)}, expected mu and sigma")
            mu = np.asarray(data["mu"], dtype=np.float64)
            sigma = np.asarray(data["sigma"], dtype=np.float64)
            n = int(data["n"]) if "n" in files else -1
            dims = int(data["dims"]) if "dims" in files else None
            sha = str(data["weights_sha256"]) if "weights_sha256" in files else ""
            preset = str(data["preset"]) if "preset" in files else ""
            features = str(data["features"]) if "features" in files else ""
    except UserError:
        raise
    except Exception as exc:
        raise _bad_stats(path, f"{type(exc).__name__}: {str(exc)[:120]}") from None
    features = None if features in ("", "inception") else features
    problem = stats_problem(mu, sigma, dims, features)
    if problem is None and (n in (0, 1) or n < -1):
        problem = f"it says it was computed from n = {n} images (FID needs at least 2)"
    if problem is not None:
        raise _bad_stats(path, problem)
    return FidStats(mu, sigma, n if n >= 0 else None, int(mu.size), sha or None, str(path),
                    preset=preset or None, features=features)


def cache_key(fingerprint: str, weights_sha256: str, dims: int, fast: bool,
              preset: str = defaults.FID_PRESET, features: Optional[str] = None) -> str:
    text = f"fid-stats {CACHE_FORMAT}\n{fingerprint}\n{weights_sha256}\n{dims}\n" \
           f"{'folded' if fast else 'reference'}\n"
    if preset != defaults.FID_PRESET:    # the default's keys are those from before presets
        text += f"preset {preset}\n"
    if features not in (None, "inception"):   # Inception's keys are those from before #25
        text += f"features {features}\n"
    return hashlib.sha256(text.encode()).hexdigest()


def cache_path(key: str) -> Path:
    return cache_dir() / "fid-stats" / f"{key}.npz"


def should_cache(is_reference: bool, cache_generated: bool = defaults.CACHE_GENERATED) -> bool:
    """Whether a set's statistics go to the cache: reference sets, generated ones only if asked
    (each new sample folder would add 33.5 MB that is never read again)."""
    return is_reference or cache_generated


def read_cached_stats(key: str, source: str, dims: Optional[int] = None,
                      weights_sha256: Optional[str] = None,
                      preset: Optional[str] = None,
                      features: Optional[str] = None) -> Optional[FidStats]:
    """The cached statistics for ``key``, or None (a corrupt or mismatched entry is reported and
    ignored: it is rewritten by this run). ``dims`` and ``weights_sha256``, when given, must be the
    entry's own: the key is a hash of them, so a mismatch means a damaged or foreign file."""
    path = cache_path(key)
    if not path.is_file():
        return None
    try:
        stats = load_fid_stats(path)
        if dims is not None and stats.dims != dims:
            raise _bad_stats(path, f"it holds {stats.dims} dimensions, its key {dims}")
        if weights_sha256 is not None and stats.weights_sha256 not in (None, weights_sha256):
            raise _bad_stats(path, "it was made with other Inception weights than its key says")
        # Entries from before presets carry none: they are the default's.
        if preset is not None and (stats.preset or defaults.FID_PRESET) != preset:
            raise _bad_stats(path, f"it was made with the {stats.preset} preset, its key {preset}")
        if (stats.features or "inception") != (features or "inception"):
            raise _bad_stats(path, f"it holds {stats.features or 'inception'} features, its key "
                                   f"{features or 'inception'}")
    except UserError as exc:
        warn(f"ignoring cached statistics: {exc}")
        return None
    touch(path)
    adopt(path, "fid-stats")        # written by a version before the cache's manifest
    stats.source, stats.cached = source, True
    stats.preset = preset or stats.preset
    return stats


def write_cached_stats(key: str, stats: FidStats) -> None:
    """Cache ``stats`` (then evict the least recently used entries over the cap); an I/O error
    or unusable statistics become a warning: the cache must never fail the command."""
    path = cache_path(key)
    try:
        save_fid_stats(path, stats)
        store(path, "fid-stats")
    except (OSError, UserError) as exc:
        warn(f"could not cache statistics ({exc})")
