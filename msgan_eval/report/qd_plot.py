"""The quality-diversity picture of a compare report: fidelity against diversity, one point per arm
(and per run of a multi-run arm) with its intervals, and a per-condition scatter for conditional
runs. Inline SVG like the report's other charts (no matplotlib, nothing fetched).

Axes: fidelity is precision where it was measured, else FID, else the first fidelity metric of the
registry the report holds; diversity is LPIPS, else recall, else the first diversity metric. Each
axis is oriented so that *better is up / right* (FID's axis runs downwards: lower is better), so a
candidate up and to the right of the baseline is better on both, and one right and down has traded
fidelity for diversity.
"""
from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from msgan_eval.metrics.registry import DIVERSITY, FACTS, FIDELITY

from .schema import RUNS

AXIS_PREFERENCE = {FIDELITY: ("precision", "fid"), DIVERSITY: ("lpips", "recall")}
COLOURS = {"baseline": "#4c72b0", "candidate": "#dd8452"}


@dataclass(frozen=True)
class Axis:
    label: str
    higher_is_better: bool


@dataclass(frozen=True)
class Point:
    arm: str
    name: str                         # shown as a tooltip: "candidate", "baseline run 2", "Coat"
    x: float
    y: float
    x_ci: Optional[Tuple[float, float]] = None
    y_ci: Optional[Tuple[float, float]] = None
    big: bool = True                  # an arm's pooled point (False: a run or a condition)


def pick_axes(report: dict) -> Optional[Tuple[str, str]]:
    """(fidelity metric, diversity metric) the report holds for both arms, or None."""
    held = [m for m in report["metrics"] if m in report["runs"]["baseline"]]
    picked = []
    for role in (FIDELITY, DIVERSITY):
        ranked = [m for m in AXIS_PREFERENCE[role] if m in held]
        ranked += [m for m in FACTS if m in held and FACTS[m].role == role]
        if not ranked:
            return None
        picked.append(ranked[0])
    return picked[0], picked[1]


def arm_points(report: dict, fidelity: str, diversity: str) -> List[Point]:
    """Each arm's estimate with both intervals, then each run of a multi-run arm."""
    points = []
    for arm in RUNS:
        x, y = report["runs"][arm][diversity], report["runs"][arm][fidelity]
        points.append(Point(arm, arm, x["value"], y["value"], tuple(x["ci"]), tuple(y["ci"])))
    per_run = report.get("details", {}).get("multirun", {}).get("metrics", {})
    if diversity in per_run and fidelity in per_run:
        for arm in RUNS:
            xs, ys = per_run[diversity][arm], per_run[fidelity][arm]
            for i, (x, y) in enumerate(zip(xs["values"], ys["values"])):
                points.append(Point(arm, f"{arm} run {i + 1}", x, y, tuple(xs["ci"][i]),
                                    tuple(ys["ci"][i]), big=False))
    return points


# Per-condition values in the report's details, best first: (label, higher is better, getter).
Getter = Callable[[dict, str], Optional[Dict[str, float]]]


def _get(*keys: str) -> Getter:
    """details[keys[0]]...[arm]...: the arm goes in place of the "{arm}" key."""
    def getter(details: dict, arm: str) -> Optional[Dict[str, float]]:
        node = details
        for key in keys:
            node = node.get(arm if key == "{arm}" else key) if isinstance(node, dict) else None
        return node if isinstance(node, dict) else None
    return getter


CONDITION_SOURCES = {
    FIDELITY: (("Per-class FID", False, _get("fid_per_class", "per_class", "{arm}")),
               ("Realistic share", True,
                _get("lpips_gated", "{arm}", "kept_per_condition")),
               ("degenerate fraction", False, _get("degenerate", "{arm}", "per_condition"))),
    DIVERSITY: (("LPIPS diversity", True, _get("lpips", "{arm}", "per_condition")),
                ("Vendi score", True, _get("vendi", "per_condition", "{arm}"))),
}


def condition_points(report: dict) -> Optional[Tuple[Axis, Axis, List[Point]]]:
    """(x axis, y axis, one point per arm and condition) from the first per-condition fidelity and
    diversity values both arms hold for 2 or more shared conditions; None otherwise."""
    details = report.get("details", {})
    chosen = []
    for role in (DIVERSITY, FIDELITY):
        for label, higher, get in CONDITION_SOURCES[role]:
            tables = [get(details, arm) for arm in RUNS]
            if all(tables):
                chosen.append((Axis(label, higher), tables))
                break
        else:
            return None
    (x_axis, xs), (y_axis, ys) = chosen
    points = []
    for arm, x_table, y_table in zip(RUNS, xs, ys):
        for cond in sorted(set(x_table) & set(y_table)):
            if _finite(x_table[cond]) and _finite(y_table[cond]):
                points.append(Point(arm, f"{arm}: {cond}", x_table[cond], y_table[cond], big=False))
    if len({p.name.split(": ", 1)[1] for p in points}) < 2:
        return None
    return x_axis, y_axis, points


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


