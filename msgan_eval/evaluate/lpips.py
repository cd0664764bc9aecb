"""LPIPS diversity of a sample set: mean LPIPS between pairs of different samples of each condition.

The numbers are those of ``lpips.LPIPS(net=..., version='0.1')`` called pair by pair on
``lpips.im2tensor`` inputs, but each image goes through the backbone once: its normalised feature
maps are cached for its condition and every pair it belongs to is compared from the cache, so
``pairs="all"`` on n images costs n forward passes instead of n (n - 1).

Only images that appear in some pair go through the backbone. Memory: the features of one
condition's images are held at a time (for AlexNet at 256x256 about 1.5 MB per image, for VGG16
about 30 MB per image).

``resize=N`` brings every image to N x N with ``torch.nn.functional.interpolate(mode="bilinear",
align_corners=False, antialias=True)`` on the [-1, 1] float images (antialias matters only when
shrinking; it then follows PIL's bilinear filter). Images already N x N are left untouched.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np

from msgan_eval import __version__, defaults
from msgan_eval.errors import ParameterError, UserError
from msgan_eval.images import ROOT_CONDITION, ImageSet
from msgan_eval.metrics.lpips import PAIR_PROTOCOLS, condition_rng, plan_pairs, summarize
from msgan_eval.validate import seed as check_seed
from msgan_eval.validate import whole
from msgan_eval.weights import ResolvedWeights

from .inputs import ImagesLike, as_image_set, check_paths, describe


@dataclass
class LpipsResult:
    score: float                          # mean over conditions of the per-condition mean
    std: float                            # std (ddof=0) of all pair distances
    n_pairs: int
    groups: Dict[str, float]              # condition -> mean LPIPS over its pairs
    pair_distances: Dict[str, np.ndarray]  # condition -> (P,) float64, for bootstrapping
    net: str
    seed: int
    pairs: str                            # pair protocol: random | all | consecutive
    backbone: ResolvedWeights
    num_pairs: int = defaults.LPIPS_NUM_PAIRS   # asked per condition (random protocol only)
    pair_indices: Dict[str, np.ndarray] = field(default_factory=dict)  # (P, 2) indices into the set
    std_over_conditions: float = 0.0
    pairs_per_group: Dict[str, int] = field(default_factory=dict)
    all_pairs_used: List[str] = field(default_factory=list)  # conditions with fewer pairs than asked
    resize: Optional[int] = None
    heads_sha256: str = ""
    n_images: int = 0
    lpips_version: str = "0.1"
    device: str = "cpu"
    path: str = ""                         # the input, as given (or <in-memory>)
    skipped: int = 0                       # unreadable files skipped (skip_bad)
    batch_size: int = defaults.BATCH_SIZE
    protocol: Optional[dict] = None        # a named protocol (``--protocol msgan``) and what it set
    duplicates: Optional[dict] = None      # exact duplicates per condition (#14)
    gated: Optional[dict] = None           # with ``real``: lpips_gated, kept_fraction... (#22)

    @property
    def lpips_gated(self) -> Optional[float]:
        return None if self.gated is None else self.gated["lpips_gated"]

    @property
    def kept_fraction(self) -> Optional[float]:
        return None if self.gated is None else self.gated["kept_fraction"]

    @property
    def lpips(self) -> float:
        return self.score

    def to_dict(self) -> dict:
        """``msgan-eval lpips --json``'s object (without the per-pair arrays)."""
        gated = self.gated or {"lpips_gated": None, "kept_fraction": None, "groups_gated": None,
                               "kept_fraction_per_group": None, "gate": None}
        return {"metric": "lpips", "path": self.path, **self.summary(), **gated,
                "skipped": self.skipped, "batch_size": self.batch_size, "version": __version__}

    def summary(self) -> dict:
        return {"lpips": self.score, "std": self.std, "std_over_conditions": self.std_over_conditions,
                "pairs": self.n_pairs, "groups": self.groups, "pairs_per_group": self.pairs_per_group,
                "net": self.net, "lpips_version": self.lpips_version, "seed": self.seed,
                "pair_protocol": self.pairs,
                "num_pairs": self.num_pairs if self.pairs == "random" else None,
                "all_pairs_used": self.all_pairs_used, "resize": self.resize,
                "n_images": self.n_images, "backbone": self.backbone.as_dict(),
                "heads_sha256": self.heads_sha256, "device": self.device,
                "protocol": self.protocol, "duplicates": self.duplicates}


