"""A compare report as text: a terminal table, ``report.md`` and a self-contained ``report.html``.

The HTML embeds everything (no network, no external files): sample grids as base64 PNG, the metric
bar chart with error bars and the NDB bin-proportion plot as inline SVG drawn here, so rendering
needs neither matplotlib nor a browser plug-in.
"""
from __future__ import annotations

import base64
import html
import io
import re
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from msgan_eval.images import ROOT_CONDITION, ImageSet
from msgan_eval.metrics.registry import FACTS

from .qd_plot import COLOURS as ARM_COLOURS
from .qd_plot import quality_diversity_html
from .schema import METRICS, RUNS

COLOURS = {**ARM_COLOURS, "reference": "#b0b0b0"}


def _num(metric: str, x: float) -> str:
    return f"{x:.{FACTS[metric].digits}f}"


def _with_ci(metric: str, entry: dict) -> str:
    low, high = entry["ci"]
    return f"{_num(metric, entry['value'])} [{_num(metric, low)}, {_num(metric, high)}]"


def _better(metric: str, report: dict) -> str:
    delta = report["deltas"].get(metric)
    return delta["better"] if delta else FACTS[metric].better


SHORT_REASON = 60     # characters of a skip reason that fit a table cell


def short_reason(reason: str, limit: int = SHORT_REASON) -> str:
    """The first clause of a skip reason (up to '; ' or the end of the first sentence), cut at a
    word boundary to ``limit`` characters: the table shows this, the notes the whole reason."""
    clause = re.split(r";\s|\.\s+(?=[A-Z])", reason.strip(), maxsplit=1)[0].rstrip(".")
    if len(clause) <= limit:
        return clause
    return clause[:limit].rsplit(" ", 1)[0].rstrip(",:") + "..."


def _shortened(reason: str) -> bool:
    return short_reason(reason) != reason.strip().rstrip(".")


def skipped_reasons(report: dict) -> List[Tuple[str, str]]:
    """(metric labels, full reason) for each reason the table shortens; NDB and JSD share one."""
    by_reason: Dict[str, List[str]] = {}
    for metric in METRICS:
        reason = report["skipped"].get(metric)
        if reason is not None and _shortened(reason):
            by_reason.setdefault(reason, []).append(FACTS[metric].label)
    return [(", ".join(labels), reason) for reason, labels in by_reason.items()]


def _skipped_verdict(reason: str) -> str:
    return f"skipped: {short_reason(reason)}" + (" (reason below)" if _shortened(reason) else "")


def metric_rows(report: dict) -> List[Tuple[str, ...]]:
    """(metric, better, baseline, candidate, delta, verdict) strings for every metric in METRICS."""
    rows = []
    for metric in METRICS:
        if metric in report["skipped"]:
            rows.append((FACTS[metric].label, _better(metric, report), "skipped", "skipped", "-",
                         _skipped_verdict(report["skipped"][metric])))
        elif metric in report["runs"]["baseline"]:
            rows.append((FACTS[metric].label, _better(metric, report),
                         _with_ci(metric, report["runs"]["baseline"][metric]),
                         _with_ci(metric, report["runs"]["candidate"][metric]),
                         _with_ci(metric, report["deltas"][metric]), report["verdicts"][metric]))
    return rows


HEADER = ("metric", "better", "baseline [95% CI]", "candidate [95% CI]",
          "candidate - baseline [95% CI]", "verdict")


def render_table(report: dict) -> str:
    """The terminal table ``msgan-eval compare`` prints, then the skip reasons it shortens."""
    rows = [HEADER] + metric_rows(report)
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER) - 1)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r[:-1], widths)) + "  " + r[-1] for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths) + "  " + "-" * len(HEADER[-1]))
    lines += [f"{labels} skipped: {reason}" for labels, reason in skipped_reasons(report)]
    return "\n".join(lines + overall_lines(report))


def overall_lines(report: dict) -> List[str]:
    """'overall: trade-off' and its reasons, one per line (nothing for reports without it)."""
    overall = report.get("overall")
    if overall is None:
        return []
    return [f"overall: {overall['verdict']}", *(f"  - {r}" for r in overall["reasons"])]


