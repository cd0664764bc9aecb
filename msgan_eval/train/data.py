"""Training data as one in-memory uint8 array: 32x32, channels first, sub-folders/labels = classes.

The official code trains on ``torchvision`` CIFAR-10 with ``Resize(32)``, ``ToTensor()`` and
``Normalize(0.5, 0.5)``; 28x28 datasets (Fashion-MNIST, MNIST) are padded by 2 black pixels.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Tuple

import numpy as np

from msgan_eval.datasets import (
    DEBIAN_FASHION_MNIST,
    FASHION_MNIST_CLASSES,
    balanced_subset,
    fashion_mnist_root,
    load_fashion_mnist,
)
from msgan_eval.errors import UserError, first_line
from msgan_eval.images import ROOT_CONDITION, scan_images
from msgan_eval.names import path_components
from msgan_eval.paths import cache_dir
from msgan_eval.weights import offline

from . import DATASETS

IMAGE_SIZE = 32
MNIST_CLASSES = tuple(str(i) for i in range(10))
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")


@dataclass
class TrainData:
    images: np.ndarray              # uint8 (N, C, 32, 32)
    labels: np.ndarray              # int64 (N,), indices into class_names
    class_names: Tuple[str, ...]

    @property
    def channels(self) -> int:
        return int(self.images.shape[1])

    def __len__(self) -> int:
        return len(self.labels)


def load_training_data(dataset: str, data_root: Optional[str] = None,
                       subset_per_class: Optional[int] = None, seed: int = 0) -> TrainData:
    """The training split of ``dataset``, optionally a seeded balanced subset per class."""
    if dataset == "fashion-mnist":
        images, labels, names = _fashion_mnist(data_root)
    elif dataset in ("mnist", "cifar10"):
        images, labels, names = _torchvision(dataset, data_root)
    elif dataset == "folder":
        images, labels, names = _folder(data_root)
    else:
        raise UserError(f"--dataset {dataset}: unknown dataset; use one of {', '.join(DATASETS)}")
    if subset_per_class is not None:
        try:
            idx = balanced_subset(labels, subset_per_class, seed)
        except UserError as exc:
            raise UserError(f"--subset-per-class {subset_per_class}: {exc}") from None
        images, labels = images[idx], labels[idx]
    return TrainData(to_training_layout(images), labels.astype(np.int64), tuple(names))


def to_training_layout(images: np.ndarray) -> np.ndarray:
    """uint8 (N, H, W) or (N, H, W, C) -> (N, C, 32, 32); 28x28 is padded by 2 black pixels."""
    if images.ndim == 3:
        images = images[:, :, :, None]
    h, w = images.shape[1:3]
    if (h, w) == (28, 28):
        images = np.pad(images, ((0, 0), (2, 2), (2, 2), (0, 0)))
    elif (h, w) != (IMAGE_SIZE, IMAGE_SIZE):
        raise ValueError(f"training images must be 28x28 or 32x32, got {w}x{h}")
    return np.ascontiguousarray(images.transpose(0, 3, 1, 2))


def batch_to_tensor(images: np.ndarray):
    """uint8 (B, C, H, W) -> float32 in [-1, 1], as ``ToTensor()`` then ``Normalize(0.5, 0.5)``."""
    import torch

    x = torch.from_numpy(np.ascontiguousarray(images)).float().div(255)
    return (x - 0.5) / 0.5


def _holds_fashion_mnist(data_root: str) -> bool:
    try:
        return fashion_mnist_root(data_root) == Path(data_root)
    except UserError:
        return False


def _fashion_mnist(data_root: Optional[str]):
    # An explicit --data-root must hold the files: never fall back silently to other data.
    if data_root and not _holds_fashion_mnist(data_root):
        if offline():
            raise UserError(f"--data-root {data_root}: no Fashion-MNIST idx files there "
                            "(train-images-idx3-ubyte.gz etc.); point it at them or drop the option "
                            f"to use {DEBIAN_FASHION_MNIST}")
        _torchvision_call("FashionMNIST", str(data_root), download=True)
    try:
        images, labels = load_fashion_mnist("train", data_root)
    except UserError:
        if offline():
            raise
        # Not found locally: fetch the idx files with torchvision, then read them as usual.
        root = _download_root(data_root)
        _torchvision_call("FashionMNIST", root, download=True)
        images, labels = load_fashion_mnist("train", root)
    return images, labels, FASHION_MNIST_CLASSES


def _torchvision(dataset: str, data_root: Optional[str]):
    root = _download_root(data_root)
    if dataset == "mnist":
        ds = _torchvision_call("MNIST", root, download=not offline())
        return ds.data.numpy(), ds.targets.numpy().astype(np.int64), MNIST_CLASSES
    ds = _torchvision_call("CIFAR10", root, download=not offline())
    return np.asarray(ds.data), np.asarray(ds.targets, dtype=np.int64), CIFAR10_CLASSES


def _download_root(data_root: Optional[str]) -> str:
    return str(data_root) if data_root else str(cache_dir() / "datasets")


def _torchvision_call(cls_name: str, root: str, download: bool):
    import torchvision.datasets as tvd

    try:
        return getattr(tvd, cls_name)(root, train=True, download=download)
    except (RuntimeError, OSError) as exc:
        how = "could not be downloaded" if download else "downloads are off (MSGAN_EVAL_OFFLINE=1)"
        reason = first_line(exc)
        raise UserError(f"{cls_name} training data not found in {root} and {how} ({reason}); pass "
                        f"--data-root DIR holding torchvision's {cls_name} files, or run once "
                        "online") from None


def _folder(data_root: Optional[str]):
    if not data_root:
        raise UserError("--dataset folder needs --data-root DIR holding one sub-folder per class")
    image_set = scan_images(data_root, offers_skip_bad=False)     # train has no --skip-bad
    groups = image_set.groups()
    if ROOT_CONDITION in groups:
        raise UserError(f"--data-root {data_root}: images lie directly in the folder; put each "
                        "class's images in its own sub-folder (DIR/<class name>/*.png)")
    h, w = image_set.common_size(hint="resize them to 28x28 or 32x32 first")
    if (h, w) not in ((28, 28), (IMAGE_SIZE, IMAGE_SIZE)):
        raise UserError(f"--data-root {data_root}: images are {w}x{h}; the trainer needs 28x28 "
                        "or 32x32 images (resize them first)")
    # Class names become folder names when the run is sampled: check them before training.
    names = path_components(groups, data_root)
    images = np.stack([image_set[i] for i in range(len(image_set))])
    labels = np.array([names.index(r.condition) for r in image_set.refs], dtype=np.int64)
    # scan_images decodes to RGB; keep one channel when every image is gray (R == G == B).
    if np.array_equal(images[..., 0], images[..., 1]) and np.array_equal(images[..., 0], images[..., 2]):
        images = images[..., :1]
    return images, labels, names


def data_summary(data: TrainData) -> dict:
    """What a resumed run checks against config.json: same classes, count and channels."""
    return {"n_train": len(data), "channels": data.channels, "class_names": list(data.class_names)}
