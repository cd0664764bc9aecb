"""Bundled offline datasets: Fashion-MNIST from idx files (Debian's dataset-fashion-mnist), and
MNIST from idx files the user points at (same file names, same format)."""
from __future__ import annotations

import gzip
import math
import os
from pathlib import Path
from typing import Optional, Tuple

import numpy as np

from .errors import UserError

FASHION_MNIST_CLASSES = ("t-shirt", "trouser", "pullover", "dress", "coat",
                         "sandal", "shirt", "sneaker", "bag", "ankle-boot")
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
          "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def _read_idx(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            data = fh.read()
    except (OSError, EOFError) as exc:
        raise UserError(f"{path}: cannot read idx file ({exc}); re-download the dataset") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise UserError(f"{path}: not an unsigned-byte idx file")
    ndim = data[3]
    dims = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    if len(data) < 4 + 4 * ndim:
        raise UserError(f"{path}: truncated idx file (header cut short)")
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != math.prod(dims):
        raise UserError(f"{path}: truncated idx file ({body.size} of {math.prod(dims)} bytes)")
    return body.reshape(dims)


def _find(root: Path, stem: str) -> Optional[Path]:
    for name in (stem + ".gz", stem):
        for folder in (root, root / "raw", root / "FashionMNIST" / "raw", root / "MNIST" / "raw"):
            if (folder / name).is_file():
                return folder / name
    return None


def fashion_mnist_root(data_root: "str | os.PathLike[str] | None" = None) -> Path:
    """The folder holding the idx files: ``data_root``, else the Debian package location.

    A ``data_root`` without idx files is refused, never silently replaced by the system copy.
    """
    root = Path(data_root) if data_root else DEBIAN_FASHION_MNIST
    if _find(root, _FILES["train"][0]) or _find(root, _FILES["test"][0]):
        return root
    if data_root:
        raise UserError(f"--data-root {data_root}: no Fashion-MNIST idx files there "
                        "(train-images-idx3-ubyte.gz etc., also looked in raw/ and "
                        "FashionMNIST/raw/); point it at them, or leave it out to use "
                        f"{DEBIAN_FASHION_MNIST} (apt-get install dataset-fashion-mnist)")
    raise UserError(f"Fashion-MNIST idx files not found in {DEBIAN_FASHION_MNIST}; install "
                    "them with `apt-get install dataset-fashion-mnist` or pass --data-root DIR "
                    "holding train-images-idx3-ubyte.gz etc.")


def load_fashion_mnist(split: str = "train", data_root=None) -> Tuple[np.ndarray, np.ndarray]:
    """(images uint8 (N, 28, 28), labels int64 (N,)) of the train or test split."""
    if split not in _FILES:
        raise UserError(f"unknown Fashion-MNIST split {split!r}; use train or test")
    return _load_split(fashion_mnist_root(data_root), split, "Fashion-MNIST")


def _load_split(root: Path, split: str, what: str) -> Tuple[np.ndarray, np.ndarray]:
    img_stem, lab_stem = _FILES[split]
    img_path, lab_path = _find(root, img_stem), _find(root, lab_stem)
    if img_path is None or lab_path is None:
        raise UserError(f"{root}: the {split} split of {what} is incomplete")
    images, labels = _read_idx(img_path), _read_idx(lab_path).astype(np.int64)
    if images.ndim != 3 or len(images) != len(labels):
        raise UserError(f"{img_path}: unexpected shape {images.shape} for {len(labels)} labels")
    return images, labels


def load_mnist(split: str, data_root) -> Tuple[np.ndarray, np.ndarray]:
    """(images uint8 (N, 28, 28), labels int64 (N,)) of MNIST's idx files in ``data_root``.

    MNIST has no Debian package here, so the folder is required (torchvision's ``MNIST/raw``
    layout is found too); the files have Fashion-MNIST's names and format.
    """
    if not data_root:
        raise UserError("--dataset mnist needs --data-root DIR holding MNIST's idx files "
                        "(train-images-idx3-ubyte.gz etc.)")
    root = Path(data_root)
    if not (_find(root, _FILES["train"][0]) or _find(root, _FILES["test"][0])):
        raise UserError(f"--data-root {data_root}: no MNIST idx files there "
                        "(train-images-idx3-ubyte.gz etc., also looked in raw/ and MNIST/raw/)")
    if split not in _FILES:
        raise UserError(f"unknown MNIST split {split!r}; use train or test")
    return _load_split(root, split, "MNIST")


IDX_DATASETS = {"fashion-mnist": load_fashion_mnist, "mnist": load_mnist}


def load_idx_dataset(dataset: str, split: str, data_root=None) -> Tuple[np.ndarray, np.ndarray]:
    """(images, labels) of ``split`` of an idx-file dataset (``IDX_DATASETS``)."""
    if dataset not in IDX_DATASETS:
        raise UserError(f"--dataset {dataset}: use one of {', '.join(IDX_DATASETS)}")
    return IDX_DATASETS[dataset](split, data_root)


def balanced_subset(labels: np.ndarray, per_class: int, seed: int = 0,
                    classes: Optional[np.ndarray] = None) -> np.ndarray:
    """Sorted indices of ``per_class`` seeded random examples of each class (or of ``classes``)."""
    rng = np.random.default_rng(seed)
    chosen = []
    for c in (np.unique(labels) if classes is None else classes):
        idx = np.flatnonzero(labels == c)
        if per_class > len(idx):
            raise UserError(f"class {c} has only {len(idx)} examples, {per_class} requested")
        chosen.append(rng.choice(idx, size=per_class, replace=False))
    return np.sort(np.concatenate(chosen))