def _label(condition: str) -> str:
    return "'.' (images directly in the folder)" if condition == ROOT_CONDITION else repr(condition)


def check_lpips_inputs(image_set: ImageSet, groups: Dict[str, List[int]], net: str,
                       resize: Optional[int]) -> None:
    """UserError for any condition LPIPS cannot compare: < 2 images, mixed or too small sizes."""
    from msgan_eval.features.lpips_net import MIN_SIZE

    need = MIN_SIZE[net]
    if resize is not None and resize < need:
        raise ParameterError(f"{{resize}} {resize}: the {net} backbone needs images of at least "
                             f"{need}x{need}; use {{resize}} {need} or more", "resize")
    for cond, idx in groups.items():
        if len(idx) < 2:
            names = ", ".join(image_set.refs[i].name for i in idx)
            raise UserError(f"{image_set.source}: condition {_label(cond)} has {len(idx)} image "
                            f"({names}); LPIPS diversity needs at least 2 per condition: add "
                            "samples or remove that condition")
        if resize is not None:
            continue
        first = image_set.sizes[idx[0]]
        for i in idx:
            if image_set.sizes[i] != first:
                a, b = image_set.refs[idx[0]].name, image_set.refs[i].name
                raise ParameterError(
                    f"{image_set.source}: condition {_label(cond)} mixes image sizes ({a} is "
                    f"{first[1]}x{first[0]}, {b} is {image_set.sizes[i][1]}x{image_set.sizes[i][0]}); "
                    "pass {resize} N to compare them at N x N (bilinear)", "resize")
        if min(first) < need:
            raise ParameterError(
                f"{image_set.source}: images of condition {_label(cond)} are {first[1]}x{first[0]} "
                f"({image_set.refs[idx[0]].name}), smaller than the {need}x{need} the {net} backbone "
                f"accepts; pass {{resize}} N with N >= {need} (bilinear upsampling)", "resize")


def images_to_tensor(images: Sequence[np.ndarray], resize: Optional[int]):
    """(N, 3, H, W) float32 in [-1, 1] from RGB uint8 arrays, exactly as ``lpips.im2tensor``
    (``image / 127.5 - 1`` in float64 by numpy, then float32), then the documented resize."""
    import torch
    import torch.nn.functional as F

    if resize is not None and len({im.shape for im in images}) > 1:
        # Mixed sizes cannot be stacked: each image is resized on its own (the same numbers,
        # interpolation works image by image), then they share one batch.
        return torch.cat([images_to_tensor([im], resize) for im in images])
    arr = np.stack(images).astype(np.float64) / 127.5 - 1.0
    x = torch.from_numpy(arr.astype(np.float32)).permute(0, 3, 1, 2).contiguous()
    if resize is not None and tuple(x.shape[-2:]) != (resize, resize):
        x = F.interpolate(x, size=(resize, resize), mode="bilinear", align_corners=False, antialias=True)
    return x


@contextlib.contextmanager
def _strict_fp32():
    """TF32 off on CUDA while we compute, so GPU numbers stay those of fp32 lpips."""
    import torch

    saved = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def condition_features(model, image_set: ImageSet, indices: Sequence[int], *, resize: Optional[int],
                       device, batch_size: int, bar=None) -> list:
    """Each layer's normalised features of one condition's images, one backbone pass per distinct
    image. Identical images share one feature row (copied, not recomputed), so their LPIPS is
    exactly 0.0 on every CPU: features computed at different batch positions can differ in the
    last bits (seen on AVX2-only CPUs)."""
    import torch

    chunks, seen, rows = [], {}, []
    for start in range(0, len(indices), batch_size):
        batch = []
        for i in indices[start:start + batch_size]:
            image = image_set[i]
            key = (image.shape, hashlib.blake2b(np.ascontiguousarray(image).tobytes()).digest())
            if key not in seen:
                seen[key] = len(seen)
                batch.append(image)
            rows.append(seen[key])
        if batch:
            chunks.append(model.features(images_to_tensor(batch, resize).to(device)))
        if bar is not None:
            bar.update(min(batch_size, len(indices) - start))
    take = torch.as_tensor(rows, device=chunks[0][0].device)
    return [torch.cat([c[layer] for c in chunks]).index_select(0, take) for layer in range(len(chunks[0]))]


