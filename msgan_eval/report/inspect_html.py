"""The inspector's HTML: a table of the flags and their thresholds, then the flagged images grouped
by flag (embedded PNGs: no network, no external files). ``inspect_section_html`` is the part a
larger report (compare, the image-to-image demo) embeds; ``write_inspect_html`` a whole page.
"""
from __future__ import annotations

import html
import os
from typing import List

import numpy as np

from msgan_eval.fileio import atomic_path
from msgan_eval.images import ImageSet

from .render import _CSS, png_base64

PER_FLAG = 48          # images shown per flag (the first ones in sorted order)
THUMB = 64             # displayed width of a thumbnail, pixels


def _fraction(count, n: int) -> str:
    return "not computed" if count is None else f"{count} ({count / max(n, 1):.1%})"


def _table(d: dict) -> str:
    rows = ["<table><tr><th>flag</th><th>images</th><th>fires when</th><th>threshold</th></tr>"]
    for flag, count in d["flags"].items():
        t = d["thresholds"].get(flag, {})
        value = t.get("value")
        why = d["not_computed"].get(flag, t.get("rule", ""))
        rows.append(f"<tr><td>{html.escape(flag)}</td><td>{_fraction(count, d['n'])}</td>"
                    f"<td>{html.escape(str(why))}</td>"
                    f"<td>{'' if value is None else f'{value:.4g}'}</td></tr>")
    return "".join(rows) + "</table>"


def _thumb(image: np.ndarray, title: str) -> str:
    width = max(THUMB, image.shape[1])            # small images enlarged, large ones as they are
    return (f"<img title='{html.escape(title)}' alt='{html.escape(title)}' width='{width}' "
            f"style='image-rendering:pixelated;margin:2px' "
            f"src='data:image/png;base64,{png_base64(image)}'>")


def inspect_section_html(result, images: ImageSet, title: str = "Flagged samples",
                         per_flag: int = PER_FLAG) -> str:
    """The summary table and, per flag that fired, its first ``per_flag`` images (hover: path,
    condition and realism score). ``result`` is an ``InspectResult`` of ``images``."""
    d = result.to_dict()
    parts: List[str] = [f"<h2>{html.escape(title)}</h2>",
                        f"<p>{d['n']} images: degenerate (blank, saturated or noise) "
                        f"{d['degenerate_fraction']:.1%}; the flags are calibrated on "
                        f"{d['n_reference']} reference images.</p>", _table(d)]
    for note in d["notes"]:
        parts.append(f"<p class='skipped'>note: {html.escape(note)}</p>")
    for j, name in enumerate(d["flags"]):            # the columns of result.matrix, in order
        rows = np.flatnonzero(result.matrix[:, j])
        if not len(rows):
            continue
        parts.append(f"<h3>{html.escape(name)} ({len(rows)})</h3><div>")
        for i in rows[:per_flag]:
            realism = d["images"][i].get("realism", "n/a")
            parts.append(_thumb(images[int(i)], f"{d['images'][i]['path']} (condition "
                                f"{d['images'][i]['condition']}, realism {realism})"))
        if len(rows) > per_flag:
            parts.append(f"<p>... and {len(rows) - per_flag} more (see --json)</p>")
        parts.append("</div>")
    return "".join(parts)


def write_inspect_html(path: "str | os.PathLike[str]", result, images: ImageSet) -> None:
    """A whole page: the section above and the inputs, written atomically."""
    d = result.to_dict()
    inputs = "".join(f"<li>{html.escape(k)}: {html.escape(str(v))}</li>"
                     for k, v in d["inputs"].items() if v is not None)
    page = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>msgan-eval inspect</title>"
            f"<style>{_CSS}</style></head><body><h1>msgan-eval inspect</h1><ul>{inputs}</ul>"
            f"{inspect_section_html(result, images)}"
            f"<p>msgan-eval {html.escape(d['version'])}, features {html.escape(d['features'])}, "
            f"k = {d['k']}</p></body></html>")
    with atomic_path(path, suffix=".html") as tmp:
        tmp.write_text(page, encoding="utf-8", errors="backslashreplace")
