"""Images to NDB sample vectors, and NDB bins files.

Vectors: every image comes through the one image road (:func:`msgan_eval.images.scan_images`) as
RGB uint8, so a grey image is three equal channels (``PIL.Image.convert("RGB")``) and every set
has 3 channels; a vector is the ``(H, W, 3)`` pixels flattened in that order, as float64 / 255 in
[0, 1] (the reference flattens its [0, 1] float images the same way). The training images must
share one size. Generated images of another size are resized to it with PIL's bilinear filter
(``Image.resize((W, H), Image.BILINEAR)``, which antialiases when shrinking), so a model that
samples at 64x64 can be judged against 32x32 training bins.

Bins files (``.npz``, written atomically) hold the centres, training counts, used dimensions,
whitening statistics, the parameters, the training image size and a fingerprint of the training
file list (``ImageSet.fingerprint(with_mtime=False)``: names and byte sizes, so a copy to another
machine still matches). The reference cached bins under a name keyed only by K, so a changed
training set silently reused stale bins; here a mismatch is refused.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional, Tuple

import numpy as np
from PIL import Image

from . import __version__
from .errors import UserError
from .fileio import save_npz_atomic
from .images import ImageSet
from .metrics.ndb import Bins
from .progress import progress

BINS_FORMAT = "msgan-eval-ndb-bins/1"
_ARRAYS = ("centers", "counts", "used_dims", "mean", "std")


def training_size(train: ImageSet) -> Tuple[int, int]:
    """(H, W) shared by all training images, or a UserError naming two that differ."""
    return train.common_size(hint="NDB bins need one training resolution; resize the training "
                                  "images to one size first")


def images_to_vectors(image_set: ImageSet, like: Optional[ImageSet] = None, *,
                      size: Optional[Tuple[int, int]] = None, quiet: bool = True) -> np.ndarray:
    """(N, H*W*3) float64 in [0, 1]; images brought to the size of ``like`` (or ``size``).

    Without ``like`` and ``size`` the set itself must have one size (it is a training set).
    """
    if like is not None:
        size = training_size(like)
    elif size is None:
        size = training_size(image_set)
    h, w = size
    out = np.empty((len(image_set), h * w * 3), dtype=np.float64)
    for i in progress(range(len(image_set)), desc=f"reading {image_set.source.name}", quiet=quiet,
                      unit="img"):
        img = image_set[i]
        if img.shape[:2] != (h, w):
            img = np.asarray(Image.fromarray(img).resize((w, h), Image.BILINEAR))
        out[i] = img.reshape(-1)
    out /= 255.0
    return out


@dataclass(frozen=True)
class BinsInfo:
    """What a bins file says about where its bins came from."""

    fingerprint: str
    image_size: Tuple[int, int]
    train_source: str
    version: str


def save_bins(path: "str | os.PathLike[str]", bins: Bins, info: BinsInfo) -> None:
    meta = {"format": BINS_FORMAT, "k": bins.k, "d": bins.d, "seed": bins.seed,
            "whiten": bins.whiten, "max_dims": bins.max_dims, "n_init": bins.n_init,
            "max_iter": bins.max_iter, "fingerprint": info.fingerprint,
            "image_size": list(info.image_size), "train_source": info.train_source,
            "version": info.version}
    save_npz_atomic(path, meta=np.array(json.dumps(meta)),
                    **{name: getattr(bins, name) for name in _ARRAYS})


def _bad_bins_file(path: Path, why: str) -> UserError:
    return UserError(f"{path}: not a usable NDB bins file ({why}); re-create it with "
                     "`msgan-eval ndb GEN --train TRAIN --save-bins FILE`")


def load_bins(path: "str | os.PathLike[str]") -> Tuple[Bins, BinsInfo]:
    """A bins file's bins and provenance; UserError naming the file when anything in it is off."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such bins file (given with --bins-file)")
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in ("meta", *_ARRAYS) if k not in data.files]
            if missing:
                raise _bad_bins_file(path, "missing " + ", ".join(missing))
            meta = json.loads(str(data["meta"]))
            arrays = {name: np.asarray(data[name]) for name in _ARRAYS}
        if not isinstance(meta, dict):
            raise _bad_bins_file(path, "its metadata is not a JSON object")
        if meta.get("format") != BINS_FORMAT:
            raise _bad_bins_file(path, f"format {meta.get('format')!r}, expected {BINS_FORMAT!r}")
        h, w = (int(v) for v in meta["image_size"])
        max_dims = meta["max_dims"]
        if not (max_dims is None or max_dims == "all" or type(max_dims) is int):
            raise ValueError(f"max_dims {max_dims!r}")
        bins = Bins(centers=arrays["centers"].astype(np.float64),
                    counts=arrays["counts"].astype(np.int64),
                    used_dims=arrays["used_dims"].astype(np.int64),
                    mean=arrays["mean"].astype(np.float64), std=arrays["std"].astype(np.float64),
                    whiten=bool(meta["whiten"]), seed=int(meta["seed"]), max_dims=max_dims,
                    n_init=int(meta["n_init"]), max_iter=int(meta["max_iter"]))
        info = BinsInfo(fingerprint=str(meta["fingerprint"]), image_size=(h, w),
                        train_source=str(meta["train_source"]), version=str(meta["version"]))
        problem = _bins_problem(bins, meta, h, w)
    except UserError:
        raise
    except KeyError as exc:
        raise _bad_bins_file(path, f"its metadata lacks {exc}") from None
    except Exception as exc:
        raise _bad_bins_file(path, f"{type(exc).__name__}: {exc}") from None
    if problem is not None:
        raise _bad_bins_file(path, problem)
    return bins, info