def pair_distances_from_features(model, feats: list, pairs: np.ndarray, *, device,
                                 batch_size: int) -> np.ndarray:
    """LPIPS of each pair (local indices into ``feats``), ``batch_size`` pairs at a time."""
    import torch

    out = []
    for start in range(0, len(pairs), batch_size):
        p = torch.from_numpy(np.ascontiguousarray(pairs[start:start + batch_size])).to(device)
        out.append(model.distances(feats, p[:, 0], p[:, 1]).cpu())
    return torch.cat(out).double().numpy()


def condition_distances(model, image_set: ImageSet, indices: Sequence[int], pairs: np.ndarray, *,
                        resize: Optional[int], device, batch_size: int, bar=None) -> np.ndarray:
    """LPIPS of ``pairs`` (local indices into ``indices``), with one backbone pass per image used."""
    used = np.unique(pairs)
    feats = condition_features(model, image_set, [indices[k] for k in used], resize=resize,
                               device=device, batch_size=batch_size, bar=bar)
    return pair_distances_from_features(model, feats, np.searchsorted(used, pairs), device=device,
                                        batch_size=batch_size)


def pair_count(n: int, pairs: str, num_pairs: int) -> int:
    """How many pairs a condition of ``n`` images gets under the ``pairs`` protocol."""
    every = n * (n - 1) // 2
    return {"all": every, "consecutive": max(n - 1, 0)}.get(pairs, min(num_pairs, every))


def check_pair_budget(groups: Dict[str, List[int]], pairs: str, num_pairs: int,
                      source: str = "") -> None:
    """ParameterError when a condition would compare more than ``defaults.LPIPS_MAX_PAIRS`` pairs
    (their indices and distances are held in memory), before anything is computed."""
    limit = defaults.LPIPS_MAX_PAIRS
    for cond, idx in groups.items():
        n, count = len(idx), pair_count(len(idx), pairs, num_pairs)
        if count > limit:
            raise ParameterError(f"{source}: condition {_label(cond)} has {n} images, so {{pairs}} "
                                 f"{pairs} compares {count} pairs, more than the {limit} held in "
                                 "memory; use {pairs} random with {num_pairs} N", "pairs", "num_pairs")


def check_finite_distances(distances: np.ndarray, backbone: ResolvedWeights, cond: str) -> None:
    """A backbone holding NaN or infinite weights gives NaN distances: refuse, naming the file,
    rather than report ``lpips: NaN`` with success."""
    if not np.all(np.isfinite(distances)):
        raise UserError(f"LPIPS backbone {backbone.path}: gives non-finite distances (condition "
                        f"{_label(cond)}); the file holds NaN or infinite weights: restore the "
                        "published or converted weights (msgan-eval weights shows their status)")


def check_lpips_options(net: str, pairs: str, num_pairs, seed, batch_size, resize=None) -> tuple:
    """(num_pairs, seed, batch_size, resize) as integers (resize may be None), or a
    ParameterError naming the bad one."""
    if resize is not None:
        resize = whole(resize, "resize", min=1, max=defaults.LPIPS_MAX_RESIZE,
                       hint="the backbone's features grow with its square")
    num_pairs = whole(num_pairs, "num_pairs", min=1, max=defaults.LPIPS_MAX_PAIRS,
                      hint="the pairs of a condition are held in memory")
    if net not in defaults.LPIPS_NET_CHOICES:
        raise ParameterError(f"{{net}} {net}: use one of {', '.join(defaults.LPIPS_NET_CHOICES)}", "net")
    if pairs not in PAIR_PROTOCOLS:
        raise ParameterError(f"{{pairs}} {pairs}: use one of {', '.join(PAIR_PROTOCOLS)}", "pairs")
    return num_pairs, check_seed(seed), whole(batch_size, "batch_size", min=1), resize


