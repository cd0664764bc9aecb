"""Diversity among realistic samples: the realism gate, and LPIPS / Vendi over the samples that
pass it (``lpips_gated``, ``vendi_gated``, ``kept_fraction``).

A sample passes when its realism score (Kynkaanniemi et al. 2019, :mod:`msgan_eval.metrics.realism`)
against the real images is >= 1, in the feature space of precision/recall, *and* it carries none
of the inspector's image-defect flags (blank, saturated, noise: calibrated on the same real
images). The realism score alone lets static through: Fashion-MNIST-sized static and checkerboards
with a black border scored 1.00-1.33 against 200 real items (Inception pool3, k = 5), higher than
some real items. Gated LPIPS runs the
same pair protocol, with the same seed, over each condition's kept samples: a condition whose
samples all pass gets exactly its plain LPIPS. A condition with fewer than 2 kept samples has no
pair: its value is None, with the reason, and the overall value is the mean over the others.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import numpy as np

from msgan_eval import defaults
from msgan_eval.images import ImageSet

from .inputs import ImagesLike, describe
from .inspect_steps import (
    GATE_DEGENERATE,
    check_reference,
    gate_rule,
    pixel_flags,
    realism_gate,
    resolve_features,
)


@dataclass
class Gate:
    """Which samples of a set pass the realism gate, or why that could not be told."""

    kept: Optional[np.ndarray]               # (n,) bool; None when not computed
    realism: Optional[np.ndarray]            # (n,) realism scores
    degenerate: Optional[np.ndarray]         # (n,) bool: blank, saturated or noise
    k: int
    features: str
    real: str
    n_reference: Optional[int] = None
    reason: Optional[str] = None
    gen_features: Optional[np.ndarray] = field(default=None, repr=False)

    def describe(self) -> dict:
        return {"rule": f"{gate_rule(self.features, self.k)} {GATE_DEGENERATE}", "k": self.k,
                "features": self.features,
                "real": self.real, "n_reference": self.n_reference, "reason": self.reason}

    def kept_groups(self, groups: Dict[str, List[int]]) -> Dict[str, List[int]]:
        """condition -> its kept indices (into the set), in order."""
        return {c: [i for i in idx if self.kept[i]] for c, idx in groups.items()}

    def kept_fractions(self, groups: Dict[str, List[int]]) -> Dict[str, float]:
        return {c: float(np.mean(self.kept[idx])) for c, idx in groups.items()}


def load_real(real: ImagesLike, k: int, *, skip_bad: bool = False, quiet: bool = True) -> ImageSet:
    """The real images of the gate, checked (>= 50, param ``real``): call it before long work."""
    from .prdc import load_set

    ref = load_set(real, param="real", metric="the realism gate", skip_bad=skip_bad, quiet=quiet)
    check_reference(ref, k, param="real")
    return ref


def realism_gate_of(images: ImageSet, real: ImagesLike, *, k: int = defaults.REALISM_K,
                    features: str = defaults.PRDC_FEATURES, preset: str = defaults.FID_PRESET,
                    inception_weights: "str | os.PathLike[str] | None" = None,
                    device: str = defaults.DEVICE, batch_size: int = defaults.BATCH_SIZE,
                    num_workers: int = defaults.NUM_WORKERS, skip_bad: bool = False,
                    quiet: bool = True) -> Gate:
    """The gate of ``images`` against the real images ``real`` (>= 50 of them, param ``real``).
    Without feature weights (none named, none found) the gate is not computed: ``reason``."""
    ref = load_real(real, k, skip_bad=skip_bad, quiet=quiet)
    feats = resolve_features(features, preset=preset, inception_weights=inception_weights,
                             vgg16_weights=None, device=device, batch_size=batch_size,
                             num_workers=num_workers)
    if feats.source is None:
        return Gate(None, None, None, k, features, describe(real), len(ref), feats.reason)
    masks = pixel_flags(images, ref, quiet)[0]
    degenerate = masks["blank"] | masks["saturated"] | masks["noise"]
    gen_f = feats.of(images, quiet)
    scores, realistic = realism_gate(gen_f, feats.of(ref, quiet), k=k)
    return Gate(realistic & ~degenerate, scores, degenerate, k, features, describe(real), len(ref),
                gen_features=gen_f)


def too_few(kept: int) -> str:
    return f"{kept} sample(s) pass the realism gate: no pair to compare"


def gated_mean(values: Dict[str, Optional[float]]) -> Optional[float]:
    """Mean over the conditions that have a value (None when none has)."""
    have = [v for v in values.values() if v is not None]
    return float(np.mean(have)) if have else None


def gated_lpips(model, image_set: ImageSet, gate: Gate, *, pairs: str, num_pairs: int, seed: int,
                resize, device, batch_size: int, plain: Dict[str, float]) -> dict:
    """LPIPS over each condition's kept samples (same pair protocol and seed as plain LPIPS):
    ``{"lpips_gated", "kept_fraction", "groups_gated", "kept_fraction_per_group",
    "gate": {..., "not_computed": {condition: reason}}}``. A condition whose samples all pass
    takes its ``plain`` value (the same pairs)."""
    from msgan_eval.metrics.lpips import condition_rng, plan_pairs

    from .lpips import condition_distances

    groups = image_set.groups()
    if gate.kept is None:
        return gate_summary(gate, groups, {c: None for c in groups}, {})
    values: Dict[str, Optional[float]] = {}
    missing: Dict[str, str] = {}
    for cond, kept in gate.kept_groups(groups).items():
        if len(kept) < 2:
            values[cond], missing[cond] = None, too_few(len(kept))
            continue
        if len(kept) == len(groups[cond]):
            values[cond] = plain[cond]
            continue
        plan = plan_pairs(len(kept), pairs, num_pairs, condition_rng(seed, cond))
        d = condition_distances(model, image_set, kept, plan.pairs, resize=resize, device=device,
                                batch_size=batch_size)
        values[cond] = float(d.mean())
    return gate_summary(gate, groups, values, missing, key="lpips")


def gate_summary(gate: Gate, groups: Dict[str, List[int]], values: Dict[str, Optional[float]],
                 missing: Dict[str, str], key: str = "lpips") -> dict:
    """The gated numbers of a result's JSON, for metric ``key`` (lpips | vendi)."""
    info = {**gate.describe(), "not_computed": missing}
    if gate.kept is None:
        return {f"{key}_gated": None, "kept_fraction": None, "groups_gated": values,
                "kept_fraction_per_group": {c: None for c in groups}, "gate": info}
    return {f"{key}_gated": gated_mean(values), "kept_fraction": float(np.mean(gate.kept)),
            "groups_gated": values, "kept_fraction_per_group": gate.kept_fractions(groups),
            "gate": info}


def gated_vendi(features: np.ndarray, groups: Dict[str, List[int]], gate: Gate) -> dict:
    """The Vendi score of each condition's kept samples (``vendi_gated``, ...)."""
    from msgan_eval.metrics.vendi import vendi_score

    if gate.kept is None:
        return gate_summary(gate, groups, {c: None for c in groups}, {}, key="vendi")
    values: Dict[str, Optional[float]] = {}
    missing: Dict[str, str] = {}
    for cond, kept in gate.kept_groups(groups).items():
        if len(kept) < 2:
            values[cond], missing[cond] = None, f"{len(kept)} sample(s) pass the realism gate"
            continue
        values[cond] = float(vendi_score(features[kept]))
    return gate_summary(gate, groups, values, missing, key="vendi")
