"""The modes demo's report: the table beside PacGAN's Table 1, the verdicts, one scatter per trial.

Scatters are drawn with numpy (no plotting library): each trial's 2500 points as dark pixels over
the mode centres (red), one row per arm, one column per trial.
"""
from __future__ import annotations

import html
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

from msgan_eval.metrics.modes import mixture

CELL = 80                                      # pixels per trial scatter
EXTENT = {"ring": 1.5, "grid": 5.5}            # half-width of the plotted square


def scatter(points: np.ndarray, layout: str, size: int = CELL) -> np.ndarray:
    """(size, size, 3) uint8: the points (darker where denser) over the mode centres."""
    half = EXTENT[layout]

    def pix(xy):
        ij = np.floor((np.asarray(xy, dtype=np.float64) + half) / (2 * half) * size).astype(int)
        keep = ((ij >= 0) & (ij < size)).all(axis=1)
        return ij[keep]
    ink = np.zeros((size, size))
    ij = pix(points)
    np.add.at(ink, (size - 1 - ij[:, 1], ij[:, 0]), 1.0)
    shade = (255 * np.exp(-ink / 4.0)).astype(np.uint8)
    img = np.repeat(shade[:, :, None], 3, axis=2)
    for x, y in pix(mixture(layout).centres):
        r = size - 1 - y
        for dr, dc in ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1)):
            rr, cc = r + dr, x + dc
            if 0 <= rr < size and 0 <= cc < size and img[rr, cc, 0] > 128:
                img[rr, cc] = (220, 30, 30)
    img[[0, -1], :] = 200
    img[:, [0, -1]] = 200
    return img


def scatter_grid(points_by_arm: Dict[str, np.ndarray], layout: str) -> np.ndarray:
    from msgan_eval.report.render import image_grid

    rows = [[scatter(p, layout) for p in trials] for trials in points_by_arm.values()]
    return image_grid(rows, pad=3, background=255)


def _ms(entry: dict, scale: float = 1.0, digits: int = 2) -> str:
    if entry["mean"] is None:
        return "n/a"
    se = "" if entry["se"] is None else f" ± {entry['se'] * scale:.{digits}f}"
    return f"{entry['mean'] * scale:.{digits}f}{se}"


def _paper(row: Optional[dict]) -> List[str]:
    if row is None:
        return ["—", "—", "—"]
    return [f"{row['modes'][0]} ± {row['modes'][1]}", f"{row['hq'][0]} ± {row['hq'][1]}",
            f"{row['kl'][0]:.2f} ± {row['kl'][1]:.2f}"]


def table_rows(layout_report: dict) -> List[List[str]]:
    rows = []
    for arm, entry in layout_report["arms"].items():
        s = entry["summary"]
        rows.append([arm, _ms(s["modes"], digits=1), _ms(s["high_quality"], 100, 1),
                     _ms(s["reverse_kl"]), *_paper(layout_report["paper"].get(arm))])
    return rows


HEADER = ["arm", "modes", "high quality %", "reverse KL",
          "PacGAN modes", "PacGAN HQ %", "PacGAN reverse KL"]


def verdict_lines(layout_report: dict) -> List[str]:
    out = []
    for c in layout_report["comparisons"]:
        parts = []
        for m, v in c["metrics"].items():
            ci = "n/a" if v["ci"][0] is None else f"[{v['ci'][0]:+.3f}, {v['ci'][1]:+.3f}]"
            parts.append(f"{m} {ci} {v['verdict']}")
        out.append(f"{c['candidate']} vs {c['baseline']}: " + "; ".join(parts)
                   + f"; overall {c['overall']['verdict']}")
    return out


def render_text(report: dict) -> str:
    lines = []
    for layout, lr in report["layouts"].items():
        total = lr["modes_total"]
        lines.append(f"{layout} ({total} modes), {report['trials']} trials per arm, mean ± SE "
                     f"(PacGAN Table 1 beside):")
        widths = [max(len(r[i]) for r in [HEADER] + table_rows(lr)) for i in range(len(HEADER))]
        for row in [HEADER] + table_rows(lr):
            lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths)))
        lines += [f"  {v}" for v in verdict_lines(lr)]
    lines += [f"note: {n}" for n in report["notes"]]
    return "\n".join(lines)


def render_markdown(report: dict) -> str:
    lines = [f"# Mode counting demo ({report['setting']})", "",
             f"`{' '.join(report['command'])}` — {report['trials']} trials per arm, "
             f"{report['seconds']['total']:.0f} s.", ""]
    for layout, lr in report["layouts"].items():
        lines += [f"## {layout}", "", "| " + " | ".join(HEADER) + " |",
                  "|" + "---|" * len(HEADER)]
        lines += ["| " + " | ".join(r) + " |" for r in table_rows(lr)]
        lines += ["", *[f"- {v}" for v in verdict_lines(lr)], "",
                  f"![{layout} samples, one row per arm ({', '.join(lr['arms'])}), one column per "
                  f"trial]({lr['scatter']})", ""]
    lines += [f"- {n}" for n in report["notes"]]
    return "\n".join(lines) + "\n"


def render_html(report: dict, images: Dict[str, np.ndarray]) -> str:
    from msgan_eval.report.render import png_base64

    body = [f"<h1>Mode counting demo ({html.escape(report['setting'])})</h1>"]
    for layout, lr in report["layouts"].items():
        head = "".join(f"<th>{html.escape(h)}</th>" for h in HEADER)
        rows = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>"
                       for r in table_rows(lr))
        body += [f"<h2>{layout}</h2>", f"<table><tr>{head}</tr>{rows}</table>", "<ul>"]
        body += [f"<li>{html.escape(v)}</li>" for v in verdict_lines(lr)]
        body += ["</ul>", f"<p>Rows: {html.escape(', '.join(lr['arms']))}; columns: trials.</p>",
                 f'<img alt="{layout} scatter" src="data:image/png;base64,'
                 f'{png_base64(images[layout])}">']
    body += ["<ul>"] + [f"<li>{html.escape(n)}</li>" for n in report["notes"]] + ["</ul>"]
    return ("<!doctype html><meta charset='utf-8'><title>msgan-eval modes demo</title>"
            "<style>body{font-family:sans-serif;max-width:70em}td,th{padding:2px 8px}"
            "img{image-rendering:pixelated}</style>" + "\n".join(body))


def write_report_files(out: Path, report: dict, points: Dict[str, Dict[str, np.ndarray]]) -> Dict[str, Path]:
    from msgan_eval.fileio import write_json_atomic, write_text_atomic
    from msgan_eval.images import write_png

    images = {layout: scatter_grid(by_arm, layout) for layout, by_arm in points.items()}
    for layout, img in images.items():
        write_png(out / report["layouts"][layout]["scatter"], img)
    write_json_atomic(out / "report.json", report)
    write_text_atomic(out / "report.md", render_markdown(report))
    write_text_atomic(out / "report.html", render_html(report, images))
    return {"json": out / "report.json", "md": out / "report.md", "html": out / "report.html"}