def lpips_diversity(x: ImagesLike, *, net: str = defaults.LPIPS_NET,
                    pairs: str = defaults.LPIPS_PAIRS, num_pairs: int = defaults.LPIPS_NUM_PAIRS,
                    seed: int = defaults.SEED, device: str = defaults.DEVICE,
                    batch_size: int = defaults.BATCH_SIZE, resize: Optional[int] = None,
                    backbone_weights: "str | os.PathLike[str] | None" = None,
                    skip_bad: bool = False, quiet: bool = True,
                    protocol: Optional[str] = None, real: Optional[ImagesLike] = None,
                    realism_k: int = defaults.REALISM_K,
                    gate_features: str = defaults.PRDC_FEATURES,
                    inception_weights: "str | os.PathLike[str] | None" = None) -> LpipsResult:
    """LPIPS diversity per condition of ``x``: the mean ``lpips.LPIPS`` distance of pairs.

    Args:
        x: images: a folder (sub-folders are conditions), .npy/.npz, ImageSet, uint8 array
            (N, H, W, C), tensor (N, C, H, W) uint8 or float in [0, 1], or a mapping
            condition -> array/tensor (see ``msgan_eval.evaluate.inputs``).
        net: ``alex``, ``vgg`` or ``squeeze`` (lpips v0.1 linear heads).
        pairs: ``random`` (``num_pairs`` distinct pairs per condition, MSGAN), ``all`` or
            ``consecutive`` (BicycleGAN).
        seed: seeds the random pairs of each condition (with its name).
        resize: compare at N x N (bilinear, antialiased); None keeps the size.
        backbone_weights: the torchvision backbone file; None resolves it from
            ``$MSGAN_EVAL_LPIPS_BACKBONE``, the torch hub cache (hash-checked) or a download.
        protocol: ``"msgan"``: 50 samples per condition (a seeded random 50 where there are
            more) and 50 random pairs of them, as the MSGAN paper's appendix; other ``pairs`` /
            ``num_pairs`` are refused (see ``msgan_eval.evaluate.protocol``).
        real: real images (>= 50): also report ``lpips_gated``, the same LPIPS over the samples
            whose realism score against them is >= 1 (``realism_k`` neighbours, features
            ``gate_features``, weights ``inception_weights``), and ``kept_fraction``, per
            condition and overall (``msgan_eval.evaluate.gate``). Without the feature weights
            the gated numbers are None with the reason; plain LPIPS still runs.

    Returns:
        LpipsResult: ``.lpips`` (mean over conditions), ``.groups`` (per condition),
        ``.pair_distances``, ``.lpips_gated``, ``.kept_fraction``...; ``to_dict()`` is
        ``msgan-eval lpips --json``.

    Example:
        >>> r = msgan_eval.lpips_diversity({"cat": cats, "dog": dogs}, pairs="all")  # doctest: +SKIP
        >>> r.lpips, r.groups                                                       # doctest: +SKIP
    """
    from msgan_eval.device import resolve_device
    from msgan_eval.features.lpips_net import heads_sha256, load_lpips_net, resolve_lpips_backbone
    from msgan_eval.progress import progress

    from .protocol import MSGAN_LPIPS, lpips_samples, record, settle
    from .vendi import duplicate_table

    num_pairs, seed, batch_size, resize = check_lpips_options(net, pairs, num_pairs, seed,
                                                              batch_size, resize)
    check_paths(x, real)              # --real too, before ``x`` is scanned
    if real is None and inception_weights is not None:    # ignored before (#23 item 9's class)
        raise ParameterError("{inception_weights} is read by the realism gate only; add {real} "
                             "or drop {inception_weights}", "inception_weights", "real")
    image_set = as_image_set(x, param="x", skip_bad=skip_bad, quiet=quiet)
    if protocol is not None:
        settle(protocol, MSGAN_LPIPS, {"pairs": pairs, "num_pairs": num_pairs})
        image_set = lpips_samples(image_set, per_condition=MSGAN_LPIPS["samples"], seed=seed)
    groups = image_set.groups()
    check_lpips_inputs(image_set, groups, net, resize)
    check_pair_budget(groups, pairs, num_pairs, str(image_set.source))
    plans = {c: plan_pairs(len(idx), pairs, num_pairs, condition_rng(seed, c)) for c, idx in groups.items()}
    if real is not None:
        from .gate import load_real

        real = load_real(real, realism_k, skip_bad=skip_bad, quiet=quiet)
    backbone = resolve_lpips_backbone(net, backbone_weights)
    gate = None
    if real is not None:
        from .gate import realism_gate_of

        gate = realism_gate_of(image_set, real, k=realism_k, features=gate_features,
                               inception_weights=inception_weights, device=device,
                               batch_size=batch_size, skip_bad=skip_bad, quiet=quiet)
    dev = resolve_device(device)
    model = load_lpips_net(net, backbone, dev)
    # Only images that appear in a pair go through the backbone (random pairs on a big condition
    # touch few of its images), so the bar counts those.
    n_used = sum(len(np.unique(plan.pairs)) for plan in plans.values())
    distances: Dict[str, np.ndarray] = {}
    bar = progress(total=n_used, desc=f"lpips {net}", quiet=quiet, unit="img")
    with bar, _strict_fp32():
        for cond, idx in groups.items():
            distances[cond] = condition_distances(model, image_set, idx, plans[cond].pairs, resize=resize,
                                                  device=dev, batch_size=batch_size, bar=bar)
            check_finite_distances(distances[cond], backbone, cond)
        gated = None
        if gate is not None:
            from .gate import gated_lpips

            gated = gated_lpips(model, image_set, gate, pairs=pairs, num_pairs=num_pairs, seed=seed,
                                resize=resize, device=dev, batch_size=batch_size,
                                plain={c: float(d.mean()) for c, d in distances.items()})
    summary = summarize(distances)
    return LpipsResult(
        score=summary.score, std=summary.std, n_pairs=summary.n_pairs, groups=summary.groups,
        pair_distances=distances, net=net, seed=seed, pairs=pairs, backbone=backbone,
        num_pairs=num_pairs,
        pair_indices={c: np.asarray(groups[c], dtype=np.int64)[plans[c].pairs] for c in groups},
        std_over_conditions=summary.std_over_conditions, pairs_per_group=summary.pairs_per_group,
        all_pairs_used=[c for c in groups if plans[c].all_pairs_used], resize=resize,
        heads_sha256=heads_sha256(net), n_images=len(image_set), device=str(dev),
        path=describe(x), skipped=len(image_set.skipped), batch_size=batch_size,
        protocol=record(protocol, **MSGAN_LPIPS) if protocol else None,
        duplicates=duplicate_table(image_set, None), gated=gated)


