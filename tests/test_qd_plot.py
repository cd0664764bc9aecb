"""The quality-diversity picture of the compare report (msgan_eval/report/qd_plot.py).

Crafted reports: which metrics go on the axes, where each point lands (better is up and right,
whatever the metric's direction), the runs of multi-run arms and the per-condition scatter.
"""
import re

import pytest

from msgan_eval.report.qd_plot import (
    arm_points,
    condition_points,
    nice_ticks,
    pick_axes,
    quality_diversity_html,
)


def _report(values, multirun=None, details=None):
    """values: metric -> (baseline, candidate); intervals +-10 %."""
    runs = {arm: {m: {"value": v[i], "ci": [0.9 * v[i], 1.1 * v[i]]} for m, v in values.items()}
            for i, arm in enumerate(("baseline", "candidate"))}
    details = dict(details or {})
    if multirun:
        details["multirun"] = {"metrics": multirun}
    return {"metrics": list(values), "runs": runs, "details": details}


@pytest.mark.parametrize("held, axes", [
    (("fid", "precision", "lpips", "recall"), ("precision", "lpips")),
    (("fid", "lpips", "recall"), ("fid", "lpips")),
    (("fid", "recall", "ndb"), ("fid", "recall")),
    (("kid", "ndb", "jsd"), ("kid", "ndb")),            # no preferred metric: the table's first
    (("fid", "kid"), None),                             # nothing on the diversity side
])
def test_axes_prefer_precision_then_fid_and_lpips_then_recall(held, axes):
    assert pick_axes(_report({m: (1.0, 2.0) for m in held})) == axes


def _circles(svg):
    """(cx, cy, fill) of every circle with a tooltip (the data points), in drawing order."""
    return [(float(x), float(y), fill, title) for x, y, fill, title in re.findall(
        r'<circle cx="([\d.]+)" cy="([\d.]+)" r="[\d.]+" fill="([^"]+)"[^>]*><title>([^<]*)</title>', svg)]


def test_a_trade_off_lands_right_and_down_and_fid_runs_downwards():
    # candidate: more diverse (LPIPS 0.4 vs 0.1), less faithful (FID 180 vs 50)
    html = quality_diversity_html(_report({"fid": (50.0, 180.0), "lpips": (0.1, 0.4)}))
    points = {title.split(":")[0]: (x, y) for x, y, _, title in _circles(html)}
    assert points["candidate"][0] > points["baseline"][0]          # right: more diverse
    assert points["candidate"][1] > points["baseline"][1]          # down (svg y grows down): worse FID
    assert "FID, lower is better (\u2191)" in html and "LPIPS diversity, higher is better (\u2192)" in html
    # precision (higher is better) on the same arms: the axis is not flipped
    html = quality_diversity_html(_report({"precision": (0.8, 0.3), "lpips": (0.1, 0.4)}))
    points = {title.split(":")[0]: (x, y) for x, y, _, title in _circles(html)}
    assert points["candidate"][1] > points["baseline"][1]


def test_arm_points_carry_the_reports_intervals_and_each_run():
    multirun = {m: {arm: {"values": [v, v * 1.2], "ci": [[v * 0.9, v * 1.1], [v, v * 1.4]]}
                    for arm, v in (("baseline", b), ("candidate", c))}
                for m, (b, c) in {"fid": (50.0, 60.0), "lpips": (0.1, 0.2)}.items()}
    report = _report({"fid": (50.0, 60.0), "lpips": (0.1, 0.2)}, multirun=multirun)
    points = arm_points(report, "fid", "lpips")
    assert [(p.name, p.big) for p in points] == [
        ("baseline", True), ("candidate", True), ("baseline run 1", False), ("baseline run 2", False),
        ("candidate run 1", False), ("candidate run 2", False)]
    assert (points[1].x, points[1].y, points[1].x_ci, points[1].y_ci) == (
        0.2, 60.0, (pytest.approx(0.18), pytest.approx(0.22)), (54.0, pytest.approx(66.0)))
    assert (points[3].x, points[3].y, points[3].y_ci) == (pytest.approx(0.12), 60.0, (50.0, 70.0))
    html = quality_diversity_html(report)
    assert len(_circles(html)) == 6 and "small: each run" in html


def test_condition_scatter_uses_the_first_per_condition_values_both_arms_hold():
    lp = {arm: {"per_condition": {"a": 0.1 + i, "b": 0.2 + i}} for i, arm in enumerate(("baseline", "candidate"))}
    degenerate = {arm: {"per_condition": {"a": 0.0, "b": 0.5 * i}} for i, arm in enumerate(("baseline", "candidate"))}
    report = _report({"fid": (1.0, 2.0), "lpips": (0.1, 0.2)}, details={"lpips": lp, "degenerate": degenerate})
    x_axis, y_axis, points = condition_points(report)
    assert (x_axis.label, y_axis.label, y_axis.higher_is_better) == ("LPIPS diversity", "degenerate fraction", False)
    assert [(p.name, p.x, p.y) for p in points] == [
        ("baseline: a", 0.1, 0.0), ("baseline: b", 0.2, 0.0), ("candidate: a", 1.1, 0.0), ("candidate: b", 1.2, 0.5)]
    per_class = {"per_class": {"baseline": {"a": 40.0, "b": 50.0}, "candidate": {"a": 90.0, "b": 99.0}}}
    report["details"]["fid_per_class"] = per_class              # preferred over the degenerate share
    assert condition_points(report)[1].label == "Per-class FID"
    html = quality_diversity_html(report)
    assert html.count("<svg") == 2 and html.count('stroke="#bbb"') == 2      # one link per condition
    one = {arm: {"per_condition": {"a": 0.1}} for arm in ("baseline", "candidate")}
    assert condition_points(_report({}, details={"lpips": one, "degenerate": one})) is None


def test_nothing_to_draw_gives_no_section():
    assert quality_diversity_html(_report({"fid": (1.0, 2.0)})) == ""


@pytest.mark.parametrize("low, high", [(0.0, 0.43), (37.2, 181.0), (-0.05, 0.05), (3.0, 3.0), (0.0, 1e-6)])
def test_nice_ticks_cover_the_range_with_round_steps(low, high):
    ticks = nice_ticks(low, high)
    assert ticks[0] <= low and ticks[-1] >= high and 3 <= len(ticks) <= 12
    steps = {round(b - a, 12) for a, b in zip(ticks, ticks[1:])}
    assert len(steps) == 1
    mantissa = f"{steps.pop():e}".split("e")[0]
    assert float(mantissa) in (1.0, 2.0, 2.5, 5.0)


def test_tick_labels_show_the_steps_decimals():
    from msgan_eval.report.qd_plot import _fmt

    ticks = nice_ticks(0.0, 1.08)
    assert [_fmt(v, ticks) for v in ticks] == ["0.00", "0.25", "0.50", "0.75", "1.00", "1.25"]
    ticks = nice_ticks(37.2, 181.0)
    assert [_fmt(v, ticks) for v in ticks] == ["0", "50", "100", "150", "200"]
