"""The joint quality-diversity verdict of ``compare``, over its per-metric verdicts (pure).

Each metric's verdict comes from the bootstrap of ``candidate - baseline``
(``bootstrap.compare_estimates``); this joins them into one:

- ``candidate-better``: significantly better on at least one metric, significantly worse on none;
- ``baseline-better``: the mirror (worse on at least one, better on none);
- ``trade-off``: better on some metrics and worse on others; the reasons name which, grouped by
  the metrics' roles (``registry.FIDELITY``, ``registry.DIVERSITY``);
- ``no-significant-difference``: no metric differs.

Why a joint verdict: a diversity metric alone rewards noise (static has a high LPIPS diversity), so
a candidate that gains diversity by paying in fidelity (FID, the degenerate fraction) is a
trade-off, not a win. Every measured metric counts once and alike (NDB and JSD are two metrics);
there is no correction for testing several metrics at once, so with many metrics a lone
significant verdict at the 95 % level deserves a second look (see docs/compare-verdicts.md).
Skipped metrics are not part of the verdict; the reasons name them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence, Tuple

from .registry import (
    BASELINE_BETTER,
    CANDIDATE_BETTER,
    DIVERSITY,
    FACTS,
    FIDELITY,
    NO_DIFFERENCE,
    ROLES,
    TRADE_OFF,
    MetricFacts,
)

DEGENERATE = "degenerate"     # the metric whose reason names the flags (evaluate/inspect.py)


@dataclass(frozen=True)
class Overall:
    """The joint verdict, its reasons (sentences), and the metrics it rests on."""

    verdict: str                 # one of registry.OVERALL_VERDICTS
    reasons: Tuple[str, ...]
    better: Tuple[str, ...]      # metrics on which the candidate is significantly better
    worse: Tuple[str, ...]       # ... significantly worse

    def as_dict(self) -> dict:
        return {"verdict": self.verdict, "reasons": list(self.reasons), "better": list(self.better),
                "worse": list(self.worse)}


def overall_verdict(verdicts: Mapping[str, str], deltas: Mapping[str, float], *,
                    values: Optional[Mapping[str, Mapping[str, float]]] = None,
                    flags: Optional[Mapping[str, Mapping[str, float]]] = None,
                    skipped: Sequence[str] = (),
                    facts: Mapping[str, MetricFacts] = FACTS) -> Overall:
    """Join per-metric verdicts into one (rule in the module docstring).

    Args:
        verdicts: metric -> its verdict (``registry.VERDICTS``), for every measured metric.
        deltas: metric -> ``candidate - baseline`` (named in the reasons).
        values: arm -> metric -> estimate (the degenerate fraction of the worse arm is named).
        flags: arm -> flag -> fraction of the arm's samples (``blank``, ``noise``, ...).
        skipped: metrics that did not run (named as not measured).
        facts: the metric table the verdicts come from (``registry.TRIAL_FACTS`` for mode
            counting over training trials).

    Returns:
        Overall: the verdict, its reasons, and the metrics it rests on.

    >>> o = overall_verdict({"lpips": "candidate-better", "fid": "baseline-better"},
    ...                     {"lpips": 0.34, "fid": 136.0})
    >>> o.verdict, o.reasons[0]
    ('trade-off', 'candidate better on diversity: LPIPS diversity +0.3400; worse on fidelity: FID +136.00')
    """
    unknown = [m for m in verdicts if m not in facts]
    if unknown:
        raise ValueError(f"overall_verdict: unknown metrics {unknown}")
    better = tuple(m for m in facts if verdicts.get(m) == CANDIDATE_BETTER)
    worse = tuple(m for m in facts if verdicts.get(m) == BASELINE_BETTER)
    if better and worse:
        verdict = TRADE_OFF
    elif better or worse:
        verdict = CANDIDATE_BETTER if better else BASELINE_BETTER
    else:
        verdict = NO_DIFFERENCE
    say = _Phrases(deltas, values or {}, flags or {}, facts)
    measured = [m for m in facts if m in verdicts]
    reasons = [_headline(verdict, better, worse, measured, say)]
    reasons += _reading(verdict, better, worse, measured, facts)
    not_measured = [facts[m].label for m in facts if m in skipped and m not in verdicts]
    if not_measured:
        reasons.append(f"not measured (skipped, see the reasons in the report): {', '.join(not_measured)}")
    return Overall(verdict, tuple(reasons), better, worse)


@dataclass(frozen=True)
class _Phrases:
    deltas: Mapping[str, float]
    values: Mapping[str, Mapping[str, float]]
    flags: Mapping[str, Mapping[str, float]]
    facts: Mapping[str, MetricFacts] = field(default_factory=lambda: FACTS)

    def metric(self, metric: str, worse_arm: str) -> str:
        facts = self.facts[metric]
        text = f"{facts.label} {self.deltas[metric]:+.{facts.digits}f}"
        if metric == DEGENERATE and DEGENERATE in self.values.get(worse_arm, {}):
            text += f" ({self.flagged(worse_arm)})"
        return text

    def flagged(self, arm: str) -> str:
        """'38% of the candidate's samples flagged: noise 30%, blank 8%'."""
        shares = sorted(((f, p) for f, p in self.flags.get(arm, {}).items() if p > 0),
                        key=lambda fp: (-fp[1], fp[0]))
        which = ", ".join(f"{flag} {p:.0%}" for flag, p in shares)
        return (f"{self.values[arm][DEGENERATE]:.0%} of the {arm}'s samples flagged"
                + (f": {which}" if which else ""))

    def by_role(self, metrics: Sequence[str], worse_arm: str) -> str:
        groups = []
        for role in ROLES:
            named = [self.metric(m, worse_arm) for m in metrics if self.facts[m].role == role]
            if named:
                groups.append(f"{role}: {', '.join(named)}")
        return "; ".join(groups)


