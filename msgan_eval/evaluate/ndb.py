"""NDB and JSD of an input against K-means bins: one fit-or-load road for ``msgan-eval ndb`` and
``compare``, and :func:`ndb` (images in, :class:`NdbResult` out). Vectors and bins files are
:mod:`msgan_eval.evaluate.ndb_data`.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Tuple, Union

from msgan_eval import __version__, defaults
from msgan_eval.errors import ParameterError, UserError
from msgan_eval.images import ImageSet
from msgan_eval.metrics.ndb import NDB_KMEANS, Bins
from msgan_eval.metrics.ndb import NdbResult as NdbTest
from msgan_eval.validate import seed as check_seed
from msgan_eval.validate import whole

from .inputs import ImagesLike, as_image_set, check_output, check_paths, describe
from .ndb_data import BinsInfo, bins_info_for, images_to_vectors, load_bins, mismatch_templates, save_bins

Log = Callable[[str], None]


def _silent(msg: str) -> None:
    pass


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def check_ndb_numbers(k, alpha, z_threshold, seed, max_dims) -> tuple:
    """(k, alpha, z_threshold, seed, max_dims) checked by the shared validator (None stays None:
    taken from a bins file or the defaults); K-means (scikit-learn's random_state) takes seeds in
    [0, 2**32): the seed is named, not the training images."""
    from msgan_eval.metrics.ndb import check_levels, check_max_dims

    alpha, z_threshold = check_levels(alpha, z_threshold)
    return (None if k is None else whole(k, "k", min=1), alpha, z_threshold,
            None if seed is None else check_seed(seed), check_max_dims(max_dims))


def _fit(train: ImageSet, *, k: int, seed: int, whiten: bool, max_dims, kmeans: str,
         quiet: bool, log: Log) -> Bins:
    from msgan_eval.metrics.ndb import fit_bins

    if len(train) < k:
        raise ParameterError(f"{{train}} {train.source}: {len(train)} training images for {{k}} {k}; "
                             "give at least as many training images as bins, or lower {k}",
                             "train", "k")
    vectors = images_to_vectors(train, quiet=quiet)
    log(f"fitting {k} K-means bins on {len(vectors)} training images ...")
    try:
        return fit_bins(vectors, k=k, seed=seed, whiten=whiten, max_dims=max_dims, kmeans=kmeans)
    except ParameterError:
        raise
    except ValueError as exc:
        raise ParameterError(f"{{train}} {train.source}: {exc} ({{k}})", "train", "k") from None


def _load_checked(bins_file, train: Optional[ImageSet], requested: Dict[str, object]):
    bins, info = load_bins(bins_file)
    if train is None:
        # The parameters given must match the file even with nothing to refit on (a silent
        # --bins 20 on a 10-bin file reported 10 bins as if 20 had been asked for).
        problems = mismatch_templates(bins, info, None, requested)
        if problems:
            raise ParameterError(f"{{bins}} {bins_file}: {'; '.join(problems)}; drop those "
                                 "parameters to use the file's, or refit with {train}",
                                 "bins", "train", *requested)
        return bins, info, "file, taken as given (no --train to check it against)"
    problems = mismatch_templates(bins, info, train, requested)
    if problems:
        raise ParameterError(f"{{bins}} {bins_file}: does not match {{train}} {train.source}: "
                             f"{'; '.join(problems)}; refit without {{bins}} (add {{save_bins}} FILE)",
                             "bins", "train", "save_bins", *requested)
    return bins, info, "file, checked against --train"


def _cached_fit(train: ImageSet, *, k: int, seed: int, kmeans: str, quiet: bool, log: Log) -> Bins:
    """Bins of ``train`` from our cache when the same file list was binned before."""
    import hashlib

    from msgan_eval.cache import store, touch
    from msgan_eval.cache_manifest import adopt
    from msgan_eval.paths import cache_dir

    # Keyed with modification times too, like the FID statistics cache: a file rewritten in
    # place with the same name and size must not reuse stale bins.
    key = hashlib.sha256(f"ndb-bins 1\n{train.fingerprint()}\n{k}\n{seed}\n".encode()).hexdigest()
    path = cache_dir() / "ndb-bins" / f"{key}.npz"
    if path.is_file():
        try:
            bins, stored = load_bins(path)
            if not mismatch_templates(bins, stored, train, {"k": k, "seed": seed}):
                log(f"reference bins from the cache ({path})")
                touch(path)           # least recently used entries are evicted first
                adopt(path, "ndb-bins")   # written by a version before the cache's manifest
                return bins
        except UserError as exc:
            log(f"ignoring cached bins: {exc}")
    bins = _fit(train, k=k, seed=seed, whiten=False, max_dims=None, kmeans=kmeans, quiet=quiet,
                log=log)
    try:
        save_bins(path, bins, bins_info_for(train))
        store(path, "ndb-bins")
    except OSError as exc:     # a read-only cache must not fail the evaluation
        log(f"could not cache the bins ({exc})")
    return bins


def fit_or_load_bins(train: Optional[ImageSet], *, bins=None, k: Optional[int] = None,
                     seed: Optional[int] = None, whiten: Optional[bool] = None, max_dims=None,
                     kmeans: str = NDB_KMEANS, use_cache: bool = False, quiet: bool = True,
                     log: Log = _silent) -> Tuple[Bins, BinsInfo, str]:
    """(bins, where they came from, a phrase saying how): the one road to NDB bins.

    ``bins`` (a bins file) is loaded and, when ``train`` is given, checked against it and against
    each of ``k``, ``seed``, ``whiten``, ``max_dims`` that is not None. Otherwise the bins are fitted
    on ``train`` (None parameters take their defaults), from the cache first with ``use_cache``.
    """
    if bins is not None:
        requested = {n: v for n, v in (("k", k), ("seed", seed), ("whiten", whiten),
                                       ("max_dims", max_dims)) if v is not None}
        return _load_checked(bins, train, requested)
    if train is None:
        raise ParameterError("ndb needs the training images ({train}) or saved bins ({bins})",
                             "train", "bins")
    info = bins_info_for(train)       # checks that the training images share one size
    k = defaults.NDB_BINS if k is None else k
    seed = defaults.SEED if seed is None else seed
    if use_cache and not whiten and max_dims is None:
        return _cached_fit(train, k=k, seed=seed, kmeans=kmeans, quiet=quiet, log=log), info, \
            "fitted on --train"
    fitted = _fit(train, k=k, seed=seed, whiten=bool(whiten), max_dims=max_dims, kmeans=kmeans,
                  quiet=quiet, log=log)
    return fitted, info, "fitted on --train"


@dataclass
class NdbResult:
    """``msgan-eval ndb --json``'s fields: the test (``.ndb``, ``.jsd``, ``.per_bin``...) and how
    the bins were made; ``to_dict()`` is that object."""

    test: NdbTest
    bins: Bins = None
    info: BinsInfo = None
    bins_source: str = ""
    kmeans: Optional[str] = None
    generated: str = ""
    train: Optional[str] = None
    bins_file: Optional[str] = None
    saved_bins: Optional[str] = None
    plot: Optional[str] = None
    skipped: int = 0
    protocol: Optional[dict] = None      # a named protocol (``--protocol msgan``) and what it set

    def __getattr__(self, name):       # ndb, jsd, ndb_ratio, k, n_train, per_bin, ...
        if name == "test":
            raise AttributeError(name)
        return getattr(self.test, name)

    def to_dict(self) -> dict:
        b = self.bins
        return {"metric": "ndb", **self.test.to_dict(), "seed": b.seed, "whiten": b.whiten,
                "max_dims": b.max_dims, "used_dims": int(len(b.used_dims)), "n_init": b.n_init,
                "max_iter": b.max_iter, "kmeans": self.kmeans, "generated": self.generated,
                "train": self.train, "bins_file": self.bins_file, "bins_source": self.bins_source,
                "train_fingerprint": self.info.fingerprint,
                "image_size": list(self.info.image_size), "saved_bins": self.saved_bins,
                "plot": self.plot, "skipped": self.skipped, "protocol": self.protocol,
                "version": __version__}


_write_bins = save_bins      # ndb()'s parameter of that name shadows the function


def ndb(x: ImagesLike, *, train: Optional[ImagesLike] = None,
        bins: "str | os.PathLike[str] | None" = None, k: Optional[int] = None,
        alpha: float = defaults.NDB_ALPHA, z_threshold: Optional[float] = None,
        seed: Optional[int] = None, whiten: Optional[bool] = None,
        max_dims: Union[int, str, None] = None, kmeans: str = NDB_KMEANS,
        save_bins: "str | os.PathLike[str] | None" = None,
        plot: "str | os.PathLike[str] | None" = None, skip_bad: bool = False,
        quiet: bool = True, protocol: Optional[str] = None) -> NdbResult:
    """NDB and JSD of the images ``x`` against K-means bins of ``train`` (or saved ``bins``).

    All images of ``x`` are pooled. Images are compared as RGB pixels in [0, 1]; images of another
    size than the training images are resized to it (PIL bilinear).

    Args:
        x: generated images (path, ImageSet, uint8 array, tensor, mapping; see ``inputs``).
        train: training images, the bins' data; optional with ``bins``, then checked against it.
        bins: a bins file written with ``save_bins``; parameters given explicitly (not None) must
            match it, the others come from it.
        k: number of bins (default 100); seed (default 0); whiten (default False); max_dims
            (default: all, or a seeded random d // 6 above 1000 dims; ``"all"`` forces all).
        alpha / z_threshold: a bin differs when p < alpha, or |z| > z_threshold when given.
        kmeans: ``fast`` (float32 screening) or ``exact`` (scikit-learn's bins exactly).
        save_bins: write the bins here for reuse; plot: a PNG of the bin proportions.
        protocol: ``"msgan"`` sets what the MSGAN authors ran (whiten on, k 100; see
            ``msgan_eval.evaluate.protocol``); a ``k`` or ``whiten`` given otherwise is refused.
    Returns:
        NdbResult: ``.ndb``, ``.jsd``, ``.ndb_ratio``, ``.k``, ``.per_bin``...; ``to_dict()`` is
        ``msgan-eval ndb --json``.

    Example:
        >>> r = msgan_eval.ndb("fake/", train="train/", k=50, save_bins="bins.npz")  # doctest: +SKIP
        >>> msgan_eval.ndb(fake_uint8, bins="bins.npz").jsd                          # doctest: +SKIP
    """
    from msgan_eval.metrics.ndb import evaluate_bins

    log = _silent if quiet else _stderr
    k, alpha, z_threshold, seed, max_dims = check_ndb_numbers(k, alpha, z_threshold, seed, max_dims)
    check_output(save_bins, "save_bins")      # before the work, not after it
    check_output(plot, "plot")
    if protocol is not None:
        from .protocol import MSGAN_NDB, settle

        settings = settle(protocol, MSGAN_NDB, {"k": k, "whiten": whiten})
        k, whiten = settings["k"], settings["whiten"]
    if plot:
        from msgan_eval.plots import require_matplotlib

        require_matplotlib()
    if train is None and bins is None:
        raise ParameterError("ndb needs the training images ({train}) or saved bins ({bins})",
                             "train", "bins")
    check_paths(train, x)             # both inputs before the K-means fit on ``train``
    train_set = as_image_set(train, param="train", skip_bad=skip_bad, quiet=quiet) \
        if train is not None else None
    gen_set = as_image_set(x, param="x", skip_bad=skip_bad, quiet=quiet)
    fitted, info, source = fit_or_load_bins(train_set, bins=bins, k=k, seed=seed, whiten=whiten,
                                            max_dims=max_dims, kmeans=kmeans, quiet=quiet, log=log)
    samples = images_to_vectors(gen_set, size=info.image_size, quiet=quiet)
    test = evaluate_bins(fitted, samples, alpha=alpha, z_threshold=z_threshold)
    if save_bins:
        _write_bins(save_bins, fitted, info)
    if plot:
        from msgan_eval.plots import plot_ndb_bins

        plot_ndb_bins(plot, test, title=f"NDB {test.ndb}/{test.k}, JSD {test.jsd:.4f}: {describe(x)}")
    skipped = len(gen_set.skipped) + (len(train_set.skipped) if train_set else 0)
    return NdbResult(test, fitted, info, source, kmeans=None if bins else kmeans,
                     generated=describe(x), train=None if train is None else describe(train),
                     bins_file=None if bins is None else os.fspath(bins),
                     saved_bins=None if save_bins is None else os.fspath(save_bins),
                     plot=None if plot is None else os.fspath(plot), skipped=skipped,
                     protocol=_protocol_record(protocol))


def _protocol_record(protocol: Optional[str]) -> Optional[dict]:
    from .protocol import MSGAN_NDB, record

    return record(protocol, **MSGAN_NDB) if protocol else None
