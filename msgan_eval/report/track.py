"""The files of a metric curve: ``track.json``, ``track.csv`` and ``track.html``.

The HTML embeds one PNG curve per metric (matplotlib, ``msgan_eval.plots``), each with its
bootstrap interval as a band and the best step marked; without matplotlib it holds the tables
and says why the curves are missing.
"""
from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Dict, List

from msgan_eval.errors import UserError
from msgan_eval.fileio import write_json_atomic, write_text_atomic
from msgan_eval.metrics.registry import FACTS

TRACK_FILES = {"json": "track.json", "csv": "track.csv", "html": "track.html"}
_CSS = ("body{font-family:sans-serif;margin:2em;max-width:60em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:.2em .6em;text-align:right}.note{color:#666}")


def _cell(metric: str, x) -> str:
    return "" if x is None else f"{x:.{FACTS[metric].digits + 2}f}"


def render_csv(payload: dict) -> str:
    """One row per step: step, n, then each metric with its interval (empty where not measured)."""
    metrics = payload["metrics"]
    header = ["step", "n"] + [c for m in metrics for c in (m, f"{m}_low", f"{m}_high")]
    rows = [",".join(header)]
    for e in payload["history"]:
        cells = [str(e["step"]), str(e.get("n", ""))]
        for m in metrics:
            ci = e.get(f"{m}_ci") or [None, None]
            cells += [_cell(m, e.get(m)), _cell(m, ci[0]), _cell(m, ci[1])]
        rows.append(",".join(cells))
    return "\n".join(rows) + "\n"


def _curve(payload: dict, metric: str) -> str:
    from msgan_eval.plots import metric_curve_png

    rows = [e for e in payload["history"] if e.get(metric) is not None]
    best = payload.get("best") or {}
    best_step = best.get("step") if best.get("metric") == metric else \
        _best_step(rows, metric)
    png = metric_curve_png([e["step"] for e in rows], [e[metric] for e in rows],
                           [e[f"{metric}_ci"][0] for e in rows], [e[f"{metric}_ci"][1] for e in rows],
                           best_step, FACTS[metric].label, FACTS[metric].higher_is_better)
    return (f"<figure><figcaption>{html.escape(FACTS[metric].label)}</figcaption><img alt="
            f"'{html.escape(metric)} over training' src='data:image/png;base64,"
            f"{base64.b64encode(png).decode('ascii')}'></figure>")


def _best_step(rows: List[dict], metric: str):
    sign = -1.0 if FACTS[metric].higher_is_better else 1.0
    return min(rows, key=lambda e: (sign * e[metric], e["step"]))["step"] if rows else None


def _best_text(best) -> str:
    if not best:
        return "no step measured yet"
    text = (f"best {best['metric']}: step {best['step']} ({best['value']:.4g}); last step "
            f"{best['last_step']}")
    verdict = best.get("better_than_last")
    if verdict is None:
        return text + (f"; {best['verdict_note']}" if best.get("verdict_note") else
                       "; significance not computed")
    if best["step"] == best["last_step"]:
        return text + " (the last step is the best)"
    return text + ("; significantly better than the last" if verdict else
                   "; not significantly better than the last (bootstrap, as compare)")


def render_html(payload: dict) -> str:
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>msgan-eval track</title>"
             f"<style>{_CSS}</style></head><body><h1>msgan-eval track</h1>",
             f"<p>{html.escape(_best_text(payload.get('best')))}</p>"]
    try:
        parts += [_curve(payload, m) for m in payload["metrics"]]
    except UserError:
        parts.append("<p class='note'>curves need matplotlib (pip install matplotlib); the "
                     "values are in the table below and in track.csv.</p>")
    header = "".join(f"<th>{html.escape(h)}</th>" for h in ["step", "n", *payload["metrics"]])
    rows = []
    for e in payload["history"]:
        cells = [str(e["step"]), str(e.get("n", ""))]
        for m in payload["metrics"]:
            ci = e.get(f"{m}_ci")
            cells.append("" if e.get(m) is None else
                         f"{_cell(m, e[m])} [{_cell(m, ci[0])}, {_cell(m, ci[1])}]")
        rows.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    parts.append(f"<h2>History</h2><table><tr>{header}</tr>{''.join(rows)}</table>")
    for metric, reason in payload.get("skipped", {}).items():
        parts.append(f"<p class='note'>{html.escape(metric)} skipped: {html.escape(reason)}</p>")
    for failure in payload.get("failed", []):
        parts.append(f"<p class='note'>step {failure['step']}: evaluation failed "
                     f"({html.escape(failure['reason'])})</p>")
    for note in payload.get("notes", []):
        parts.append(f"<p class='note'>note: {html.escape(note)}</p>")
    return "".join(parts) + "</body></html>"


def write_track_files(out_dir: Path, payload: dict, with_html: bool = True) -> Dict[str, Path]:
    """Each file replaced atomically (a kill leaves the previous version whole)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {"json": out_dir / TRACK_FILES["json"], "csv": out_dir / TRACK_FILES["csv"]}
    write_json_atomic(files["json"], payload)
    write_text_atomic(files["csv"], render_csv(payload))
    if with_html:
        files["html"] = out_dir / TRACK_FILES["html"]
        write_text_atomic(files["html"], render_html(payload))
    return files
