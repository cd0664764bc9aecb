"""Mode-counting results over training trials: mean +- standard error, and baseline vs candidate.

PacGAN's Tables 1-2 give each arm's mean +- standard error over 10 trials. A comparison of two
arms gives, per metric, the difference of the means with a 95% Welch t interval over the trials,
and a verdict from that interval (the metric's better direction from ``metrics/registry.py``):
an interval that excludes 0 decides, one that holds 0 is no significant difference.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from msgan_eval import __version__
from msgan_eval.errors import ParameterError
from msgan_eval.metrics.registry import BASELINE_BETTER, CANDIDATE_BETTER, NO_DIFFERENCE
from msgan_eval.metrics.registry import TRIAL_FACTS as FACTS

SCHEMA = "msgan-eval/modes-trials/1"
METRICS_2D = ("modes", "high_quality", "reverse_kl")
METRICS_STACKED = ("modes", "kl")
CONFIDENCE = 0.95


def mean_se(values: Sequence[float]) -> Dict[str, Optional[float]]:
    """Mean and standard error (sample std, ddof 1, over sqrt(n)) of the non-None values."""
    xs = [float(v) for v in values if v is not None]
    n = len(xs)
    if n == 0:
        return {"mean": None, "se": None, "n": 0}
    mean = math.fsum(xs) / n
    se = math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / (n - 1) / n) if n > 1 else None
    return {"mean": mean, "se": se, "n": n}


def metrics_of(trials: List[dict]) -> tuple:
    return METRICS_2D if "high_quality" in trials[0] else METRICS_STACKED


def summarise(trials: List[dict]) -> Dict[str, dict]:
    """metric -> {mean, se, n} over the trials (a trial whose KL is None is left out of that
    metric's n)."""
    return {m: mean_se([t.get(m) for t in trials]) for m in metrics_of(trials)}


def load_trials(path: "str | os.PathLike[str]", option: str) -> dict:
    """A modes-trials result (``modes.json``, or a run folder holding one)."""
    p = Path(path)
    if p.is_dir():
        p = p / "modes.json"
    if not p.is_file():
        raise ParameterError(f"{option} {path}: no modes.json there; give a 2D run folder of "
                             "`msgan-eval train --dataset ring|grid` or its modes.json")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ParameterError(f"{option} {p}: not readable JSON ({exc}); re-create it") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA or \
            not isinstance(data.get("trials"), list) or not data["trials"]:
        raise ParameterError(f"{option} {p}: not a modes result of msgan-eval ({SCHEMA}) with "
                             "at least one trial")
    for t in data["trials"]:
        if not isinstance(t, dict) or type(t.get("modes")) is not int:
            raise ParameterError(f"{option} {p}: a trial without an integer 'modes'; re-create it")
    data["path"] = str(p)
    return data


def is_trials_result(path: "str | os.PathLike[str]") -> bool:
    """Whether ``path`` is a modes.json (or a folder holding one) rather than images."""
    p = Path(path)
    return (p / "modes.json").is_file() if p.is_dir() else p.suffix.lower() == ".json"


def welch_interval(a: List[float], b: List[float], confidence: float = CONFIDENCE):
    """(difference of means b - a, low, high) with Welch's t interval; None bounds when a side
    has fewer than 2 values."""
    from scipy import stats

    sa, sb = mean_se(a), mean_se(b)
    diff = sb["mean"] - sa["mean"]
    if sa["se"] is None or sb["se"] is None:
        return diff, None, None
    va, vb = sa["se"] ** 2, sb["se"] ** 2
    if va + vb == 0:
        return diff, diff, diff
    dof = (va + vb) ** 2 / (va ** 2 / (sa["n"] - 1) + vb ** 2 / (sb["n"] - 1))
    half = stats.t.ppf(0.5 + confidence / 2, dof) * math.sqrt(va + vb)
    return diff, diff - half, diff + half


def verdict(metric: str, low: Optional[float], high: Optional[float]) -> str:
    if low is None or high is None or low <= 0 <= high:
        return NO_DIFFERENCE
    up = low > 0
    return CANDIDATE_BETTER if up == FACTS[metric].higher_is_better else BASELINE_BETTER


@dataclass
class ModesComparison:
    baseline: dict
    candidate: dict
    metrics: Dict[str, dict]
    notes: List[str] = field(default_factory=list)
    version: str = __version__

    @property
    def verdicts(self) -> Dict[str, str]:
        return {m: v["verdict"] for m, v in self.metrics.items()}

    @property
    def overall(self) -> dict:
        """The joint verdict over the metrics (``metrics.overall``, the rule of image
        ``compare``): modes and KL are diversity, the high-quality fraction fidelity."""
        from msgan_eval.metrics.overall import overall_verdict

        deltas = {m: v["delta"] for m, v in self.metrics.items() if v["delta"] is not None}
        return overall_verdict({m: self.verdicts[m] for m in deltas}, deltas, facts=FACTS).as_dict()

    def to_dict(self) -> dict:
        return {"kind": "modes-trials", "baseline": self.baseline, "candidate": self.candidate,
                "metrics": self.metrics, "verdicts": self.verdicts, "overall": self.overall,
                "confidence": CONFIDENCE, "notes": list(self.notes), "version": self.version}


def _side(data: dict) -> dict:
    side = {k: data.get(k) for k in ("path", "layout", "arm", "ms_weight", "pack", "step")}
    return {**side, "trials": len(data["trials"])}


def load_side(paths, option: str) -> dict:
    """One arm from one or several modes results (several: one run per trial, e.g. the stacked
    trainer's), their trials pooled; they must share layout and arm."""
    paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    parts = [load_trials(p, option) for p in paths]
    first = parts[0]
    for part in parts[1:]:
        if (part.get("layout"), part.get("arm")) != (first.get("layout"), first.get("arm")):
            raise ParameterError(f"{option} {part['path']}: {part.get('arm')} on the "
                                 f"{part.get('layout')}, but {first['path']} is {first.get('arm')} "
                                 f"on the {first.get('layout')}; give one arm per side")
    if len(parts) == 1:
        return first
    return {**first, "path": ", ".join(p["path"] for p in parts),
            "trials": [t for p in parts for t in p["trials"]]}


def compare_trials(baseline, candidate) -> ModesComparison:
    """Baseline vs candidate arm over their trials (paths of modes.json or run folders; a list
    pools the trials of several results)."""
    a, b = load_side(baseline, "--baseline"), load_side(candidate, "--candidate")
    if a.get("layout") != b.get("layout"):
        raise ParameterError(f"--candidate {b['path']}: layout {b.get('layout')!r}, but the "
                             f"baseline's is {a.get('layout')!r}; compare runs of one benchmark")
    notes, out = [], {}
    for m in metrics_of(a["trials"]):
        xa, xb = [t.get(m) for t in a["trials"]], [t.get(m) for t in b["trials"]]
        missing = sum(v is None for v in xa + xb)
        if missing:
            notes.append(f"{m}: {missing} trial(s) without a value (no high-quality sample) left out")
        xa, xb = [v for v in xa if v is not None], [v for v in xb if v is not None]
        if not xa or not xb:
            out[m] = {"baseline": mean_se(xa), "candidate": mean_se(xb), "delta": None,
                      "ci": [None, None], "verdict": NO_DIFFERENCE, "better": FACTS[m].better}
            continue
        diff, low, high = welch_interval(xa, xb)
        out[m] = {"baseline": mean_se(xa), "candidate": mean_se(xb), "delta": diff,
                  "ci": [low, high], "verdict": verdict(m, low, high), "better": FACTS[m].better}
    if min(len(a["trials"]), len(b["trials"])) < 2:
        notes.append("fewer than 2 trials on a side: no interval, no verdict")
    return ModesComparison(_side(a), _side(b), out, notes)
