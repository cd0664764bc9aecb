"""What ``track`` evaluates: a series of image sets indexed by training step.

A series has ``steps`` (sorted), ``images(step)`` (anything :func:`as_image_set` reads) and
``sampling`` (how its images were made, recorded in ``track.json`` so a resumed curve keeps them).
:class:`FolderSeries` is a folder of sample sets named by step; a training run's checkpoints are
``msgan_eval.train.tracking.RunSeries`` (training code composes with this layer, never the
reverse). :func:`sample_generator` turns a generator callable into one in-memory image set.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Callable, Dict, List

import numpy as np

from msgan_eval.errors import ParameterError, ParameterTypeError, UserError
from msgan_eval.images import ImageSet

from .inputs import as_image_set

# step-1000, step_1000, step1000 or 1000 (leading zeros allowed)
STEP_FOLDER = re.compile(r"^(?:step[-_]?)?(\d+)$", re.IGNORECASE)
Generator = Callable[[int, int], Any]


class FolderSeries:
    """Sample sets in sub-folders of ``root`` named by step (``step-1000/``, ``1000/``).

    A sub-folder written by ``sample`` for an image-to-image run (``sample.json`` beside
    ``samples/``) is read at its ``samples/`` folder, as ``lpips``/``fid`` read it.
    """

    def __init__(self, root: "str | os.PathLike[str]", skip_bad: bool = False):
        self.root, self.skip_bad = Path(root), skip_bad
        if self.root.exists() and not self.root.is_dir():
            raise UserError(f"RUN {self.root}: a file, not a folder; give a training run (msgan-eval "
                            "train --out) or a folder of sample sets named by step")
        if not self.root.is_dir():
            raise UserError(f"RUN {self.root}: no such folder; give a training run (msgan-eval train "
                            "--out) or a folder of sample sets named by step")
        found: Dict[int, Path] = {}
        for p in sorted(self.root.iterdir()):
            m = STEP_FOLDER.match(p.name)
            if not (m and p.is_dir()):
                continue
            step = int(m.group(1))
            if step in found:
                raise UserError(f"RUN {self.root}: {found[step].name} and {p.name} are both step "
                                f"{step}; keep one sample set per step")
            found[step] = p
        if not found:
            raise UserError(f"RUN {self.root}: no checkpoints: neither a training run (no "
                            "config.json) nor sample sets in sub-folders named by step (e.g. "
                            "step-1000/); train the run first or sample its checkpoints")
        self._folders = dict(sorted(found.items()))
        self.steps: List[int] = list(self._folders)
        self.sampling = {"kind": "folders"}

    def folder(self, step: int) -> Path:
        p = self._folders[step]
        if (p / "sample.json").is_file() and (p / "samples").is_dir():
            return p / "samples"
        return p

    def images(self, step: int) -> ImageSet:
        return as_image_set(self.folder(step), param="run", skip_bad=self.skip_bad)


def batch_seed(seed: int, index: int) -> int:
    """The seed of a generator's ``index``-th batch: SeedSequence([seed, index])'s first word, so
    batches draw unrelated noise and every update draws the same noise (a fixed seed)."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def sample_generator(generator: Generator, n: int, seed: int, batch: int) -> ImageSet:
    """``n`` images (of each condition) of ``generator(m, seed_i)`` called in batches of at most
    ``batch``, held in memory as uint8 (never written to disk).

    The generator returns uint8 (N, H, W, C) / float (N, C, H, W) in [0, 1] like every in-memory
    input (:mod:`msgan_eval.evaluate.inputs`), or a mapping condition -> those.
    """
    if not isinstance(n, int) or isinstance(n, bool) or n < 2:
        raise ParameterError(f"{{n}} {n!r}: sample at least 2 images from the generator", "n")
    if not isinstance(batch, int) or batch < 1:
        raise ParameterError(f"{{sample_batch}} {batch!r}: use a positive batch size", "sample_batch")
    rows: Dict[str, List[np.ndarray]] = {}
    mapping, done, index = False, 0, 0
    while done < n:
        m = min(batch, n - done)
        out = generator(m, batch_seed(seed, index))
        mapping = isinstance(out, dict)
        got = 0
        for condition, x in (out.items() if mapping else [(".", out)]):
            part = as_image_set(x, param="generator")
            rows.setdefault(str(condition), []).extend(part[i] for i in range(len(part)))
            got = max(got, len(part))
        if got < 1:
            raise ParameterTypeError("{generator} returned no images", "generator")
        done, index = done + got, index + 1
    stacked = {c: np.stack(r) for c, r in rows.items()}
    return as_image_set(stacked if mapping else stacked["."], param="generator")