def _inputs_rows(report: dict) -> List[Tuple[str, ...]]:
    rows = []
    for name in (*RUNS, "reference"):
        inp = report["inputs"][name]
        rows.append((name, inp["path"], str(inp["n_images"]), str(inp["conditions"]),
                     inp["fingerprint"][:12]))
    return rows


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> List[str]:
    def cell(s: str) -> str:
        return s.replace("|", "\\|")
    return (["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            + ["| " + " | ".join(cell(c) for c in r) + " |" for r in rows])


def render_markdown(report: dict) -> str:
    """``report.md``: tables that read well in a pull-request comment."""
    from .render_multirun import multirun_markdown

    boot = report["bootstrap"]
    lines = ["## msgan-eval compare", "",
             *_md_table(HEADER, [(f"**{r[0]}**", *r[1:]) for r in metric_rows(report)]), "",
             f"Intervals: {boot['confidence']:.0%} bootstrap ({boot['method']}, {boot['n']} "
             f"resamples, seed {boot['seed']}); verdicts from the bootstrap of candidate - baseline.",
             *_md_skipped(report), *_md_overall(report), *multirun_markdown(report), "",
             "### Inputs", "",
             *_md_table(("set", "path", "images", "conditions", "file-list sha256"),
                        _inputs_rows(report))]
    for note in report.get("notes", []):
        lines += ["", f"> note: {note}"]
    tool = report["provenance"]["tool"]
    lines += ["", f"<sub>{tool['name']} {tool['version']}, report schema {report['schema']}</sub>", ""]
    return "\n".join(lines)


def _md_overall(report: dict) -> List[str]:
    overall = report.get("overall")
    if overall is None:
        return []
    return ["", f"**Overall: {overall['verdict']}**", ""] + [f"- {r}" for r in overall["reasons"]]


def _md_skipped(report: dict) -> List[str]:
    reasons = skipped_reasons(report)
    if not reasons:
        return []
    return ["", "Skipped:", ""] + [f"- **{labels}**: {reason}" for labels, reason in reasons]


# ---- images -------------------------------------------------------------------------------------

def image_grid(rows: Sequence[Sequence[np.ndarray]], *, pad: int = 2, background: int = 255,
               size: Optional[Tuple[int, int]] = None, columns: Optional[int] = None,
               row_labels: Optional[Sequence[str]] = None) -> np.ndarray:
    """Images tiled in rows (one per condition or class), ``pad`` pixels apart, uint8.

    Every image is shown at ``size`` (H, W), by default the first image's; an image of another
    size is resized with PIL's bilinear filter (thumbnails only: the metrics never see it).
    ``columns`` (default: the longest row) fixes the width; shorter rows leave background cells.
    ``row_labels`` (a class name or an input's label per row) are written in a column on the left.
    """
    from PIL import Image

    first = rows[0][0]
    h, w = size or first.shape[:2]
    channels = first.shape[2] if first.ndim == 3 else 1
    cols = columns or max(len(r) for r in rows)
    grid = np.full((len(rows) * (h + pad) + pad, cols * (w + pad) + pad, channels), background,
                   np.uint8)
    for r, images in enumerate(rows):
        for c, img in enumerate(images[:cols]):
            if img.shape[:2] != (h, w):
                img = np.asarray(Image.fromarray(img).resize((w, h), Image.BILINEAR))
            y, x = pad + r * (h + pad), pad + c * (w + pad)
            grid[y:y + h, x:x + w] = img.reshape(h, w, channels)
    if row_labels is None:
        return grid
    return np.concatenate([label_column(row_labels, h, pad, background, channels), grid], axis=1)


LABEL_MAX_WIDTH = 110     # pixels of a row label; longer labels are cut with "..."


def label_column(labels: Sequence[str], row_height: int, pad: int, background: int,
                 channels: int = 3) -> np.ndarray:
    """A column of text, one label per grid row, vertically centred on its row (uint8)."""
    from PIL import Image, ImageDraw, ImageFont

    try:        # Pillow >= 10.1 scales its built-in font; older ones have one bitmap size
        font = ImageFont.load_default(size=max(6, min(11, row_height - 2)))
    except TypeError:
        font = ImageFont.load_default()
    texts = [_fit(str(label), font) for label in labels]
    width = max(font.getbbox(t)[2] for t in texts) + 2 * pad + 2
    column = Image.new("L", (width, len(labels) * (row_height + pad) + pad), background)
    ink = 0 if background > 127 else 255
    for r, text in enumerate(texts):
        top, bottom = font.getbbox(text)[1::2]
        cell = Image.new("L", (width, row_height), background)      # a label never spills over
        ImageDraw.Draw(cell).text((pad + 1, (row_height - (bottom - top)) // 2 - top), text,
                                  fill=ink, font=font)
        column.paste(cell, (0, pad + r * (row_height + pad)))
    return np.repeat(np.asarray(column)[:, :, None], channels, axis=2)


def _fit(text: str, font) -> str:
    """``text``, cut to LABEL_MAX_WIDTH pixels with "..." where it is longer."""
    if font.getbbox(text)[2] <= LABEL_MAX_WIDTH:
        return text
    while text and font.getbbox(text + "...")[2] > LABEL_MAX_WIDTH:
        text = text[:-1]
    return text + "..."


def sample_grid(image_set: ImageSet, per_condition: int = 8, max_conditions: int = 10,
                pad: int = 2) -> np.ndarray:
    """One row per condition (first ``per_condition`` images in sorted order), RGB uint8, each row
    labelled with its condition (class) name; a flat folder (one condition, ``.``) is unlabelled."""
    groups = list(image_set.groups().items())[:max_conditions]
    rows = [[image_set[i] for i in idx[:per_condition]] for _, idx in groups]
    labels = None if [name for name, _ in groups] == [ROOT_CONDITION] else [name for name, _ in groups]
    return image_grid(rows, pad=pad, size=image_set.sizes[groups[0][1][0]], columns=per_condition,
                      row_labels=labels)


def png_base64(image: np.ndarray) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


# ---- SVG charts ---------------------------------------------------------------------------------

def _svg(width: int, height: int, body: List[str], label: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="{html.escape(label)}" '
            f'font-family="sans-serif" font-size="11">' + "".join(body) + "</svg>")


def metric_bar_svg(report: dict, metric: str) -> str:
    """Baseline and candidate bars with their interval as error bars, for one metric."""
    width, height, top, bottom = 220, 200, 30, 40
    entries = [report["runs"][run][metric] for run in RUNS]
    lo = min(0.0, *(e["ci"][0] for e in entries))
    hi = max(*(e["ci"][1] for e in entries), *(e["value"] for e in entries)) * 1.1 or 1.0
    scale = (height - top - bottom) / (hi - lo)

    def y(v: float) -> float:
        return height - bottom - (v - lo) * scale
    body = [f'<text x="{width / 2}" y="16" text-anchor="middle" font-weight="bold">'
            f'{FACTS[metric].label} ({_better(metric, report)} is better)</text>',
            f'<line x1="20" y1="{y(0):.1f}" x2="{width - 20}" y2="{y(0):.1f}" stroke="#333"/>']
    for k, (run, e) in enumerate(zip(RUNS, entries)):
        x = 45 + k * 90
        body.append(f'<rect x="{x}" y="{min(y(e["value"]), y(0)):.1f}" width="50" '
                    f'height="{abs(y(0) - y(e["value"])):.1f}" fill="{COLOURS[run]}"/>')
        cx, (a, b) = x + 25, (y(e["ci"][0]), y(e["ci"][1]))
        body += [f'<line x1="{cx}" y1="{a:.1f}" x2="{cx}" y2="{b:.1f}" stroke="#000"/>',
                 f'<line x1="{cx - 8}" y1="{a:.1f}" x2="{cx + 8}" y2="{a:.1f}" stroke="#000"/>',
                 f'<line x1="{cx - 8}" y1="{b:.1f}" x2="{cx + 8}" y2="{b:.1f}" stroke="#000"/>',
                 f'<text x="{cx}" y="{height - bottom + 14}" text-anchor="middle">{run}</text>',
                 f'<text x="{cx}" y="{height - bottom + 28}" text-anchor="middle">'
                 f'{_num(metric, e["value"])}</text>']
    return _svg(width, height, body, f"{FACTS[metric].label} bar chart with 95% intervals")


def ndb_bins_svg(ndb: dict) -> str:
    """Per-bin proportions: reference as grey bars, each run as a line; hollow = not different."""
    props = {name: np.asarray(ndb[name], dtype=float) for name in ("reference", *RUNS)}
    k = len(props["reference"])
    width, height, left, bottom, top = 720, 240, 45, 30, 25
    step = (width - left - 10) / k
    peak = max(float(p.max()) for p in props.values()) * 1.1 or 1.0

    def y(v: float) -> float:
        return height - bottom - v / peak * (height - top - bottom)
    body = [f'<text x="{left}" y="15" font-weight="bold">NDB bins: proportion of samples per bin '
            f'(bins sorted by reference size; filled dot = significantly different)</text>',
            f'<line x1="{left}" y1="{y(0):.1f}" x2="{width - 10}" y2="{y(0):.1f}" stroke="#333"/>',
            f'<text x="{left - 4}" y="{y(peak / 1.1):.1f}" text-anchor="end">{peak / 1.1:.3f}</text>',
            f'<text x="{left - 4}" y="{y(0):.1f}" text-anchor="end">0</text>']
    for i, v in enumerate(props["reference"]):
        body.append(f'<rect x="{left + i * step:.1f}" y="{y(v):.1f}" width="{max(step - 1, 1):.1f}" '
                    f'height="{y(0) - y(v):.1f}" fill="{COLOURS["reference"]}"/>')
    for run in RUNS:
        pts = " ".join(f"{left + (i + 0.5) * step:.1f},{y(v):.1f}" for i, v in enumerate(props[run]))
        body.append(f'<polyline points="{pts}" fill="none" stroke="{COLOURS[run]}"/>')
        for i, (v, diff) in enumerate(zip(props[run], ndb.get(f"{run}_different", [False] * k))):
            fill = COLOURS[run] if diff else "white"
            body.append(f'<circle cx="{left + (i + 0.5) * step:.1f}" cy="{y(v):.1f}" r="2.5" '
                        f'fill="{fill}" stroke="{COLOURS[run]}"/>')
    for j, name in enumerate(("reference", *RUNS)):
        body.append(f'<rect x="{left + j * 110}" y="{height - 14}" width="10" height="10" '
                    f'fill="{COLOURS[name]}"/><text x="{left + 14 + j * 110}" y="{height - 5}">'
                    f'{name}</text>')
    return _svg(width, height, body, "NDB bin proportions")


# ---- HTML ---------------------------------------------------------------------------------------

_CSS = ("body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;"
        "margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}"
        "th{background:#f3f3f3}.grids{display:flex;gap:2em;flex-wrap:wrap}"
        "img.grid{image-rendering:pixelated}.candidate-better{color:#1a7f37;font-weight:bold}"
        ".baseline-better{color:#cf222e;font-weight:bold}.skipped{color:#9a6700}"
        ".trade-off{color:#8250df;font-weight:bold}")


def _html_table(header: Sequence[str], rows: Sequence[Sequence[str]], verdict_col: Optional[int] = None) -> str:
    out = ["<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>"]
    for r in rows:
        cells = []
        for i, c in enumerate(r):
            cls = c.split(":")[0] if i == verdict_col else ""
            cells.append(f'<td class="{html.escape(cls)}">{html.escape(c)}</td>')
        out.append("<tr>" + "".join(cells) + "</tr>")
    return "".join(out) + "</table>"


def render_html(report: dict, grids: Dict[str, np.ndarray], extra_html: str = "") -> str:
    """``report.html``: one file with the tables, sample grids and charts (and ``extra_html``,
    already escaped, after the grids)."""
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>msgan-eval compare</title>"
             f"<style>{_CSS}</style></head><body><h1>msgan-eval compare</h1>",
             "<h2>Metrics</h2>", _html_table(HEADER, metric_rows(report), verdict_col=5)]
    boot = report["bootstrap"]
    parts.append(f"<p>{boot['confidence']:.0%} bootstrap intervals ({html.escape(boot['method'])}, "
                 f"{boot['n']} resamples, seed {boot['seed']}).</p>")
    from .render_multirun import multirun_html

    parts.append(multirun_html(report))
    reasons = skipped_reasons(report)
    if reasons:
        parts.append("<p>Skipped:</p><ul class='skipped'>" + "".join(
            f"<li><b>{html.escape(labels)}</b>: {html.escape(reason)}</li>" for labels, reason in reasons)
            + "</ul>")
    parts.append(_html_overall(report))
    for note in report.get("notes", []):
        parts.append(f"<p class='skipped'>note: {html.escape(note)}</p>")
    parts.append(quality_diversity_html(report))
    charts = [metric_bar_svg(report, m) for m in METRICS if m in report["runs"]["baseline"]]
    if charts:
        parts += ["<h2>Metrics with 95% intervals</h2><div class='grids'>", *charts, "</div>"]
    if grids:
        parts.append("<h2>Samples (first images of each condition)</h2><div class='grids'>")
        for name, grid in grids.items():
            zoom = 2 if grid.shape[1] < 400 else 1
            parts.append(f"<figure><figcaption>{html.escape(name)}: "
                         f"{html.escape(report['inputs'][name]['path'])}</figcaption>"
                         f"<img class='grid' alt='{html.escape(name)} samples' width='{grid.shape[1] * zoom}' "
                         f"src='data:image/png;base64,{png_base64(grid)}'></figure>")
        parts.append("</div>")
    parts.append(extra_html)
    ndb = report.get("details", {}).get("ndb")
    if ndb:
        parts += ["<h2>NDB bin proportions</h2>", ndb_bins_svg(ndb)]
    parts += ["<h2>Inputs</h2>",
              _html_table(("set", "path", "images", "conditions", "file-list sha256"), _inputs_rows(report)),
              "<h2>Provenance</h2><pre>", html.escape(_provenance_text(report)), "</pre></body></html>"]
    return "".join(parts)


def _html_overall(report: dict) -> str:
    overall = report.get("overall")
    if overall is None:
        return ""
    return (f"<h2>Overall: <span class='{html.escape(overall['verdict'])}'>"
            f"{html.escape(overall['verdict'])}</span></h2><ul>"
            + "".join(f"<li>{html.escape(r)}</li>" for r in overall["reasons"]) + "</ul>")


def _provenance_text(report: dict) -> str:
    import json

    return json.dumps({"provenance": report["provenance"], "parameters": report["parameters"],
                       "bootstrap": report["bootstrap"]}, indent=2)