def sharded_pair_distances(image_set: ImageSet, *, net: str = defaults.LPIPS_NET,
                           pairs: str = defaults.LPIPS_PAIRS,
                           num_pairs: int = defaults.LPIPS_NUM_PAIRS, seed: int = defaults.SEED,
                           device: str = "cpu", batch_size: int = defaults.BATCH_SIZE,
                           resize: Optional[int] = None,
                           backbone_weights: "str | os.PathLike[str] | None" = None,
                           quiet: bool = True) -> Dict[str, np.ndarray]:
    """``lpips_diversity(...).pair_distances`` of every condition, on every torchrun rank.

    Each rank measures every world_size-th condition and the arrays are gathered. A condition's
    pairs come from the seed and its name, and it goes through the backbone on its own, so each
    distance is the one a single process computes. The whole set is checked on every rank first:
    bad input then stops all ranks alike instead of leaving the others waiting in the gather.
    """
    from msgan_eval import distributed

    num_pairs, seed, batch_size, resize = check_lpips_options(net, pairs, num_pairs, seed,
                                                              batch_size, resize)
    groups = image_set.groups()
    check_lpips_inputs(image_set, groups, net, resize)
    check_pair_budget(groups, pairs, num_pairs, str(image_set.source))
    mine = distributed.shard(list(groups))
    distances: Dict[str, np.ndarray] = {}
    if mine:      # more ranks than conditions leaves some with nothing to measure
        result = lpips_diversity(image_set.subset([i for c in mine for i in groups[c]]), net=net,
                                 pairs=pairs, num_pairs=num_pairs, seed=seed, device=device,
                                 batch_size=batch_size, resize=resize,
                                 backbone_weights=backbone_weights,
                                 quiet=quiet or not distributed.is_main_process())
        distances = result.pair_distances
    gathered = {c: d for part in distributed.all_gather_objects(distances) for c, d in part.items()}
    return {c: gathered[c] for c in groups}
