"""``msgan-eval check``: gate a compare report on an expectations file (TOML).

Expectations look like::

    [candidate.fid]
    max = 40            # the candidate's FID must be <= 40
    [candidate.lpips]
    min = 0.2
    [delta.fid]
    max = 0.5           # candidate - baseline
    [baseline.ndb]
    max = 60
    [verdicts]
    ndb = "candidate-better"
    fid = ["candidate-better", "no-significant-difference"]   # "not worse"
    [overall]
    verdict = "candidate-better"    # the joint verdict (better somewhere, worse nowhere)
    [candidate.degenerate]
    max = 0.02          # at most 2 % of the candidate's samples blank, saturated or noise

Bounds are inclusive and apply to the point estimate (the number the metric command prints); the
interval is shown beside it. A rule on a metric the report does not hold (skipped, or not
requested) fails with the reason: a gate never passes on a number nobody computed.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple, Union

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    import tomli as tomllib

from msgan_eval.errors import UserError

from .schema import METRICS, OVERALL_VERDICTS, RUNS, VERDICT_NAMES, ReportInvalid, validate_report

SCOPES = (*RUNS, "delta", "verdicts", "overall")
OVERALL_KEYS = ("verdict",)
BOUND_KINDS = {"min": ">=", "max": "<="}


@dataclass(frozen=True)
class Rule:
    scope: str                               # baseline | candidate | delta | verdicts | overall
    metric: str                              # a metric, or "verdict" in [overall]
    kind: str                                # min | max | verdict
    bound: Union[float, Tuple[str, ...]]     # a number, or the accepted verdicts

    def describe(self) -> str:
        if self.kind == "verdict":
            where = "overall.verdict" if self.scope == "overall" else f"verdicts.{self.metric}"
            return f"{where} in {' | '.join(self.bound)}"
        return f"{self.scope}.{self.metric} {BOUND_KINDS[self.kind]} {self.bound:g}"


@dataclass(frozen=True)
class RuleResult:
    rule: Rule
    passed: bool
    value: Union[float, str, None]           # what the report holds (None: nothing)
    detail: str                              # the interval, or why there is no value

    def line(self) -> str:
        shown = "-" if self.value is None else (
            self.value if isinstance(self.value, str) else f"{self.value:.6g}")
        tail = f" ({self.detail})" if self.detail else ""
        return f"{'PASS' if self.passed else 'FAIL'}  {self.rule.describe()}: {shown}{tail}"

    def as_dict(self) -> dict:
        bound = list(self.rule.bound) if self.rule.kind == "verdict" else self.rule.bound
        return {"rule": f"{self.rule.scope}.{self.rule.metric}.{self.rule.kind}", "bound": bound,
                "value": self.value, "passed": self.passed, "detail": self.detail}


def load_report(path: "str | os.PathLike[str]") -> dict:
    """A compare report, parsed and validated, or a UserError naming the file."""
    path = Path(path)
    if path.exists() and not path.is_file():      # a FIFO would block the read forever
        raise UserError(f"{path}: not a regular file; pass the report.json written by compare")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{path}: no such report; write one with "
                        "`msgan-eval compare ... --out DIR` (DIR/report.json)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read the report ({exc})") from None
    try:
        # NaN / Infinity are not JSON (our reports never hold them); a gate must not read them.
        report = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: not valid JSON ({exc}); re-run msgan-eval compare") from None
    except ValueError as exc:
        raise UserError(f"{path}: not a readable msgan-eval report ({exc}); re-run msgan-eval "
                        "compare") from None
    except RecursionError:
        raise UserError(f"{path}: not a readable msgan-eval report (nested too deeply); re-run "
                        "msgan-eval compare") from None
    try:
        validate_report(report)
    except ReportInvalid as exc:
        raise UserError(f"{path}: not a readable msgan-eval report: {exc}") from None
    except RecursionError:
        raise UserError(f"{path}: not a readable msgan-eval report (nested too deeply); re-run "
                        "msgan-eval compare") from None
    return report


def _refuse_constant(name: str):
    raise ValueError(f"it holds {name}, which is not a number a gate can compare")


def load_rules(path: "str | os.PathLike[str]") -> List[Rule]:
    """Rules from an expectations TOML file, or a UserError naming the file and the bad entry."""
    path = Path(path)
    if path.exists() and not path.is_file():
        raise UserError(f"{path}: not a regular file (--expect needs a TOML file)")
    try:
        with open(path, "rb") as fh:
            table = tomllib.load(fh)
    except FileNotFoundError:
        raise UserError(f"{path}: no such expectations file (--expect)") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read the expectations file ({exc})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: not valid TOML ({exc})") from None
    rules: List[Rule] = []
    for scope, body in table.items():
        if scope not in SCOPES:
            raise UserError(f"{path}: unknown section [{scope}]; use {', '.join(SCOPES)}")
        if not isinstance(body, dict):
            raise UserError(f"{path}: [{scope}] must be a table")
        if scope == "overall":
            rules.extend(_overall_rules(path, body))
            continue
        for metric, spec in body.items():
            _check_metric(path, scope, metric)
            rules.extend(_verdict_rule(path, metric, spec) if scope == "verdicts"
                         else _bound_rules(path, scope, metric, spec))
    if not rules:
        raise UserError(f"{path}: no rules; add e.g. [candidate.fid] max = 40")
    return rules


def _check_metric(path: Path, scope: str, metric: str) -> None:
    if metric not in METRICS:
        raise UserError(f"{path}: [{scope}.{metric}]: unknown metric {metric!r}; "
                        f"use {', '.join(METRICS)}")


def _bound_rules(path: Path, scope: str, metric: str, spec) -> List[Rule]:
    where = f"{path}: [{scope}.{metric}]"
    if not isinstance(spec, dict) or not spec:
        raise UserError(f"{where}: expected a table with min and/or max, e.g. max = 40")
    rules = []
    for kind, bound in spec.items():
        if kind not in BOUND_KINDS:
            raise UserError(f"{where}: unknown key {kind!r}; use min or max")
        if isinstance(bound, bool) or not isinstance(bound, (int, float)) or not math.isfinite(bound):
            raise UserError(f"{where}: {kind} must be a finite number, got {bound!r}")
        rules.append(Rule(scope, metric, kind, float(bound)))
    return rules


def _verdict_rule(path: Path, metric: str, spec) -> List[Rule]:
    return [Rule("verdicts", metric, "verdict",
                 _accepted(spec, VERDICT_NAMES, f"{path}: [verdicts] {metric}"))]


def _overall_rules(path: Path, body: dict) -> List[Rule]:
    """``[overall] verdict = "candidate-better"`` (or a list of accepted joint verdicts)."""
    rules = []
    for key, spec in body.items():
        if key not in OVERALL_KEYS:
            raise UserError(f"{path}: [overall] unknown key {key!r}; use {', '.join(OVERALL_KEYS)}, "
                            f'e.g. verdict = "candidate-better"')
        rules.append(Rule("overall", key, "verdict",
                          _accepted(spec, OVERALL_VERDICTS, f"{path}: [overall] {key}")))
    if not rules:
        raise UserError(f'{path}: [overall] is empty; add e.g. verdict = "candidate-better"')
    return rules


def _accepted(spec, names, where: str) -> Tuple[str, ...]:
    accepted = [spec] if isinstance(spec, str) else spec
    if not isinstance(accepted, list) or not accepted or any(v not in names for v in accepted):
        raise UserError(f"{where} = {spec!r}: use one of {', '.join(names)} (or a list of them)")
    return tuple(accepted)


def _missing(report: dict, metric: str) -> str:
    if metric in report.get("skipped", {}):
        return f"skipped: {report['skipped'][metric]}"
    return f"not in the report (it holds {', '.join(report.get('metrics', [])) or 'no metrics'})"


def _interval(entry: dict) -> str:
    low, high = entry["ci"]
    return f"95% CI {low:.6g} .. {high:.6g}"


def evaluate_rule(report: dict, rule: Rule) -> RuleResult:
    """Apply one rule to a validated report."""
    if rule.scope == "overall":
        overall = report.get("overall")
        if overall is None:
            return RuleResult(rule, False, None, "the report has no overall verdict (written by an "
                                                 "older msgan-eval); re-run compare")
        return RuleResult(rule, overall["verdict"] in rule.bound, overall["verdict"],
                          "; ".join(overall["reasons"][:1]))
    if rule.kind == "verdict":
        verdict: Optional[str] = report["verdicts"].get(rule.metric)
        if verdict is None:
            return RuleResult(rule, False, None, _missing(report, rule.metric))
        return RuleResult(rule, verdict in rule.bound, verdict, "")
    holder = report["deltas"] if rule.scope == "delta" else report["runs"][rule.scope]
    entry = holder.get(rule.metric)
    if entry is None:
        return RuleResult(rule, False, None, _missing(report, rule.metric))
    value = float(entry["value"])
    # A non-finite value never passes (NaN compares false, but -inf <= max would pass).
    passed = math.isfinite(value) and (value >= rule.bound if rule.kind == "min"
                                       else value <= rule.bound)
    return RuleResult(rule, passed, value, _interval(entry))


def evaluate_rules(report: dict, rules: List[Rule]) -> List[RuleResult]:
    return [evaluate_rule(report, rule) for rule in rules]


def summary_line(results: List[RuleResult]) -> str:
    failed = sum(not r.passed for r in results)
    if failed:
        return f"check: FAILED, {failed} of {len(results)} rules failed"
    return f"check: passed, all {len(results)} rules hold"
