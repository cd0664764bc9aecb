"""compare with several training runs per arm: per-run values, their spread, a pooled verdict.

Each run is measured exactly as a one-run ``compare`` measures it (same metric runners, same
reference statistics and bins; run ``i`` of an arm uses seed ``seed + i`` for its pairs and
resamples). Each arm's estimate is the mean of its runs' values, with the two-level bootstrap of
``metrics.multirun`` (runs, then each run's own replicates); the verdicts come from those pooled
replicates through the usual ``compare_estimates``, so they cover training-seed variance.

The report keeps the one-run schema: ``runs``/``deltas``/``verdicts`` hold the pooled numbers,
``inputs`` name each arm's first run, and ``details.multirun`` lists every run's path and value
and the between-run spread.
"""
from __future__ import annotations

import dataclasses
import time
from typing import Dict, List, Optional, Sequence

import numpy as np

from msgan_eval.errors import ParameterError, WeightsUnavailable
from msgan_eval.images import ImageSet
from msgan_eval.metrics.multirun import pooled_estimate, run_spread
from msgan_eval.metrics.registry import FAMILIES
from msgan_eval.report.compare import (
    CompareConfig,
    Log,
    MetricOutcome,
    Reference,
    assemble_report,
    input_summary,
)
from msgan_eval.report.schema import METRICS, RUNS

from .runners import RUNNERS, cannot_run, weights_named

METHOD = ("two-level bootstrap: runs drawn with replacement, then one of each drawn run's own "
          "sample-level replicates; deviations widened by sqrt(k/(k-1)) * t(2(k-1))/z")


def _measure(family: str, arm: str, images: ImageSet, index: int, reference: Reference,
             config: CompareConfig, quiet: bool, log: Log) -> MetricOutcome:
    run_config = dataclasses.replace(config, seed=config.seed + index)
    log(f"{family}: {arm} run {index + 1}")
    return RUNNERS[family]({arm: images}, reference, run_config, quiet, log)


def check_runs(arms: Dict[str, Sequence[ImageSet]]) -> None:
    """ParameterError naming the arm when one of its runs is given twice (the same folder, or the
    same files under another name: it would count as two seeds) or when its runs do not share one
    set of conditions (a glob that caught another experiment's run)."""
    for arm, sets in arms.items():
        seen: Dict[str, ImageSet] = {}
        for images in sets:
            key = _identity(images)
            if key in seen:
                raise ParameterError(f"{{{arm}}} {images.source}: the same images as "
                                     f"{seen[key].source} (given twice); each run must be another "
                                     "training seed", arm)
            seen[key] = images
        first = sets[0]
        for images in sets[1:]:
            if images.conditions != first.conditions:
                extra = sorted(set(images.conditions) ^ set(first.conditions))[:3]
                raise ParameterError(f"{{{arm}}} {images.source}: its conditions differ from "
                                     f"{first.source}'s (e.g. {', '.join(map(repr, extra))}); the "
                                     "runs of an arm must share one set of classes", arm)


def _identity(images: ImageSet) -> str:
    """What a run is: its files (resolved, so a symlink or ``./x`` is the same folder), or for
    in-memory images their pixels. Not the file-list fingerprint: two seeds' folders of random-ish
    PNGs can share names and sizes."""
    import hashlib

    from msgan_eval.images import InMemoryImageSet

    if isinstance(images, InMemoryImageSet):
        return images.fingerprint()
    h = hashlib.sha256()
    for ref in sorted(images.refs, key=lambda r: (str(r.path), r.index)):
        h.update(f"{ref.path.resolve()}\t{ref.index}\n".encode("utf-8", "surrogateescape"))
    return h.hexdigest()


def run_count_notes(arms: Dict[str, Sequence]) -> List[str]:
    """A note when the arms have different numbers of runs: one run has no seed-to-seed spread."""
    counts = {arm: len(sets) for arm, sets in arms.items()}
    if len(set(counts.values())) == 1:
        return []
    words = ", ".join(f"{arm} {n}" for arm, n in counts.items())
    few = min(counts, key=counts.get)
    return [f"runs per arm differ ({words}): {few}'s interval covers less (or, with one run, none) "
            "of the seed-to-seed spread, so the verdict leans on the other arm's; train as many "
            "seeds for both"]


