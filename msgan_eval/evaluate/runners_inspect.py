"""``compare``'s runners built on ``inspect`` (#22): the degenerate fraction and gated LPIPS.

``degenerate``: the share of each run's samples that ``inspect`` flags blank, saturated or noise
(flags calibrated on the reference images: evaluate/inspect.py), with a bootstrap over the samples
(``bootstrap_flagged_fraction``: resampled within each condition). The flag counts, the per-
condition shares and the first flagged images go into the report's details, so its reasons can
say *which* defects ("38% of the candidate's samples flagged: noise 30%, blank 8%") and the HTML
can show them.
"""
from __future__ import annotations

from typing import Dict

import numpy as np

from msgan_eval import distributed
from msgan_eval.images import ImageSet
from msgan_eval.report.compare import CompareConfig, Log, MetricOutcome, Reference, run_rng

FLAGGED_SHOWN = 24      # flagged images per run named in the report (the HTML shows them)


def _inspect(images: ImageSet, ref: Reference, cfg: CompareConfig, quiet: bool):
    """``inspect`` of one run against the reference, with compare's Inception weights and preset
    (its features are the memoised ones FID and PRDC read)."""
    from .inspect import inspect

    return inspect(images, ref.images, inception_weights=cfg.inception_weights, preset=cfg.preset,
                   device=cfg.device, batch_size=cfg.batch_size, num_workers=cfg.num_workers,
                   quiet=quiet)


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
