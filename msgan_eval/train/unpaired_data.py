"""Unpaired images of two domains (A, B) for the DRIT trainer, as uint8 arrays in memory.

- ``fashion-mnist-tints`` (offline, deterministic): domain A holds the grey Fashion-MNIST items
  of even index in the split, domain B the items of odd index, each tinted with one hue of
  ``TINT_PALETTE``: the B item ``j`` (counting B items from 0 in split order) gets hue ``j % 6``, so
  every hue holds a sixth of B and hue and class are unrelated (Fashion-MNIST's order is shuffled).
  A tinted pixel is the grey level times the hue's RGB at full saturation (``tint``). A and B never
  share an item. Translating A -> B has six right answers per input, one per hue: a collapsed
  translator gives one hue per input, a diverse one several (``metrics.hues`` counts them).
  Images are padded from 28x28 to 32x32 like the other trainers' data.
- ``unpaired-folder``: CycleGAN's layout (``trainA/``, ``trainB/``, ``testA/``, ``testB/``), each
  folder holding images directly, read through the one image road (``scan_images``). Every image
  must be square, 32 to 256 pixels, a power of two, one size for both domains; a domain whose
  images are all grey is kept as one channel, as ``paired-folder`` does.

DRIT's loader (``DRIT-Mode-Seeking/dataset.py:39-89``) walks the larger domain in order and draws
each partner from the other domain at random; ``UnpairedData.batch`` does the same with a seeded
generator.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Tuple

import numpy as np

from msgan_eval.datasets import FASHION_MNIST_CLASSES, balanced_subset, load_fashion_mnist
from msgan_eval.errors import UserError
from msgan_eval.images import ROOT_CONDITION, ImageSet, scan_images
from msgan_eval.names import path_components

from . import UNPAIRED_DATASETS
from .data import to_training_layout

# (name, RGB at full saturation): hues 0, 60, ..., 300 degrees.
TINT_PALETTE: Tuple[Tuple[str, Tuple[int, int, int]], ...] = (
    ("red", (255, 0, 0)), ("yellow", (255, 255, 0)), ("green", (0, 255, 0)),
    ("cyan", (0, 255, 255)), ("blue", (0, 0, 255)), ("magenta", (255, 0, 255)))
TINT_HUES = tuple(60.0 * k for k in range(len(TINT_PALETTE)))     # degrees
IMAGE_SIZES = (32, 64, 128, 256)
FOLDERS = {"train": ("trainA", "trainB"), "test": ("testA", "testB")}


@dataclass
class UnpairedData:
    a: np.ndarray                        # uint8 (N_A, C_A, S, S)
    b: np.ndarray                        # uint8 (N_B, C_B, S, S)
    names_a: Tuple[str, ...]             # one per A image: its samples sub-folder
    labels_a: Optional[np.ndarray] = None   # Fashion-MNIST classes (balanced subsets)
    labels_b: Optional[np.ndarray] = None
    hues_b: Optional[np.ndarray] = None     # fashion-mnist-tints: each B image's palette index

    def __len__(self) -> int:
        """Images per epoch: the larger domain's (dataset.py:53)."""
        return max(len(self.a), len(self.b))

    @property
    def image_size(self) -> int:
        return int(self.a.shape[-1])

    def batch(self, idx: np.ndarray, rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
        """(A images, B images) for positions ``idx`` of an epoch: the larger domain in order, the
        other drawn at random (dataset.py:71-78)."""
        if len(self.a) >= len(self.b):
            return self.a[idx], self.b[rng.integers(0, len(self.b), size=len(idx))]
        return self.a[rng.integers(0, len(self.a), size=len(idx))], self.b[idx]


def unpaired_summary(data: UnpairedData) -> dict:
    """What a resumed run checks against config.json: same counts, channels and size."""
    return {"n_train": len(data), "n_a": len(data.a), "n_b": len(data.b),
            "input_channels": int(data.a.shape[1]), "output_channels": int(data.b.shape[1]),
            "image_size": data.image_size}


def load_unpaired_data(dataset: str, data_root: Optional[str] = None, split: str = "train",
                       subset_per_class: Optional[int] = None, seed: int = 0) -> UnpairedData:
    """The ``split`` ("train" or "test") of an unpaired dataset."""
    if dataset == "fashion-mnist-tints":
        images, labels = load_fashion_mnist(split, data_root)
        data = fashion_mnist_tints(images, labels)
    elif dataset == "unpaired-folder":
        data = read_unpaired_folder(data_root, split)
    else:
        raise UserError(f"--dataset {dataset}: not an unpaired dataset; use one of "
                        f"{', '.join(UNPAIRED_DATASETS)}")
    if subset_per_class is None:
        return data
    if data.labels_a is None:
        raise UserError(f"--subset-per-class: {dataset} has no classes; drop the option")
    try:
        ia = balanced_subset(data.labels_a, subset_per_class, seed)
        ib = balanced_subset(data.labels_b, subset_per_class, seed + 1)
    except UserError as exc:
        raise UserError(f"--subset-per-class {subset_per_class}: {exc}") from None
    return UnpairedData(data.a[ia], data.b[ib], tuple(data.names_a[i] for i in ia),
                        data.labels_a[ia], data.labels_b[ib], data.hues_b[ib])


def tint(grey: np.ndarray, hue_index: np.ndarray) -> np.ndarray:
    """uint8 (N, H, W) grey items and palette indices (N,) -> uint8 (N, H, W, 3): each pixel's
    grey level times its item's hue (RGB in [0, 1]), rounded."""
    rgb = np.array([c for _, c in TINT_PALETTE], dtype=np.uint16)[np.asarray(hue_index)]
    scaled = np.asarray(grey, dtype=np.uint16)[..., None] * rgb[:, None, None, :]
    return ((scaled + 127) // 255).astype(np.uint8)


def fashion_mnist_tints(images: np.ndarray, labels: np.ndarray) -> UnpairedData:
    """Domain A: the grey items of even index; B: the items of odd index, B item j tinted j % 6."""
    labels = np.asarray(labels, dtype=np.int64)
    ia, ib = np.arange(0, len(images), 2), np.arange(1, len(images), 2)
    hues = np.arange(len(ib)) % len(TINT_PALETTE)
    names = tuple(f"{i:05d}-{FASHION_MNIST_CLASSES[int(labels[i])]}" for i in ia)
    return UnpairedData(to_training_layout(images[ia]), to_training_layout(tint(images[ib], hues)),
                        names, labels[ia], labels[ib], hues)


def _domain_folder(data_root: Optional[str], name: str) -> Path:
    if not data_root:
        raise UserError("--dataset unpaired-folder needs --data-root DIR holding trainA/, trainB/, "
                        "testA/ and testB/ (CycleGAN's layout)")
    folder = Path(data_root) / name
    if not folder.is_dir():
        raise UserError(f"--data-root {data_root}: no {name}/ folder; the unpaired layout is "
                        "trainA/, trainB/, testA/ and testB/ (CycleGAN's), images directly inside")
    return folder


def _read_domain(folder: Path) -> Tuple[np.ndarray, Tuple[str, ...]]:
    """uint8 (N, C, S, S) and the file stems of one domain folder."""
    image_set: ImageSet = scan_images(folder, offers_skip_bad=False)
    if set(image_set.conditions) != {ROOT_CONDITION}:
        sub = next(c for c in image_set.conditions if c != ROOT_CONDITION)
        raise UserError(f"{folder}: holds the sub-folder {sub}/; put the domain's images directly "
                        f"in {folder.name}/")
    h, w = image_set.common_size(hint=f"the images of {folder.name}/ must all have one size")
    if h != w or h not in IMAGE_SIZES:
        raise UserError(f"{folder}: images are {w}x{h}; DRIT needs square images of "
                        f"{', '.join(map(str, IMAGE_SIZES))} pixels (resize them first)")
    images = np.stack([image_set[i] for i in range(len(image_set))])
    stems = tuple(Path(r.name).stem for r in image_set.refs)
    if np.array_equal(images[..., 0], images[..., 1]) and np.array_equal(images[..., 0], images[..., 2]):
        images = images[..., :1]
    return np.ascontiguousarray(images.transpose(0, 3, 1, 2)), stems


def read_unpaired_folder(data_root: Optional[str], split: str) -> UnpairedData:
    """``trainA/`` + ``trainB/`` (or ``testA/`` + ``testB/``) of a CycleGAN-layout folder."""
    name_a, name_b = FOLDERS[split]
    folder_a, folder_b = _domain_folder(data_root, name_a), _domain_folder(data_root, name_b)
    a, stems = _read_domain(folder_a)
    b, _ = _read_domain(folder_b)
    if a.shape[-1] != b.shape[-1]:
        raise UserError(f"--data-root {data_root}: {name_a}/ images are {a.shape[-1]} pixels wide "
                        f"and {name_b}/ images {b.shape[-1]}; resize both domains to one size")
    # Each A name becomes a samples sub-folder when the run is sampled: check before training.
    return UnpairedData(a, b, path_components(stems, folder_a, what="image name"))


def to_channels(images: np.ndarray, channels: int) -> np.ndarray:
    """uint8 (N, C, S, S) with C in (1, 3) -> ``channels`` channels: grey is repeated into RGB;
    RGB becomes grey by the luminance weights of the official loader (dataset.py:31-33)."""
    if images.shape[1] == channels:
        return images
    if channels == 3:
        return np.repeat(images, 3, axis=1)
    weights = np.array([0.299, 0.587, 0.114]).reshape(1, 3, 1, 1)
    return np.clip(np.rint((images * weights).sum(1, keepdims=True)), 0, 255).astype(np.uint8)