def compare_multirun(baselines: Sequence[ImageSet], candidates: Sequence[ImageSet],
                     reference: Reference, config: CompareConfig, *, quiet: bool = True,
                     log: Optional[Log] = None, command: Optional[List[str]] = None) -> dict:
    """The compare report of several runs per arm (one process; see the module docstring)."""
    log = log or (lambda msg: None)
    arms = {"baseline": list(baselines), "candidate": list(candidates)}
    check_runs(arms)
    per_run: Dict[str, Dict[str, list]] = {}        # metric -> arm -> [estimate per run]
    outcomes: Dict[str, MetricOutcome] = {}
    skipped: Dict[str, str] = {}
    seconds: Dict[str, float] = {}
    for family in (f for f in FAMILIES if f in config.metrics):
        start, reason = time.perf_counter(), cannot_run(family, reference)
        first = MetricOutcome()
        try:
            for arm, image_sets in (() if reason else arms.items()):
                for i, images in enumerate(image_sets):
                    got = _measure(family, arm, images, i, reference, config, quiet, log)
                    if i == 0:
                        _merge_first(first, got)
                    for metric, by_run in got.estimates.items():
                        per_run.setdefault(metric, {}).setdefault(arm, []).append(by_run[arm])
        except WeightsUnavailable as exc:
            if weights_named(family, config):
                raise
            reason = str(exc)
        if reason is not None:
            log(f"{family}: skipped: {reason}")
            skipped.update({metric: reason for metric in FAMILIES[family]})
        else:
            outcomes[family] = first
        seconds[family] = round(time.perf_counter() - start, 3)
    _pool(outcomes, per_run, config)
    report = assemble_report({arm: sets[0] for arm, sets in arms.items()}, reference, config,
                             outcomes, skipped, seconds, command or [])
    report["bootstrap"]["method"] += f"; several runs per arm: {METHOD}"
    report["details"]["multirun"] = _details(arms, per_run)
    report["notes"] += run_count_notes(arms)
    return report


def _merge_first(first: MetricOutcome, got: MetricOutcome) -> None:
    """Weights, notes and details (e.g. NDB's per-bin proportions) of each arm's first run."""
    first.weights.update(got.weights)
    first.notes += got.notes
    for key, value in got.details.items():
        if isinstance(value, dict) and isinstance(first.details.get(key), dict):
            first.details[key].update(value)
        else:
            first.details[key] = value


def _pool(outcomes: Dict[str, MetricOutcome], per_run: Dict[str, Dict[str, list]],
          config: CompareConfig) -> None:
    for family, outcome in outcomes.items():
        for metric in FAMILIES[family]:
            outcome.estimates[metric] = {
                arm: pooled_estimate(per_run[metric][arm], n_boot=config.bootstrap,
                                     confidence=config.confidence,
                                     rng=np.random.default_rng([config.seed, RUNS.index(arm),
                                                                METRICS.index(metric), 7]))
                for arm in RUNS}


def _details(arms: Dict[str, List[ImageSet]], per_run: Dict[str, Dict[str, list]]) -> dict:
    out: dict = {"method": METHOD, "inputs": {arm: [input_summary(s) for s in sets]
                                              for arm, sets in arms.items()}, "metrics": {}}
    for metric, by_arm in per_run.items():
        out["metrics"][metric] = {
            arm: {"values": [e.value for e in ests], "ci": [[e.low, e.high] for e in ests],
                  "spread": run_spread([e.value for e in ests])}
            for arm, ests in by_arm.items()}
    return out


def multirun_lines(report: dict) -> List[str]:
    """Plain-text lines: each metric's per-run values and between-run spread, per arm."""
    details = report.get("details", {}).get("multirun")
    if not details:
        return []
    lines = [f"several runs per arm ({details['method']}):"]
    for metric, by_arm in details["metrics"].items():
        for arm, entry in by_arm.items():
            values = ", ".join(f"{v:.4g}" for v in entry["values"])
            s = entry["spread"]
            lines.append(f"  {metric} {arm}: runs [{values}]; mean {s['mean']:.4g}, "
                         f"between-run sd {s['sd']:.3g}")
    return lines
