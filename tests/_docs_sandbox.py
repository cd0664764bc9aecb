"""The folders the documentation's examples name (real/, generated/, train/, ...), as tiny images.

Written once per session into a template; each page's test copies it (``shutil.copytree`` keeps
the modification times, so a copied set has the same file-list fingerprint and the Inception
features memoised for one page serve the next: ``msgan_eval.evaluate.features``).

Sizes: ``real/`` holds 100 images because ``compare`` fits its default 100 NDB bins on the
reference, ``train/`` 100 because ``ndb`` fits its default 100 bins on it; the generated sets
hold 6 images of each of two classes (enough for LPIPS pairs, KID subsets and prdc's k = 5).
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from msgan_eval.images import write_image_folder

CLASSES = ["cat", "dog"]
SIZE = 32          # LPIPS AlexNet needs at least 31x31

# folder -> (images per class, seed); the copies below share these images (and so their features)
ORIGINALS = {"real": (50, 0), "generated": (6, 1), "baseline": (6, 2), "train": (50, 3)}
COPIES = {
    "fake": "generated", "candidate": "generated", "other": "baseline",
    "samples/base": "baseline", "samples/baseline": "baseline", "samples/msgan": "generated",
    "runs/base-s0": "baseline", "runs/base-s1": "baseline", "runs/base-s2": "baseline",
    "runs/msgan-s0": "generated", "runs/msgan-s1": "generated", "runs/msgan-s2": "generated",
    "data/ref": "real",
}

# A passing gate for the sandbox's own numbers (random weights): pages that show an expectations
# file write theirs over it before they run `check`.
EXPECTATIONS = """\
[candidate.lpips]
min = 0.0
"""


def _blobs(n_per_class: int, seed: int) -> np.ndarray:
    """Smooth random images (a few coloured blobs), so K-means and LPIPS see structure."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    images = np.empty((n_per_class * len(CLASSES), SIZE, SIZE, 3), np.uint8)
    for i in range(len(images)):
        canvas = np.zeros((SIZE, SIZE, 3))
        for _ in range(3):
            cy, cx, r = rng.uniform(4, SIZE - 4, 2).tolist() + [rng.uniform(3, 9)]
            blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))
            canvas += blob[:, :, None] * rng.uniform(60, 255, 3)
        images[i] = np.clip(canvas + rng.normal(0, 8, canvas.shape), 0, 255)
    return images


def write_template(root: Path) -> Path:
    for name, (per_class, seed) in ORIGINALS.items():
        images = _blobs(per_class, seed)
        labels = [k // per_class for k in range(len(images))]
        write_image_folder(root / name, images, labels, CLASSES)
    for name, source in COPIES.items():
        shutil.copytree(root / source, root / name)
    (root / "expectations.toml").write_text(EXPECTATIONS)
    return root


def copy_template(template: Path, work: Path) -> Path:
    shutil.copytree(template, work)
    return work
