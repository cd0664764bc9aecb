"""Inception pool features of an image set, extracted once per process and shared by every metric
that reads them (FID, and the feature-based metrics beside it in ``compare``); and the other
feature spaces (DINOv2, CLIP, VGG16 fc2) behind one :class:`FeatureSource` (#25).

A small in-memory memo keyed by the set's file-list fingerprint (modification times included, as
the statistics cache), the weights' SHA-256, the feature size, the FID preset (whose
preprocessing) and the extraction path: two metrics
of one comparison never run the network twice over the same images.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

import numpy as np

from msgan_eval import defaults
from msgan_eval.errors import ParameterError
from msgan_eval.images import ImageSet
from msgan_eval.weights import ResolvedWeights

_MEMO: "OrderedDict[Tuple, np.ndarray]" = OrderedDict()
_MEMO_SETS = 4          # a comparison reads at most baseline, candidate and reference
# ... and more sets while they are small: compare over seeds (3 runs per arm and the reference)
# reads every run once per family, so with 4 sets the realism gate re-extracted every run that
# FID had (one Inception pass per run: 8 minutes of the 3-seed text-to-image demo).
_MEMO_BYTES = 1 << 30


def _remember(key: Tuple, feats: np.ndarray) -> np.ndarray:
    """Keep ``feats`` (read-only: shared between metrics) and forget the least recently used
    sets beyond ``_MEMO_SETS`` once they hold more than ``_MEMO_BYTES`` together."""
    feats.setflags(write=False)
    _MEMO[key] = feats
    while len(_MEMO) > _MEMO_SETS and sum(f.nbytes for f in _MEMO.values()) > _MEMO_BYTES:
        _MEMO.popitem(last=False)
    return feats


def inception_features(images: ImageSet, *, weights: ResolvedWeights, dims: int = defaults.FID_DIMS,
                       device: str = defaults.DEVICE, batch_size: int = defaults.BATCH_SIZE,
                       num_workers: int = defaults.NUM_WORKERS, quiet: bool = True,
                       fast: bool = True, preset: str = defaults.FID_PRESET) -> np.ndarray:
    """(N, dims) float64 features of ``images`` in the set's order, from the memo when possible.

    Under torchrun every rank must call this with the same set (see
    :func:`msgan_eval.features.extract.extract_inception_features`); every rank gets all rows.
    """
    from msgan_eval.features.extract import extract_inception_features

    key = (images.fingerprint(), weights.sha256, int(dims), bool(fast), preset)
    if key in _MEMO:
        _MEMO.move_to_end(key)
        return _MEMO[key]
    feats = extract_inception_features(images, weights=weights, dims=dims, device=device,
                                       batch_size=batch_size, num_workers=num_workers,
                                       quiet=quiet, fast=fast, preset=preset)
    return _remember(key, feats)


def clear_memo() -> None:
    """Forget every memoised feature matrix (tests; long-lived notebooks)."""
    _MEMO.clear()


# ---- every feature space (#25): Inception, DINOv2, CLIP, VGG16 fc2 ----

INCEPTION_ALIASES = ("inception", "inception-pool3")


def canonical_features(name: str) -> str:
    """``inception-pool3`` (the name kid/prdc/vendi have always recorded) is ``inception``."""
    return "inception" if name in INCEPTION_ALIASES else name


def check_features(features: str, choices=defaults.FEATURES_CHOICES, param: str = "features") -> str:
    """The canonical name of ``features``, or a ParameterError listing the valid names."""
    name = canonical_features(str(features))
    if name not in choices:
        raise ParameterError(f"{{{param}}} {features!r} is not a feature network; use one of "
                             f"{', '.join(choices)}", param)
    return name


def check_inception_weights_used(features: str, inception_weights) -> None:
    """``inception_weights`` named where nothing reads them (a DINOv2/CLIP/VGG16 space, no
    Inception gate): refused, as ``vgg16_weights`` with the Inception is. It was ignored (#23 item
    9's class): the user believed their Inception file took part."""
    name = check_features(features)
    if inception_weights is not None and name != "inception":
        raise ParameterError(f"{{inception_weights}} is for the Inception, but the features are "
                             f"{name}; drop {{inception_weights}} (the {name} file is "
                             "{feature_weights}) or use {features} inception",
                             "inception_weights", "feature_weights", "features")


def presets_for(features: str) -> Tuple[str, ...]:
    """The preprocessing presets that apply to a feature space (its default first)."""
    from msgan_eval.features.networks import NETWORKS
    from msgan_eval.features.preprocess import embed_presets_for

    if features == "inception":
        return defaults.FID_PRESET_CHOICES
    net = NETWORKS.get(features)
    if net is None:
        return ()
    rest = tuple(p for p in embed_presets_for(net.family) if p != net.default_preset)
    return (net.default_preset,) + rest


def resolve_preset(features: str, preset: Optional[str]) -> Optional[str]:
    """``preset`` checked against the feature space (None: its default; vgg16-fc2 has none)."""
    choices = presets_for(features)
    if preset is None:
        return choices[0] if choices else None
    if not choices:
        if preset == defaults.FID_PRESET:   # the old default, passed explicitly: harmless
            return None
        # The presets are other networks' preprocessing; VGG16 fc2 has its own (224 x 224
        # bilinear, ImageNet mean/std: features/vgg16.py), so a preset would be ignored.
        raise ParameterError(f"{{preset}} {preset} is an Inception preprocessing and does not "
                             f"apply to {{features}} {features}; drop {{preset}} or use "
                             "{features} inception-pool3", "preset", "features")
    if preset not in choices and features == "inception":
        raise ParameterError(f"{{preset}} {preset!r} is not a FID preset; choose one of "
                             f"{', '.join(choices)}", "preset")
    if preset not in choices:
        raise ParameterError(f"{{preset}} {preset} does not apply to {{features}} {features}; "
                             f"choose one of {', '.join(choices)}", "preset", "features")
    return preset


def feature_dims(features: str, dims: int = defaults.FID_DIMS) -> int:
    """The feature size: Inception's ``dims`` block, or the network's own (``dims`` must then be
    left at its default or equal it)."""
    from msgan_eval.features.networks import NETWORKS
    from msgan_eval.validate import check_dims, whole

    if features == "inception":
        return check_dims(dims)
    own = NETWORKS[features].dims if features in NETWORKS else 4096      # vgg16-fc2
    if whole(dims, "dims", min=1) not in (defaults.FID_DIMS, own):
        raise ParameterError(f"{{dims}} {dims} selects an Inception block; {{features}} "
                             f"{features} gives {own}-d features (drop {{dims}})", "dims", "features")
    return own


def resolve_feature_weights(features: str, *, inception_weights=None, vgg16_weights=None,
                            feature_weights=None):
    """The weights of a feature space, resolved before any long work (exit 3 when missing)."""
    if features == "inception" and feature_weights is not None:
        # Silently ignored before (#23 item 9, as --vgg16-weights was): the run measured the
        # Inception while the user believed their DINOv2/CLIP file was used.
        raise ParameterError("{feature_weights} is for a DINOv2/CLIP {features} space, but the "
                             "features are inception; drop {feature_weights} (the Inception's "
                             "file is {inception_weights}) or add {features} NAME",
                             "feature_weights", "features", "inception_weights")
    if features == "inception":
        from msgan_eval.features.inception import resolve_inception_weights

        return resolve_inception_weights(inception_weights)
    if features == "vgg16-fc2":
        from msgan_eval.features.vgg16 import resolve_vgg16_weights

        return resolve_vgg16_weights(vgg16_weights or feature_weights)
    from msgan_eval.features.checkpoints import resolve_network_weights

    return resolve_network_weights(features, feature_weights)


def embedding_features(images: ImageSet, name: str, *, weights: ResolvedWeights, preset: str,
                       device: str = defaults.DEVICE, batch_size: int = defaults.BATCH_SIZE,
                       num_workers: int = defaults.NUM_WORKERS, quiet: bool = True) -> np.ndarray:
    """(N, dims) float64 DINOv2 / CLIP features of ``images``, from the memo when possible."""
    from msgan_eval.features.embed import extract_embeddings

    key = (images.fingerprint(), weights.sha256, name, preset)
    if key in _MEMO:
        _MEMO.move_to_end(key)
        return _MEMO[key]
    feats = extract_embeddings(images, name, weights=weights, preset=preset, device=device,
                               batch_size=batch_size, num_workers=num_workers, quiet=quiet)
    return _remember(key, feats)


@dataclass
class FeatureSource:
    """A feature space resolved once before any long work: which network, its weights, its
    preprocessing. ``of(images)`` gives the (N, d) float64 features; other metrics (realism,
    inspect) can take one and embed in the same space."""

    name: str                               # canonical: inception | dinov2-* | clip-* | vgg16-fc2
    weights: object                         # ResolvedWeights
    device: str = defaults.DEVICE
    batch_size: int = defaults.BATCH_SIZE
    num_workers: int = defaults.NUM_WORKERS
    preset: Optional[str] = defaults.FID_PRESET    # None for vgg16-fc2
    dims: int = defaults.FID_DIMS
    notes: List[str] = field(default_factory=list)

    @property
    def recorded_name(self) -> str:
        """The name results record (Inception: ``inception-pool3``, as kid/prdc/vendi always did)."""
        return "inception-pool3" if self.name == "inception" else self.name

    def of(self, images: ImageSet, quiet: bool = True) -> np.ndarray:
        kw = dict(device=self.device, batch_size=self.batch_size, num_workers=self.num_workers,
                  quiet=quiet)
        if self.name == "vgg16-fc2":
            from msgan_eval.features.vgg16 import vgg16_fc2_features

            return vgg16_fc2_features(images, weights=self.weights, **kw)
        if self.name == "inception":
            return inception_features(images, weights=self.weights, dims=self.dims,
                                      preset=self.preset, **kw)
        return embedding_features(images, self.name, weights=self.weights, preset=self.preset, **kw)


def feature_source(features: str = defaults.FEATURES, *, preset: Optional[str] = None,
                   dims: int = defaults.FID_DIMS, inception_weights=None, vgg16_weights=None,
                   feature_weights=None, device: str = defaults.DEVICE,
                   batch_size: int = defaults.BATCH_SIZE, num_workers: int = defaults.NUM_WORKERS,
                   choices=defaults.FEATURES_CHOICES) -> FeatureSource:
    """The options checked (names, preset, dims), the device too, then the weights resolved."""
    from msgan_eval.device import resolve_device
    from msgan_eval.validate import loader_numbers

    name = check_features(features, choices)
    preset = resolve_preset(name, preset)
    dims = feature_dims(name, dims)
    batch_size, num_workers = loader_numbers(batch_size, num_workers)
    if vgg16_weights is not None and name != "vgg16-fc2":
        # Silently ignored before (#23): the user believed VGG16 features were measured.
        raise ParameterError(f"{{vgg16_weights}} is for {{features}} vgg16-fc2, but the features "
                             f"are {name}; drop {{vgg16_weights}} or add {{features}} vgg16-fc2",
                             "vgg16_weights", "features")
    resolve_device(device)
    weights = resolve_feature_weights(name, inception_weights=inception_weights,
                                      vgg16_weights=vgg16_weights, feature_weights=feature_weights)
    source = FeatureSource(name, weights, device, batch_size, num_workers, preset, dims)
    # Inception and VGG16 outputs carry the status in "weights" as before #25; the new networks'
    # results say it in their warnings too (DINOv2's are always unverified: no published hash).
    if name not in ("inception", "vgg16-fc2") and getattr(weights, "status", "verified") != "verified":
        source.notes.append(f"{name}: UNVERIFIED weights {weights.path} (SHA-256 "
                            f"{weights.sha256[:16]}...): not the published file")
    return source


def set_statistics(image_set, *, weights: ResolvedWeights, dims: int, device: str,
                    batch_size: int, num_workers: int, use_cache: bool, quiet: bool, preset,
                    features: str, rows: Optional[np.ndarray] = None):
    """(mu, sigma) of one set in its feature space (Inception and the DINOv2 / CLIP towers
    streamed and cached; VGG16 fc2 from its feature rows). ``rows``: Inception features of the
    set already extracted (``FeatureSource.of``), used instead of another network pass."""
    kw = dict(weights=weights, device=device, batch_size=batch_size, num_workers=num_workers,
              quiet=quiet)
    if features == "inception":
        from msgan_eval.features.extract import image_set_statistics

        return image_set_statistics(image_set, dims=dims, use_cache=use_cache, preset=preset,
                                    rows=rows, **kw)
    if features != "vgg16-fc2":
        from msgan_eval.features.embed import embedding_statistics

        return embedding_statistics(image_set, features, preset=preset, use_cache=use_cache, **kw)
    from msgan_eval.metrics.fid import feature_statistics

    feats = FeatureSource(features, weights, device, batch_size, num_workers, None, dims).of(
        image_set, quiet=quiet)
    if len(feats) < 2:
        raise ParameterError(f"{image_set.source}: FD statistics need at least 2 images, found "
                             f"{len(feats)}")
    from msgan_eval.features.stats_cache import FidStats

    return FidStats(*feature_statistics(feats), len(feats), dims, weights.sha256,
                    str(image_set.source), features=features)