def _bins_problem(bins: Bins, meta: dict, h: int, w: int) -> Optional[str]:
    """Why the arrays and parameters of a bins file disagree (None when they agree)."""
    c = bins.centers
    if c.ndim != 2 or min(c.shape) < 1 or h < 1 or w < 1:
        return f"centres of shape {c.shape} for {w}x{h} images"
    if bins.k != meta["k"] or bins.d != meta["d"] or bins.d != h * w * 3 \
            or bins.counts.shape != (bins.k,) or bins.mean.shape != (bins.d,) \
            or bins.std.shape != (bins.d,) or bins.used_dims.ndim != 1 or not bins.used_dims.size:
        return "its arrays and parameters disagree"
    if not all(np.isfinite(a).all() for a in (c, bins.mean, bins.std)):
        return "its centres or whitening statistics contain NaN or infinity"
    if (bins.std <= 0).any() or (bins.counts < 0).any() or bins.counts.sum() < 1:
        return "it holds a non-positive std or bin counts that are negative or all zero"
    used = bins.used_dims
    if used.min() < 0 or used.max() >= bins.d or len(np.unique(used)) != len(used):
        return f"its used dimensions are not distinct indices below {bins.d}"
    return None


def bins_mismatches(bins: Bins, info: BinsInfo, train: ImageSet,
                    requested: Dict[str, object]) -> list:
    """Why ``bins`` were not fitted on ``train`` with the ``requested`` parameters ([] if they were).

    ``requested`` maps parameter names (k, seed, whiten, max_dims) to the values the user asked
    for explicitly; parameters left at their defaults are taken from the file.
    """
    problems = []
    if info.fingerprint != train.fingerprint(with_mtime=False):
        problems.append(f"it was fitted on a different training file list ({info.train_source})")
    options = {"k": "--bins", "seed": "--seed", "whiten": "--whiten", "max_dims": "--max-dims"}
    for name, value in requested.items():
        stored = bins.k if name == "k" else getattr(bins, name)
        if stored != value:
            shown = ["auto (all, or d // 6 above 1000)" if v is None else v for v in (stored, value)]
            problems.append(f"it was fitted with {options.get(name, name)} {shown[0]}, "
                            f"not {shown[1]}")
    return problems


def bins_info_for(train: ImageSet) -> BinsInfo:
    return BinsInfo(fingerprint=train.fingerprint(with_mtime=False), image_size=training_size(train),
                    train_source=str(train.source), version=__version__)
