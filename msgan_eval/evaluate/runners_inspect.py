"""``compare``'s runners built on ``inspect`` (#22): the degenerate fraction and gated LPIPS.

``degenerate``: the share of each run's samples that ``inspect`` flags blank, saturated or noise
(flags calibrated on the reference images: evaluate/inspect.py), with a bootstrap over the samples
(``bootstrap_flagged_fraction``: resampled within each condition). The flag counts, the per-
condition shares and the first flagged images go into the report's details, so its reasons can
say *which* defects ("38% of the candidate's samples flagged: noise 30%, blank 8%") and the HTML
can show them.

``lpips_gated``: LPIPS diversity over the samples whose realism score against the reference is
>= 1 (``evaluate/gate.py``, as ``msgan-eval lpips --real``; its k is compare's ``prdc_k``, so a
sample passes exactly when it lies in precision's k-NN balls): each condition's kept samples get the
same pair protocol and seed as plain LPIPS, a condition with fewer than 2 kept samples is left out
(named in the details), and the pair distances of the others are bootstrapped as plain LPIPS's
(the gate itself is held fixed). A run with no condition of 2 kept samples has no diversity among
realistic samples: its gated LPIPS is 0 (``msgan-eval lpips --real`` says None), with a note.
"""
from __future__ import annotations

from typing import Dict

import numpy as np

from msgan_eval import defaults, distributed
from msgan_eval.errors import WeightsUnavailable
from msgan_eval.images import ImageSet
from msgan_eval.metrics import bootstrap as bs
from msgan_eval.report.compare import CompareConfig, Log, MetricOutcome, Reference, run_rng

FLAGGED_SHOWN = 24      # flagged images per run named in the report (the HTML shows them)


def inception_preset(cfg: CompareConfig) -> str:
    """The flags and the realism gate read Inception pool3: ``--preset`` when ``--features`` is
    Inception, else pytorch-fid's (a DINOv2 / CLIP preset does not apply to Inception, #25)."""
    return cfg.preset if cfg.features == "inception" else defaults.FID_PRESET


def _inspect(images: ImageSet, ref: Reference, cfg: CompareConfig, quiet: bool):
    """``inspect`` of one run against the reference, with compare's Inception weights, preset and
    ``prdc_k`` (its features are the memoised ones FID and PRDC read; its realism balls those of
    precision)."""
    from .inspect import inspect

    return inspect(images, ref.images, k=cfg.prdc_k, inception_weights=cfg.inception_weights,
                   preset=inception_preset(cfg), device=cfg.device, batch_size=cfg.batch_size,
                   num_workers=cfg.num_workers, quiet=quiet)


def run_degenerate(runs: Dict[str, ImageSet], ref: Reference, cfg: CompareConfig, quiet: bool,
                   log: Log) -> MetricOutcome:
    from msgan_eval.metrics.bootstrap_classes import bootstrap_flagged_fraction

    from .inspect import DEGENERATE

    out = MetricOutcome()
    est, details = {}, {"flags": list(DEGENERATE)}
    for run, images in runs.items():
        log(f"degenerate: {run} ({len(images)} images; flags calibrated on the reference)")
        result = _inspect(images, ref, cfg, quiet)
        if not distributed.is_main_process():
            continue                      # rank 0 alone bootstraps
        conditions = np.asarray(result.conditions, dtype=object)
        groups = {c: np.flatnonzero(conditions == c) for c in sorted(set(result.conditions))}
        est[run], per_condition = bootstrap_flagged_fraction(
            result.degenerate, groups, rng=run_rng(cfg.seed, run, "degenerate"),
            n_boot=cfg.bootstrap, confidence=cfg.confidence)
        details[run] = _run_details(result, per_condition, DEGENERATE)
        details["thresholds"] = {f: result.thresholds[f] for f in DEGENERATE if f in result.thresholds}
        out.notes += [f"degenerate: {run}: {n}" for n in result.notes]
    out.estimates["degenerate"] = est
    out.details["degenerate"] = details
    return out


