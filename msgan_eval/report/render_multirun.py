"""The per-run rows of a compare with several runs per arm, for ``report.md`` and ``report.html``.

The metric table of such a report holds each arm's pooled estimate; this table adds every run of
every arm (its path, value and its own interval) and the pooled row under them, so the Markdown
and HTML reports show what the terminal's ``several runs per arm`` lines show.
"""
from __future__ import annotations

import html
from typing import List, Tuple

from msgan_eval.metrics.registry import FACTS

from .schema import RUNS

HEADER = ("metric", "arm", "run", "path", "value [95% CI]")


def _value(metric: str, value: float, ci) -> str:
    digits = FACTS[metric].digits
    return f"{value:.{digits}f} [{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]"


def multirun_rows(report: dict) -> List[Tuple[str, ...]]:
    """(metric, arm, run, path, value [CI]) for every run of every arm, then the arm's pooled
    estimate; empty for a one-run report."""
    details = report.get("details", {}).get("multirun")
    if not details:
        return []
    rows = []
    for metric, by_arm in details["metrics"].items():
        if metric not in FACTS:
            continue
        for arm in RUNS:
            entry, inputs = by_arm.get(arm), details["inputs"].get(arm, [])
            if not entry:
                continue
            for i, (value, ci) in enumerate(zip(entry["values"], entry["ci"])):
                path = inputs[i]["path"] if i < len(inputs) else ""
                rows.append((FACTS[metric].label, arm, f"run {i + 1}", path, _value(metric, value, ci)))
            pooled = report["runs"].get(arm, {}).get(metric)
            if pooled is not None:
                sd = entry["spread"]["sd"]
                rows.append((FACTS[metric].label, arm, "pooled",
                             f"mean of {len(entry['values'])} runs, between-run sd "
                             + ("n/a" if sd is None else f"{sd:.3g}"),
                             _value(metric, pooled["value"], pooled["ci"])))
    return rows


def multirun_markdown(report: dict) -> List[str]:
    rows = multirun_rows(report)
    if not rows:
        return []
    cell = lambda s: s.replace("|", "\\|")      # noqa: E731
    return (["", "### Every run", "", "| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
            + ["| " + " | ".join(cell(c) for c in r) + " |" for r in rows])


def multirun_html(report: dict) -> str:
    rows = multirun_rows(report)
    if not rows:
        return ""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in HEADER)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<h2>Every run</h2><table><tr>{head}</tr>{body}</table>"