def _headline(verdict: str, better: Sequence[str], worse: Sequence[str], measured: Sequence[str],
              say: _Phrases) -> str:
    n = f"{len(measured)} metric{'s' if len(measured) != 1 else ''} measured"
    if verdict == TRADE_OFF:
        return (f"candidate better on {say.by_role(better, 'baseline')}; "
                f"worse on {say.by_role(worse, 'candidate')}")
    if verdict == CANDIDATE_BETTER:
        return f"candidate better on {say.by_role(better, 'baseline')}; worse on none of the {n}"
    if verdict == BASELINE_BETTER:
        return f"candidate worse on {say.by_role(worse, 'candidate')}; better on none of the {n}"
    if not measured:
        return "no metric measured"
    labels = ", ".join(say.facts[m].label for m in measured)
    return f"no significant difference on any of the {n} ({labels})"


def _reading(verdict: str, better: Sequence[str], worse: Sequence[str],
             measured: Sequence[str], facts: Mapping[str, MetricFacts] = FACTS) -> list:
    """What the pattern of roles suggests, where it is clear-cut."""

    def _roles(metrics: Sequence[str]) -> set:
        return {facts[m].role for m in metrics}

    if verdict == TRADE_OFF and _roles(better) == {DIVERSITY} and _roles(worse) == {FIDELITY}:
        return ["more diverse but less faithful: the extra diversity may be defects or noise "
                "rather than new modes (look at the samples and the degenerate fraction)"]
    if verdict == TRADE_OFF and _roles(better) == {FIDELITY} and _roles(worse) == {DIVERSITY}:
        return ["more faithful but less diverse: the usual sign of mode dropping or collapse"]
    if (verdict == CANDIDATE_BETTER and _roles(better) == {DIVERSITY}
            and DEGENERATE in facts and DEGENERATE not in measured):
        return ["only diversity improved and degenerate samples were not inspected (add "
                "degenerate to the metrics): diversity alone rewards noise"]
    return []