def _run_details(result, per_condition: Dict[str, float], flags) -> dict:
    """One run's flag counts and shares, per-condition shares, side fractions and first flagged."""
    n = max(result.n, 1)
    counts = {f: int(result.flag(f).sum()) for f in flags}
    flagged = np.flatnonzero(result.degenerate)
    return {"n": result.n, "fraction": float(result.degenerate.mean()) if result.n else 0.0,
            "counts": counts, "fractions": {f: c / n for f, c in counts.items()},
            "per_condition": per_condition,
            "side_fractions": {k: v for k, v in result.fractions().items() if k != "degenerate_fraction"},
            "flagged": [{"index": int(i), "path": result.paths[i],
                         "flags": [f for f in flags if result.flag(f)[i]]}
                        for i in flagged[:FLAGGED_SHOWN]]}


def run_lpips_gated(runs: Dict[str, ImageSet], ref: Reference, cfg: CompareConfig, quiet: bool,
                    log: Log) -> MetricOutcome:
    from msgan_eval.features.lpips_net import resolve_lpips_backbone

    from .gate import realism_gate_of

    backbone = resolve_lpips_backbone(cfg.lpips_net, cfg.lpips_backbone)   # skip before any work
    out = MetricOutcome(weights={backbone.spec.key: backbone.as_dict()})
    est, details = {}, {}
    for run, images in runs.items():
        log(f"lpips-gated: {run} realism gate, then {cfg.lpips_net} LPIPS of the kept samples")
        gate = realism_gate_of(images, ref.images, k=cfg.prdc_k, preset=inception_preset(cfg),
                               inception_weights=cfg.inception_weights, device=cfg.device,
                               batch_size=cfg.batch_size, num_workers=cfg.num_workers, quiet=quiet)
        if gate.kept is None:                 # no feature weights found offline: skip, with why
            raise WeightsUnavailable(f"the realism gate needs features: {gate.reason}")
        groups = images.groups()
        kept = {c: [i for i in idx if gate.kept[i]] for c, idx in groups.items()}
        pairable = {c: idx for c, idx in kept.items() if len(idx) >= 2}
        distances = _kept_distances(images, pairable, cfg, backbone.path, quiet) if pairable else {}
        if not distributed.is_main_process():
            continue
        est[run] = _gated_estimate(distances, run, cfg, out)
        details[run] = {"kept_fraction": float(np.mean(gate.kept)) if len(gate.kept) else 0.0,
                        "kept_per_condition": {c: len(kept[c]) / len(groups[c]) for c in groups},
                        "per_condition": {c: float(np.mean(d)) for c, d in distances.items()},
                        "not_computed": {c: f"{len(kept[c])} sample(s) pass the realism gate: no pair"
                                         for c in groups if c not in pairable}}
        details["gate"] = gate.describe()
    out.estimates["lpips_gated"] = est
    out.details["lpips_gated"] = details
    return out


def _kept_distances(images: ImageSet, pairable: Dict[str, list], cfg: CompareConfig, backbone,
                    quiet: bool) -> Dict[str, np.ndarray]:
    """Pair distances of each condition's kept samples: the subset keeps the condition names,
    so each condition's pairs come from the same seed as ``gate.gated_lpips``'s."""
    from msgan_eval.errors import ParameterError

    from .lpips import sharded_pair_distances
    from .runners import LPIPS_NAMES

    subset = images.subset([i for idx in pairable.values() for i in idx])
    try:
        return sharded_pair_distances(subset, net=cfg.lpips_net, pairs=cfg.lpips_pairs,
                                      num_pairs=cfg.lpips_num_pairs, seed=cfg.seed,
                                      device=cfg.device, batch_size=cfg.batch_size,
                                      resize=cfg.lpips_resize, backbone_weights=backbone, quiet=quiet)
    except ParameterError as exc:
        raise exc.renamed(LPIPS_NAMES) from None


def _gated_estimate(distances: Dict[str, np.ndarray], run: str, cfg: CompareConfig,
                    out: MetricOutcome) -> bs.BootstrapEstimate:
    if not distances:
        out.notes.append(f"lpips-gated: {run}: no condition has 2 samples passing the realism gate; "
                         "its gated LPIPS is 0 (no diversity among realistic samples)")
        return bs.recentred_interval(0.0, np.zeros(cfg.bootstrap), cfg.confidence)
    return bs.bootstrap_lpips(distances, rng=run_rng(cfg.seed, run, "lpips-gated"),
                              n_boot=cfg.bootstrap, confidence=cfg.confidence)