# ---- drawing ------------------------------------------------------------------------------------

def nice_ticks(low: float, high: float, count: int = 6) -> List[float]:
    """Round tick values covering [low, high] (1, 2, 2.5 or 5 times a power of ten apart)."""
    if not high > low:
        high = low + (abs(low) or 1.0)
    raw = (high - low) / max(count - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.floor(low / step) * step
    return [first + i * step for i in range(int(math.ceil((high - first) / step)) + 1)]


@dataclass(frozen=True)
class _Frame:
    """Maps data to pixels; ``flip`` axes (lower is better) run the other way."""

    x_ticks: Sequence[float]
    y_ticks: Sequence[float]
    x_flip: bool
    y_flip: bool
    left: int = 70
    right: int = 440
    top: int = 40
    bottom: int = 300

    def x(self, v: float) -> float:
        t = (v - self.x_ticks[0]) / (self.x_ticks[-1] - self.x_ticks[0])
        return self.left + (1 - t if self.x_flip else t) * (self.right - self.left)

    def y(self, v: float) -> float:
        t = (v - self.y_ticks[0]) / (self.y_ticks[-1] - self.y_ticks[0])
        return self.bottom - (1 - t if self.y_flip else t) * (self.bottom - self.top)


def _frame(points: Sequence[Point], x_axis: Axis, y_axis: Axis) -> _Frame:
    xs = [v for p in points for v in (p.x, *(p.x_ci or ()))]
    ys = [v for p in points for v in (p.y, *(p.y_ci or ()))]
    return _Frame(nice_ticks(*_padded(xs)), nice_ticks(*_padded(ys)), not x_axis.higher_is_better,
                  not y_axis.higher_is_better)


def _padded(values: Sequence[float]) -> Tuple[float, float]:
    """The range with 8 % room each side, never below 0 for values that are not (every metric)."""
    low, high = min(values), max(values)
    pad = 0.08 * (high - low or abs(high) or 1.0)
    return (low - pad if low < 0 else max(0.0, low - pad)), high + pad


def _fmt(v: float, ticks: Sequence[float]) -> str:
    """``v`` with as many decimals as the tick step needs (0.25 needs two)."""
    step = abs(ticks[1] - ticks[0]) if len(ticks) > 1 else 1.0
    decimals = max(0, -math.floor(math.log10(step)))
    while decimals < 12 and abs(round(step, decimals) - step) > 1e-9 * step:
        decimals += 1
    return f"{v:.{decimals}f}"


def _axes(f: _Frame, x_axis: Axis, y_axis: Axis) -> List[str]:
    body = [f'<rect x="{f.left}" y="{f.top}" width="{f.right - f.left}" height="{f.bottom - f.top}" '
            'fill="none" stroke="#333"/>']
    for v in f.x_ticks:
        body += [f'<line x1="{f.x(v):.1f}" y1="{f.top}" x2="{f.x(v):.1f}" y2="{f.bottom}" stroke="#eee"/>',
                 f'<text x="{f.x(v):.1f}" y="{f.bottom + 14}" text-anchor="middle">{_fmt(v, f.x_ticks)}</text>']
    for v in f.y_ticks:
        body += [f'<line x1="{f.left}" y1="{f.y(v):.1f}" x2="{f.right}" y2="{f.y(v):.1f}" stroke="#eee"/>',
                 f'<text x="{f.left - 5}" y="{f.y(v) + 4:.1f}" text-anchor="end">{_fmt(v, f.y_ticks)}</text>']
    cx, cy = (f.left + f.right) / 2, (f.top + f.bottom) / 2
    body += [f'<text x="{cx}" y="{f.bottom + 32}" text-anchor="middle">{html.escape(_axis_text(x_axis, "right"))}</text>',
             f'<text x="16" y="{cy}" text-anchor="middle" transform="rotate(-90 16 {cy})">'
             f'{html.escape(_axis_text(y_axis, "up"))}</text>']
    return body


def _axis_text(axis: Axis, where: str) -> str:
    arrow = {"right": "\u2192", "up": "\u2191"}[where]
    return f"{axis.label}, {'higher' if axis.higher_is_better else 'lower'} is better ({arrow})"


def _point(f: _Frame, p: Point) -> List[str]:
    colour, r = COLOURS[p.arm], 6 if p.big else 3.5
    px, py = f.x(p.x), f.y(p.y)
    body = []
    width = 1.5 if p.big else 0.8
    if p.x_ci:
        body.append(f'<line x1="{f.x(p.x_ci[0]):.1f}" y1="{py:.1f}" x2="{f.x(p.x_ci[1]):.1f}" '
                    f'y2="{py:.1f}" stroke="{colour}" stroke-width="{width}"/>')
    if p.y_ci:
        body.append(f'<line x1="{px:.1f}" y1="{f.y(p.y_ci[0]):.1f}" x2="{px:.1f}" '
                    f'y2="{f.y(p.y_ci[1]):.1f}" stroke="{colour}" stroke-width="{width}"/>')
    fill = colour if p.big else "white"
    body.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="{r}" fill="{fill}" stroke="{colour}" '
                f'stroke-width="1.5"><title>{html.escape(p.name)}: ({p.x:.4g}, {p.y:.4g})</title></circle>')
    return body


