"""The image-to-image rows of the HTML report: per input, its input and target, a row of
baseline samples and a row of candidate samples (embedded PNGs, like the sample grids)."""
from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np

from msgan_eval.images import decode_image

from .render import png_base64

ZOOM = 2


def _img(image: np.ndarray, alt: str) -> str:
    return (f"<img alt='{html.escape(alt)}' width='{image.shape[1] * ZOOM}' "
            f"style='image-rendering:pixelated' src='data:image/png;base64,{png_base64(image)}'>")


def _strip(paths: Sequence[Path]) -> np.ndarray:
    """Images side by side with a 2-pixel white gap."""
    images = [decode_image(p) for p in paths]
    h, w = images[0].shape[:2]
    strip = np.full((h, len(images) * (w + 2) - 2, 3), 255, np.uint8)
    for k, img in enumerate(images):
        strip[:, k * (w + 2):k * (w + 2) + w] = img
    return strip


def _arm_label(row_label: str, judged: Optional[dict]) -> str:
    if not judged:
        return html.escape(row_label)
    d = judged.get("degenerate_fraction")
    degenerate = "n/a" if d is None else f"{100 * d:.1f}%"
    return (f"{html.escape(row_label)}<br><small>keeps the item: "
            f"{100 * judged['class_agreement']:.1f}%<br>blank/noise: {degenerate}</small>")


def input_labels(inputs_dir: Path) -> Dict[str, str]:
    """Input name -> its label (the item's class), from the ``sample.json`` that ``msgan-eval
    sample`` writes beside ``inputs/``; empty when there is none (then rows show the name only)."""
    try:
        manifest = json.loads((Path(inputs_dir).parent / "sample.json").read_text(encoding="utf-8"))
        return dict(zip(manifest["names"], manifest["labels"]))
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def pairs_html(inputs_dir: Path, targets_dir: Path, samples: Dict[str, Path], names: Sequence[str],
               per_row: int = 8, judges: Optional[Dict[str, dict]] = None) -> str:
    """A table: one block per input, headed by its name and label; ``samples`` maps a row label to
    its samples folder (``<folder>/<name>/*.png``), e.g. {"baseline": ..., "MSGAN": ...};
    ``judges`` maps a row label to its arm's ``class_agreement`` and ``degenerate_fraction``
    (shown beside each row and above the table)."""
    from msgan_eval.names import path_component

    judges = judges or {}
    rows: List[str] = []
    labels = input_labels(inputs_dir)
    for name in names:
        path_component(name, inputs_dir, what="input name")   # read from folders: stay inside them
        label = html.escape(name) + (f"<br><b>{html.escape(labels[name])}</b>"
                                     if labels.get(name, name) != name else "")
        first = True
        for row_label, folder in samples.items():
            files = sorted((Path(folder) / name).glob("*.png"))[:per_row]
            lead = (f"<td rowspan='{len(samples)}'>{_img(decode_image(inputs_dir / f'{name}.png'), 'input')}"
                    f"</td><td rowspan='{len(samples)}'>"
                    f"{_img(decode_image(targets_dir / f'{name}.png'), 'target')}</td>") if first else ""
            rows.append(f"<tr>{f'<td rowspan={len(samples)}>{label}</td>' if first else ''}{lead}"
                        f"<td>{_arm_label(row_label, judges.get(row_label))}</td>"
                        f"<td>{_img(_strip(files), row_label)}</td></tr>")
            first = False
    summary = "".join(f"<li>{_arm_label(k, v).replace('<br>', ', ')}</li>" for k, v in judges.items())
    return ("<h2>Inputs, targets and samples</h2>"
            + (f"<p>Per arm, over all its samples (the bundled classifier names the input's class; "
               f"inspect's blank / saturated / noise flags):</p><ul>{summary}</ul>" if judges else "")
            + "<table><tr><th>input (label)</th><th>input</th>"
            "<th>target</th><th>run</th><th>samples (different z)</th></tr>" + "".join(rows)
            + "</table>")
