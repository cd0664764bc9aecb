"""Stacked digits (PacGAN Table 2 / VEEGAN): 3 independent digit images in the 3 channels.

Construction (``stacked_MNIST_experiments/VEEGAN_experiment/model.py`` l.361-386): the train and
test images (70,000) are pooled; each of ``n_items`` (128,000, ``config.py`` l.22) training items
takes 3 uniform draws with replacement, ``X[ids[i, j]]`` in channel j; the packed real input of
PacGAN-m takes m further uniform draws of items (l.379-384); pixels / 255. We draw the ids from
``numpy.random.default_rng([seed, 24, ...])`` instead of the unseeded global ``np.random``, so the
same seed gives the same items everywhere (documented in docs/modes.md).

- ``stacked-fashion-mnist``: Fashion-MNIST from the Debian package
  (``/usr/share/datasets/fashion-mnist``) or ``data_root``;
- ``stacked-mnist``: MNIST's idx files from ``data_root`` (the papers' setting; not available
  offline here, the user supplies them).
"""
from __future__ import annotations

from functools import lru_cache
from typing import Optional, Tuple

import numpy as np

from msgan_eval.datasets import load_fashion_mnist, load_mnist
from msgan_eval.errors import UserError

STACKED_DATASETS = ("stacked-fashion-mnist", "stacked-mnist")
@lru_cache(maxsize=2)
def load_digits(dataset: str, data_root: Optional[str] = None) -> Tuple[np.ndarray, np.ndarray]:
    """Train and test pooled (model.py l.372): (images (70000, 28, 28) uint8, labels), read-only.

    Kept for the process (55 MB): the arms of a demo run in one worker decode the idx files once.
    """
    if dataset == "stacked-fashion-mnist":
        parts = [load_fashion_mnist(split, data_root) for split in ("train", "test")]
    elif dataset == "stacked-mnist":
        if not data_root:
            raise UserError("--dataset stacked-mnist: MNIST is not bundled and cannot be "
                            "downloaded here; pass --data-root DIR holding its idx files "
                            "(train-images-idx3-ubyte.gz etc.)")
        parts = [load_mnist(split, data_root) for split in ("train", "test")]
    else:
        raise UserError(f"--dataset {dataset}: use one of {', '.join(STACKED_DATASETS)}")
    images, labels = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    images.flags.writeable = labels.flags.writeable = False
    return images, labels


def stack_ids(n_digits: int, n_items: int, seed: int) -> np.ndarray:
    """(n_items, 3) indices into the pooled digits: 3 uniform draws with replacement per item."""
    return np.random.default_rng([seed, 24, 0]).integers(0, n_digits, (n_items, 3))


def stacked_items(digits: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """(N, 28, 28, 3) uint8 items, channel j = ``digits[ids[:, j]]``."""
    return np.stack([digits[ids[:, j]] for j in range(ids.shape[1])], axis=-1)


def uniform_triple_items(digits: np.ndarray, labels: np.ndarray, n: int,
                         seed: int) -> Tuple[np.ndarray, np.ndarray]:
    """``n`` real stacked items whose label triples are uniform over the 1000 (each channel's
    class uniform, then a uniform image of that class): (items, true triples (n, 3))."""
    rng = np.random.default_rng([seed, 24, 7])
    triples = rng.integers(0, 10, (n, 3))
    by_class = [np.flatnonzero(labels == c) for c in range(10)]
    ids = np.empty((n, 3), dtype=np.int64)
    for c in range(10):
        where = triples == c
        ids[where] = rng.choice(by_class[c], size=int(where.sum()))
    return stacked_items(digits, ids), triples


class StackedData:
    """The training items of one run and the packed rows PacGAN-m's D sees."""

    def __init__(self, dataset: str, data_root: Optional[str], n_items: int, pack: int, seed: int):
        self.digits, self.labels = load_digits(dataset, data_root)
        self.ids = stack_ids(len(self.digits), n_items, seed)
        # model.py l.379: each packed row takes `pack` uniform draws of items
        self.pack_ids = np.random.default_rng([seed, 24, 1]).integers(0, n_items, (n_items, pack))
        self.class_names = (dataset,)

    def __len__(self) -> int:
        return len(self.ids)

    def batch(self, idx: np.ndarray):
        """(B, 3 m, 28, 28) float32 in [0, 1] (model.py l.386: / 255), channel 3 j + k = item
        ``pack_ids[i, j]``'s channel k (l.383-384)."""
        import torch

        items = self.ids[self.pack_ids[idx]]                  # (B, m, 3)
        x = self.digits[items.reshape(len(idx), -1)]          # (B, 3 m, 28, 28)
        return torch.from_numpy(x).float().div_(255.0)