def _legend(f: _Frame, extra: str) -> List[str]:
    body = []
    for j, arm in enumerate(RUNS):
        x = f.left + j * 110
        body.append(f'<circle cx="{x + 5}" cy="{f.bottom + 49}" r="5" fill="{COLOURS[arm]}"/>'
                    f'<text x="{x + 14}" y="{f.bottom + 53}">{arm}</text>')
    if extra:
        body.append(f'<text x="{f.left + 220}" y="{f.bottom + 53}">{html.escape(extra)}</text>')
    return body


def scatter_svg(points: Sequence[Point], x_axis: Axis, y_axis: Axis, title: str, *,
                links: bool = False, legend: str = "") -> str:
    """Points (with intervals as cross bars) on oriented axes; ``links`` joins each condition's
    baseline point to its candidate point."""
    f = _frame(points, x_axis, y_axis)
    body = [f'<text x="{f.left}" y="18" font-weight="bold">{html.escape(title)}</text>', *_axes(f, x_axis, y_axis)]
    if links:
        by_name: Dict[str, Dict[str, Point]] = {}
        for p in points:
            by_name.setdefault(p.name.split(": ", 1)[1], {})[p.arm] = p
        for pair in by_name.values():
            if len(pair) == 2:
                a, b = pair["baseline"], pair["candidate"]
                body.append(f'<line x1="{f.x(a.x):.1f}" y1="{f.y(a.y):.1f}" x2="{f.x(b.x):.1f}" '
                            f'y2="{f.y(b.y):.1f}" stroke="#bbb"/>')
    for p in sorted(points, key=lambda p: p.big):       # the arms' points on top
        body += _point(f, p)
    body += _legend(f, legend)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="460" height="{f.bottom + 64}" '
            f'viewBox="0 0 460 {f.bottom + 64}" role="img" aria-label="{html.escape(title)}" '
            f'font-family="sans-serif" font-size="11">' + "".join(body) + "</svg>")


def quality_diversity_html(report: dict) -> str:
    """The report's quality-diversity section (empty when it holds no fidelity/diversity pair)."""
    axes = pick_axes(report)
    charts = []
    if axes is not None:
        fidelity, diversity = axes
        points = arm_points(report, fidelity, diversity)
        runs = any(not p.big for p in points)
        charts.append(scatter_svg(points, _metric_axis(diversity), _metric_axis(fidelity),
                                  "Fidelity vs diversity, 95% intervals",
                                  legend="small: each run" if runs else ""))
    by_condition = condition_points(report)
    if by_condition is not None:
        x_axis, y_axis, points = by_condition
        charts.append(scatter_svg(points, x_axis, y_axis,
                                  "Per condition (grey line: one condition's two points)", links=True))
    if not charts:
        return ""
    return ("<h2>Quality and diversity</h2><p>Better is up and to the right on both charts (an axis "
            "where lower is better runs the other way). Right of and below the baseline: diversity "
            "bought with fidelity. Realistic share: samples whose realism score is at least 1.</p>"
            "<div class='grids'>" + "".join(charts) + "</div>")


def _metric_axis(metric: str) -> Axis:
    return Axis(FACTS[metric].label, FACTS[metric].higher_is_better)
