"""Facts about every metric, in one table: adding a metric is a row here plus an evaluate module.

``family`` groups the metrics one evaluation computes together (NDB also gives JSD) and names the
``--metrics`` choice of ``compare``; the order of :data:`METRICS` is the order of reports, tables
and bootstrap streams. ``needs`` lists what a run of the family requires: ``inception_weights``,
``lpips_backbone``, ``cmmd_weights`` (weights a comparison skips when they are missing offline),
``reference_images`` (a FID statistics file as the reference is not enough) or
``calibration_images`` (enough reference images to calibrate inspect's flags:
``defaults.INSPECT_MIN_REFERENCE``; fewer and the comparison skips the metric with the reason).

``role`` says what a metric measures, for the joint verdict of ``compare``
(:mod:`msgan_eval.metrics.overall`) and the quality-diversity plot: ``fidelity`` (are the samples
like real ones: FID, KID, precision, density, per-class FID, the degenerate fraction) or
``diversity`` (do they vary and cover the reference: LPIPS, recall, coverage, Vendi, NDB, JSD).
Every row declares one; a new row without it fails at import.
With ``compare --features`` other than Inception, ``inception_weights`` stands for that
network's weights.
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
    role: str = ""            # FIDELITY or DIVERSITY (see the module docstring)

    @property
    def better(self) -> str:
        return "higher" if self.higher_is_better else "lower"


FIDELITY = "fidelity"
DIVERSITY = "diversity"
ROLES: Tuple[str, ...] = (FIDELITY, DIVERSITY)

METRICS: Tuple[MetricFacts, ...] = (
    MetricFacts("fid", "FID", "fid", False, 2, ("inception_weights",), role=FIDELITY),
    MetricFacts("lpips", "LPIPS diversity", "lpips", True, 4, ("lpips_backbone",), role=DIVERSITY),
    MetricFacts("ndb", "NDB", "ndb", False, 1, ("reference_images",), role=DIVERSITY),
    MetricFacts("jsd", "JSD", "ndb", False, 4, ("reference_images",), role=DIVERSITY),
    # #14: appended (the family order seeds the bootstrap streams)
    MetricFacts("fid_per_class", "Per-class FID", "fid-per-class", False, 2,
                ("inception_weights", "reference_images"), role=FIDELITY),
    MetricFacts("vendi", "Vendi score", "vendi", True, 3, ("inception_weights",), role=DIVERSITY),
    # KID and the k-NN metrics need every reference image's Inception features (not FID statistics)
    MetricFacts("kid", "KID", "kid", False, 5, ("inception_weights", "reference_images"), role=FIDELITY),
    MetricFacts("precision", "Precision", "prdc", True, 4, ("inception_weights", "reference_images"), role=FIDELITY),
    MetricFacts("recall", "Recall", "prdc", True, 4, ("inception_weights", "reference_images"), role=DIVERSITY),
    MetricFacts("density", "Density", "prdc", True, 4, ("inception_weights", "reference_images"), role=FIDELITY),
    MetricFacts("coverage", "Coverage", "prdc", True, 4, ("inception_weights", "reference_images"), role=DIVERSITY),
    # #22: share of samples flagged blank, saturated or noise by inspect (evaluate/inspect.py)
    MetricFacts("degenerate", "Degenerate fraction", "degenerate", False, 3,
                ("reference_images", "calibration_images"), role=FIDELITY),
    # #22: LPIPS diversity over the samples that pass the realism gate (evaluate/gate.py)
    MetricFacts("lpips_gated", "Gated LPIPS", "lpips-gated", True, 4,
                ("lpips_backbone", "inception_weights", "reference_images", "calibration_images"),
                role=DIVERSITY),
    # #25: appended (the order seeds the bootstrap streams); CLIP embeddings of every image; like
    # FID and KID a distance to the reference distribution, counted as fidelity
    MetricFacts("cmmd", "CMMD", "cmmd", False, 4, ("cmmd_weights", "reference_images"),
                role=FIDELITY),
)
_unroled = [m.name for m in METRICS if m.role not in ROLES]
assert not _unroled, f"metrics {_unroled} need role=FIDELITY or role=DIVERSITY in metrics/registry.py"
del _unroled
# Metrics of a trained model on a benchmark, compared over training trials (``msgan-eval modes``,
# ``compare`` of modes results), not over image sets: kept out of METRICS / FAMILIES, whose every
# family is an image comparison with a runner (evaluate/runners.py).
TRIAL_METRICS: Tuple[MetricFacts, ...] = (
    MetricFacts("modes", "Modes", "modes", True, 1, role=DIVERSITY),
    MetricFacts("high_quality", "High-quality fraction", "modes", True, 3, role=FIDELITY),
    MetricFacts("reverse_kl", "Reverse KL", "modes", False, 3, role=DIVERSITY),
    MetricFacts("kl", "KL to uniform", "modes", False, 3, role=DIVERSITY),
)
FACTS: Dict[str, MetricFacts] = {m.name: m for m in METRICS}
METRIC_NAMES: Tuple[str, ...] = tuple(FACTS)
TRIAL_FACTS: Dict[str, MetricFacts] = {m.name: m for m in TRIAL_METRICS}

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
# the joint verdict over every metric (metrics/overall.py): the per-metric ones and a trade-off
TRADE_OFF = "trade-off"
OVERALL_VERDICTS: Tuple[str, ...] = (CANDIDATE_BETTER, BASELINE_BETTER, TRADE_OFF, NO_DIFFERENCE)


def family_needs(family: str) -> Tuple[str, ...]:
    """What a run of ``family`` needs (the union over its metrics, in table order)."""
    out: Tuple[str, ...] = ()
    for name in FAMILIES[family]:
        out += tuple(n for n in FACTS[name].needs if n not in out)
    return out
