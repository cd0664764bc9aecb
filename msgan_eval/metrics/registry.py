"""Facts about every metric, in one table: adding a metric is a row here plus an evaluate module.

``family`` groups the metrics one evaluation computes together (NDB also gives JSD) and names the
``--metrics`` choice of ``compare``; the order of :data:`METRICS` is the order of reports, tables
and bootstrap streams. ``needs`` lists what a run of the family requires: ``inception_weights``,
``lpips_backbone`` (weights a comparison skips when they are missing offline) or
``reference_images`` (a FID statistics file as the reference is not enough).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Tuple


@dataclass(frozen=True)
class MetricFacts:
    name: str                 # key in JSON reports
    label: str                # shown in tables and charts
    family: str               # the evaluation that computes it (``compare --metrics``)
    higher_is_better: bool
    digits: int               # decimals shown in tables
    needs: Tuple[str, ...] = ()

    @property
    def better(self) -> str:
        return "higher" if self.higher_is_better else "lower"


METRICS: Tuple[MetricFacts, ...] = (
    MetricFacts("fid", "FID", "fid", False, 2, ("inception_weights",)),
    MetricFacts("lpips", "LPIPS diversity", "lpips", True, 4, ("lpips_backbone",)),
    MetricFacts("ndb", "NDB", "ndb", False, 1, ("reference_images",)),
    MetricFacts("jsd", "JSD", "ndb", False, 4, ("reference_images",)),
    # #14: appended (the family order seeds the bootstrap streams)
    MetricFacts("fid_per_class", "Per-class FID", "fid-per-class", False, 2,
                ("inception_weights", "reference_images")),
    MetricFacts("vendi", "Vendi score", "vendi", True, 3, ("inception_weights",)),
    # KID and the k-NN metrics need every reference image's Inception features (not FID statistics)
    MetricFacts("kid", "KID", "kid", False, 5, ("inception_weights", "reference_images")),
    MetricFacts("precision", "Precision", "prdc", True, 4, ("inception_weights", "reference_images")),
    MetricFacts("recall", "Recall", "prdc", True, 4, ("inception_weights", "reference_images")),
    MetricFacts("density", "Density", "prdc", True, 4, ("inception_weights", "reference_images")),
    MetricFacts("coverage", "Coverage", "prdc", True, 4, ("inception_weights", "reference_images")),
)
# Metrics of a trained model on a benchmark, compared over training trials (``msgan-eval modes``,
# ``compare`` of modes results), not over image sets: kept out of METRICS / FAMILIES, whose every
# family is an image comparison with a runner (evaluate/runners.py).
TRIAL_METRICS: Tuple[MetricFacts, ...] = (
    MetricFacts("modes", "Modes", "modes", True, 1),
    MetricFacts("high_quality", "High-quality fraction", "modes", True, 3),
    MetricFacts("reverse_kl", "Reverse KL", "modes", False, 3),
    MetricFacts("kl", "KL to uniform", "modes", False, 3),
)
FACTS: Dict[str, MetricFacts] = {m.name: m for m in METRICS + TRIAL_METRICS}
METRIC_NAMES: Tuple[str, ...] = tuple(m.name for m in METRICS)

# family -> its metrics, in table order (``compare --metrics`` choices, bootstrap stream index)
FAMILIES: Dict[str, Tuple[str, ...]] = {}
for _m in METRICS:
    FAMILIES.setdefault(_m.family, ())
    FAMILIES[_m.family] += (_m.name,)
del _m

CANDIDATE_BETTER = "candidate-better"
BASELINE_BETTER = "baseline-better"
NO_DIFFERENCE = "no-significant-difference"
VERDICTS: Tuple[str, ...] = (CANDIDATE_BETTER, BASELINE_BETTER, NO_DIFFERENCE)


def family_needs(family: str) -> Tuple[str, ...]:
    """What a run of ``family`` needs (the union over its metrics, in table order)."""
    out: Tuple[str, ...] = ()
    for name in FAMILIES[family]:
        out += tuple(n for n in FACTS[name].needs if n not in out)
    return out
