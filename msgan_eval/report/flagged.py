"""The report's "flagged samples" section: the first images ``inspect`` flagged in each run, one
row per flag (``details.degenerate``, written by ``evaluate/runners_inspect.py``)."""
from __future__ import annotations

import html
from typing import Dict

from msgan_eval.images import ImageSet

from .schema import RUNS

PER_FLAG = 8      # images shown per run and flag


def flagged_html(report: dict, runs: Dict[str, ImageSet], per_flag: int = PER_FLAG) -> str:
    """HTML rows of flagged thumbnails per run and flag; empty without ``degenerate`` details."""
    from .render import image_grid, png_base64

    details = report.get("details", {}).get("degenerate")
    if not details:
        return ""
    parts = ["<h2>Flagged samples (degenerate: blank, saturated or noise)</h2>"]
    for run in RUNS:
        entry, images = details.get(run), runs.get(run)
        if not entry or images is None:
            continue
        counts = ", ".join(f"{flag} {entry['counts'][flag]}" for flag in details["flags"])
        parts.append(f"<p><b>{run}</b>: {entry['fraction']:.1%} of {entry['n']} samples flagged "
                     f"({html.escape(counts)}); the first ones:</p><div class='grids'>")
        for flag in details["flags"]:
            rows = [e["index"] for e in entry["flagged"] if flag in e["flags"]][:per_flag]
            rows = [i for i in rows if i < len(images)]
            if not rows:
                continue
            # grey between the cells: a white or black frame is among what gets flagged
            grid = image_grid([[images[i] for i in rows]], size=images.sizes[rows[0]], background=150)
            zoom = 2 if grid.shape[1] < 300 else 1
            parts.append(f"<figure><figcaption>{html.escape(flag)}</figcaption><img class='grid' "
                         f"alt='{html.escape(run)} {html.escape(flag)}' width='{grid.shape[1] * zoom}' "
                         f"src='data:image/png;base64,{png_base64(grid)}'></figure>")
        parts.append("</div>")
    return "".join(parts) if len(parts) > 1 else ""
