"""The degenerate-sample inspector (``msgan-eval inspect``): per-image flags calibrated on a
reference set of real images.

``blank``, ``saturated`` and ``noise`` are defects of the image itself (pixel statistics beyond
the reference's 0.1 / 99.9 percentiles: :mod:`msgan_eval.metrics.flags`); only they count in
``degenerate_fraction``. Beside it, and not in it: ``duplicate`` (a diversity failure: exact or
near copies within a condition), ``copy-of-train`` (memorisation, with ``train``) and
``unrealistic`` (the realism score of Kynkaanniemi et al. 2019 below 1, in the feature space of
precision/recall: :mod:`msgan_eval.metrics.realism`; a few percent of held-out real images
fall there too, see docs/inspect.md).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import numpy as np

from msgan_eval import __version__, defaults
from msgan_eval.errors import ParameterError
from msgan_eval.images import ImageSet
from msgan_eval.metrics import flags as fl
from msgan_eval.metrics.duplicates import pixel_hash
from msgan_eval.validate import real, whole

from .features import check_inception_weights_used
from .inputs import ImagesLike, check_output, check_paths, describe
from .inspect_steps import (
    Features,
    check_prune,
    check_reference,
    gate_rule,
    pixel_flags,
    realism_gate,
    resolve_features,
)

FLAGS = ("blank", "saturated", "noise", "duplicate", "copy-of-train", "unrealistic")
DEGENERATE = ("blank", "saturated", "noise")
# The fractions beside degenerate_fraction, in the JSON: key -> flag
SIDE_FRACTIONS = {"duplicate_fraction": "duplicate", "copy_fraction": "copy-of-train",
                  "unrealistic_fraction": "unrealistic"}


@dataclass
class InspectResult:
    """``msgan-eval inspect --json``'s fields; ``to_dict()`` is that object.

    ``matrix[i, j]``: image i carries flag ``FLAGS[j]`` (False where the flag was not computed:
    see ``not_computed``). ``conditions[i]`` is image i's condition, so per-condition fractions
    and bootstraps over images are read off the rows.
    """

    matrix: np.ndarray                       # (n, len(FLAGS)) bool
    paths: List[str]
    conditions: List[str]
    thresholds: Dict[str, dict]
    not_computed: Dict[str, str]             # flag -> why
    statistics: Dict[str, np.ndarray]        # pixel statistic -> (n,)
    realism: Optional[np.ndarray]            # (n,) realism scores; None without features
    k: int
    prune_percentile: Optional[float]
    features: str
    preset: Optional[str]
    n_reference: int
    n_train: Optional[int]
    inputs: Dict[str, Optional[str]]
    weights: Optional[dict]
    notes: List[str] = field(default_factory=list)
    skipped: int = 0
    version: str = __version__

    @property
    def n(self) -> int:
        return len(self.paths)

    def flag(self, name: str) -> np.ndarray:
        """(n,) bool of one flag."""
        return self.matrix[:, FLAGS.index(name)]

    @property
    def degenerate(self) -> np.ndarray:
        """(n,) bool: blank, saturated or noise (what ``degenerate_fraction`` counts)."""
        return self.matrix[:, [FLAGS.index(f) for f in DEGENERATE]].any(axis=1)

    @property
    def realistic(self) -> Optional[np.ndarray]:
        """(n,) bool: realism score >= 1; None without features."""
        return None if self.realism is None else self.realism >= 1.0

    @property
    def kept(self) -> Optional[np.ndarray]:
        """(n,) bool: passes the gate of gated LPIPS / Vendi (realistic and not degenerate);
        None without features."""
        return None if self.realism is None else self.realistic & ~self.degenerate

    def fractions(self, rows: Optional[np.ndarray] = None) -> Dict[str, Optional[float]]:
        """degenerate and side fractions over ``rows`` (all images by default); None for a flag
        that was not computed."""
        rows = np.arange(self.n) if rows is None else np.asarray(rows)
        n = max(len(rows), 1)
        out = {"degenerate_fraction": float(self.degenerate[rows].sum() / n)}
        for key, name in SIDE_FRACTIONS.items():
            out[key] = None if name in self.not_computed else float(self.flag(name)[rows].sum() / n)
        return out

    def per_condition(self) -> Dict[str, dict]:
        """condition -> {"n", and the fractions} in sorted order."""
        conds = np.asarray(self.conditions, dtype=object)
        return {c: {"n": int((conds == c).sum()), **self.fractions(np.flatnonzero(conds == c))}
                for c in sorted(set(self.conditions))}

    def counts(self) -> Dict[str, Optional[int]]:
        return {f: None if f in self.not_computed else int(self.flag(f).sum()) for f in FLAGS}

    def to_dict(self) -> dict:
        images = []
        for i, path in enumerate(self.paths):
            entry = {"path": path, "condition": self.conditions[i],
                     "flags": [f for j, f in enumerate(FLAGS) if self.matrix[i, j]]}
            if self.realism is not None:        # inf (a copy of a reference image) -> null
                r = float(self.realism[i])
                entry["realism"] = r if np.isfinite(r) else None
            images.append(entry)
        return {"metric": "inspect", "n": self.n, **self.fractions(), "flags": self.counts(),
                "not_computed": dict(self.not_computed), "thresholds": self.thresholds,
                "per_condition": self.per_condition(), "images": images, "k": self.k,
                "prune_percentile": self.prune_percentile,
                "features": self.features, "preset": self.preset,
                "n_reference": self.n_reference, "n_train": self.n_train,
                "inputs": self.inputs, "weights": self.weights, "notes": self.notes,
                "skipped": self.skipped, "version": self.version}


def _copy_flag(gen_f: np.ndarray, ref_f: np.ndarray, train_f: np.ndarray):
    """(mask or None, threshold entry, reason or None) of copy-of-train."""
    from msgan_eval.metrics.realism import nearest_distances

    held_out = nearest_distances(ref_f, train_f)
    t = fl.copy_threshold(held_out)
    rule = fl.COPY_RULE
    entry = {"statistic": "distance of the features to the nearest training image",
             "side": rule.side, "percentile": rule.percentile, "margin": defaults.FLAG_MARGIN,
             "scale": rule.scale, "value": t,
             "rule": rule.describe().replace("train_distance", "nearest-training-image distance")}
    if t <= 0:
        return None, entry, ("the reference shares images with the training set (its "
                             f"{defaults.FLAG_LOW_PERCENTILE:g}th percentile distance is 0): "
                             "use held-out real images as the reference")
    return nearest_distances(gen_f, train_f) < t, entry, None


def _check_options(k: int, near_duplicate_cosine: float, html) -> None:
    if k < 1:
        raise ParameterError(f"{{k}} {k}: use at least 1 nearest neighbour", "k")
    if not 0 < near_duplicate_cosine <= 1:
        raise ParameterError(f"{{near_duplicate_cosine}} {near_duplicate_cosine}: use a cosine "
                             "similarity in (0, 1]", "near_duplicate_cosine")
    check_output(html, "html")


def inspect(images: ImagesLike, ref: ImagesLike, *, train: Optional[ImagesLike] = None,
            k: int = defaults.REALISM_K,
            prune_percentile: Optional[float] = defaults.REALISM_PRUNE_PERCENTILE,
            features: str = defaults.PRDC_FEATURES,
            preset: str = defaults.FID_PRESET,
            near_duplicate_cosine: float = defaults.NEAR_DUPLICATE_COSINE,
            inception_weights: "str | os.PathLike[str] | None" = None,
            vgg16_weights: "str | os.PathLike[str] | None" = None,
            feature_weights: "str | os.PathLike[str] | None" = None, device: str = defaults.DEVICE,
            batch_size: int = defaults.BATCH_SIZE, num_workers: int = defaults.NUM_WORKERS,
            html: "str | os.PathLike[str] | None" = None, skip_bad: bool = False,
            quiet: bool = True) -> InspectResult:
    """Flag each image of ``images`` that lies outside what the real images ``ref`` show.

    Args:
        images: the generated images (path, ImageSet, array, tensor, mapping; sub-folders are
            conditions: duplicates are sought within each).
        ref: real images, held out from training, >= 50 of them: every threshold is calibrated
            on them (0.1 / 99.9 percentiles), and they are the realism score's reference.
        train: the training images (optional): ``copy-of-train`` flags samples nearer to a
            training image than the reference's images are.
        k: nearest neighbours of the realism radii (precision/recall's 5; the paper's is 3).
        prune_percentile: the realism max over the reference balls no larger than this
            percentile of their radii (the paper's ranking score: 50); None, the default, keeps
            every ball, so ``unrealistic`` is exactly outside k-NN precision's balls.
        features: feature space of the realism score, near duplicates and copies (that of
            :func:`msgan_eval.prdc`, with ``feature_weights`` for DINOv2/CLIP); without its weights (none named, none found) those flags
            are reported as not computed and the pixel flags still run.
        html: write a page showing the flagged images, grouped by flag.

    Returns:
        InspectResult: ``.degenerate`` / ``.realistic`` (n,) masks, ``.matrix`` (n, flags),
        ``.fractions()``, ``.per_condition()``; ``to_dict()`` is ``msgan-eval inspect --json``.

    Example:
        >>> r = msgan_eval.inspect("samples/", ref="real/")           # doctest: +SKIP
        >>> r.to_dict()["degenerate_fraction"]                         # doctest: +SKIP
    """
    from .prdc import load_set

    k = whole(k, "k", min=1, hint="the nearest neighbours of the realism radii")   # not int(): 2.5
    near_duplicate_cosine = real(near_duplicate_cosine, "near_duplicate_cosine")
    _check_options(k, near_duplicate_cosine, html)
    check_prune(prune_percentile)
    check_paths(images, ref, train)   # every input before any is scanned
    check_inception_weights_used(features, inception_weights)
    gen_set = load_set(images, param="images", metric="inspect", skip_bad=skip_bad, quiet=quiet)
    ref_set = load_set(ref, param="ref", metric="inspect", skip_bad=skip_bad, quiet=quiet)
    check_reference(ref_set, k)
    train_set = (load_set(train, param="train", metric="inspect", skip_bad=skip_bad, quiet=quiet)
                 if train is not None else None)
    feats = resolve_features(features, preset=preset, inception_weights=inception_weights,
                             vgg16_weights=vgg16_weights, feature_weights=feature_weights,
                             device=device, batch_size=batch_size, num_workers=num_workers)
    masks, thresholds, stats, notes = pixel_flags(gen_set, ref_set, quiet)
    not_computed: Dict[str, str] = {}
    realism = _distance_flags(gen_set, ref_set, train_set, feats, (k, prune_percentile),
                              near_duplicate_cosine, masks, thresholds, not_computed, quiet)
    if feats.reason:
        notes.append(f"duplicates are exact copies only ({feats.reason})")
    result = InspectResult(
        matrix=np.stack([masks[f] for f in FLAGS], axis=1), paths=_paths(gen_set),
        conditions=[r.condition for r in gen_set.refs], thresholds=thresholds,
        not_computed=not_computed, statistics=stats, realism=realism, k=k,
        prune_percentile=prune_percentile, features=features,
        preset=feats.source.preset if feats.source else None, n_reference=len(ref_set),
        n_train=None if train_set is None else len(train_set),
        inputs={"images": describe(images), "ref": describe(ref),
                "train": None if train is None else describe(train)},
        weights=feats.source.weights.as_dict() if feats.source else None, notes=notes,
        skipped=len(gen_set.skipped))
    if html is not None:
        from msgan_eval.report.inspect_html import write_inspect_html

        write_inspect_html(html, result, gen_set)
    return result


def _distance_flags(gen_set: ImageSet, ref_set: ImageSet, train_set: Optional[ImageSet],
                    feats: Features, gate: Tuple[int, Optional[float]], cosine: float,
                    masks: Dict[str, np.ndarray],
                    thresholds: Dict[str, dict], not_computed: Dict[str, str],
                    quiet: bool) -> Optional[np.ndarray]:
    """Fill ``masks`` with duplicate, copy-of-train and unrealistic; the realism scores."""
    n = len(gen_set)
    hashes = [pixel_hash(gen_set[i]) for i in range(n)]
    gen_f = None if feats.source is None else feats.of(gen_set, quiet)
    masks["duplicate"] = fl.duplicate_mask(hashes, gen_f, gen_set.groups(), cosine)
    thresholds["duplicate"] = {"statistic": "pixels, and cosine similarity of features",
                               "side": "above", "percentile": None,
                               "value": cosine if gen_f is not None else None,
                               "rule": "equal pixels, or cosine similarity >= "
                                       f"{cosine:g}, to an earlier image of its condition"}
    masks["copy-of-train"] = masks["unrealistic"] = np.zeros(n, dtype=bool)
    if train_set is None:
        not_computed["copy-of-train"] = "no training set given (train)"
    if gen_f is None:
        not_computed["unrealistic"] = feats.reason
        if train_set is not None:
            not_computed["copy-of-train"] = feats.reason
        return None
    ref_f = feats.of(ref_set, quiet)
    realism, kept = realism_gate(gen_f, ref_f, k=gate[0], prune_percentile=gate[1])
    masks["unrealistic"] = ~kept
    thresholds["unrealistic"] = {"statistic": "realism score", "side": "below", "percentile": None,
                                 "value": 1.0,
                                 "rule": gate_rule(feats.source.name, *gate, passes=False)}
    if train_set is not None:
        mask, thresholds["copy-of-train"], reason = _copy_flag(gen_f, ref_f,
                                                               feats.of(train_set, quiet))
        if reason:
            not_computed["copy-of-train"] = reason
        else:
            masks["copy-of-train"] = mask
    return realism


def _paths(images: ImageSet) -> List[str]:
    """Each image's file, or ``<array file>[row]`` / ``<in-memory>/<condition>/<name>``."""
    out = []
    for ref in images.refs:
        if str(ref.path).startswith("<in-memory"):     # "<in-memory PARAM>" (inputs.in_memory_source)
            out.append(f"<in-memory>/{ref.condition}/{ref.name}")
        elif ref.index >= 0:
            out.append(f"{ref.path}[{ref.index}]")
        else:
            out.append(str(ref.path))
    return out


def split_by_condition(result: InspectResult) -> Dict[str, Tuple[np.ndarray, np.ndarray]]:
    """condition -> (row indices, degenerate mask of those rows): what a per-condition bootstrap
    of ``degenerate`` resamples."""
    conds = np.asarray(result.conditions, dtype=object)
    return {c: (np.flatnonzero(conds == c), result.degenerate[conds == c])
            for c in sorted(set(result.conditions))}
