"""A small Fashion-MNIST classifier bundled with the package: is a sample the item it should be?

The network is PacGAN's ``mnist_cnn`` shape (conv32 - conv64 - max-pool - fc128 - fc10, dropout;
akashgit/PacGAN ``stacked_MNIST_experiments``), with a max-pool after each convolution and a 64-wide
hidden layer so its float32 weights stay under 1 MB. It is trained deterministically by
``scripts/train_classifier.py`` (fixed seed, one thread) from Debian's Fashion-MNIST idx files; the
file ships as package data (``msgan_eval/data/``), hash-checked, and is read with
``torch.load(weights_only=True)``. Its test accuracy is stored in the file and reported with every
use. ``--dataset mnist --data-root DIR`` trains the same network on MNIST digits into a file the
caller names; ``load_classifier(path)`` reads such a file (``status: unverified``: no hash to check).

Input: 28x28 grayscale items, uint8 (N, 28, 28) / (N, 28, 28, 1) or float in [0, 1]; a 3-channel
or differently sized image is the caller's to convert (crop the padding, pick the channel).
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn

from msgan_eval.errors import ParameterError, ParameterTypeError, WeightsUnavailable

ITEM_SIZE = 28
FILE_FORMAT = "msgan-eval/classifier/1"
ARCH = "small-cnn-1"
DATA_DIR = Path(__file__).resolve().parents[1] / "data"


@dataclass(frozen=True)
class BundledClassifier:
    filename: str
    sha256: str


# The shipped files and their SHA-256 (scripts/train_classifier.py prints both).
BUNDLED: Dict[str, BundledClassifier] = {
    "fashion-mnist": BundledClassifier(
        "classifier-fashion-mnist.pt",
        "223a434851402a007b834698cc0c276617e3efbf4ef8ad8a860c87f007a4e34f"),
}


class SmallCNN(nn.Module):
    """conv(1->32) pool conv(32->64) pool fc(3136->64) fc(64->10); logits out."""

    def __init__(self, num_classes: int = 10, hidden: int = 64):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.25))
        self.head = nn.Sequential(
            nn.Flatten(), nn.Linear(64 * 7 * 7, hidden), nn.ReLU(), nn.Dropout(0.5),
            nn.Linear(hidden, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


@dataclass
class Classifier:
    """A loaded classifier in eval mode; ``classify`` labels 28x28 grayscale items."""

    net: SmallCNN
    classes: Tuple[str, ...]
    info: dict = field(default_factory=dict)   # name, dataset, test_accuracy, sha256, status, path
    device: torch.device = torch.device("cpu")

    @torch.no_grad()
    def classify(self, images, batch_size: int = 1000) -> Tuple[np.ndarray, np.ndarray]:
        """(labels int64 (N,), probabilities float32 (N, classes)) of ``images``.

        Example::

            clf = load_classifier("fashion-mnist")
            labels, probs = clf.classify(uint8_items)      # (N, 28, 28)
        """
        x = items_to_tensor(images)
        probs = [torch.softmax(self.net(x[i:i + batch_size].to(self.device)), 1).cpu()
                 for i in range(0, len(x), batch_size)]
        p = torch.cat(probs).numpy() if probs else np.zeros((0, len(self.classes)), np.float32)
        return p.argmax(1).astype(np.int64), p.astype(np.float32)


def items_to_tensor(images) -> torch.Tensor:
    """float32 (N, 1, 28, 28) in [0, 1] from uint8 or [0, 1] float items, NHW or NHWC with C = 1."""
    arr = images.detach().cpu().numpy() if hasattr(images, "detach") else images
    if not isinstance(arr, np.ndarray):
        raise ParameterTypeError(f"{{images}} must be a numpy array or tensor, not "
                                 f"{type(images).__name__}", "images")
    if arr.ndim == 4 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim != 3 or arr.shape[1:] != (ITEM_SIZE, ITEM_SIZE):
        raise ParameterError(f"{{images}}: shape {arr.shape}; the classifier takes 28x28 grayscale "
                             "items (N, 28, 28) or (N, 28, 28, 1): crop padding and pick one "
                             "channel first", "images")
    if arr.dtype == np.uint8:
        return torch.from_numpy(arr.astype(np.float32) / 255.0).unsqueeze(1)
    if not np.issubdtype(arr.dtype, np.floating):
        raise ParameterError(f"{{images}}: dtype {arr.dtype}; use uint8 or float in [0, 1]", "images")
    if arr.size and (float(arr.min()) < 0 or float(arr.max()) > 1):
        raise ParameterError("{images}: float items must lie in [0, 1]", "images")
    return torch.from_numpy(arr.astype(np.float32)).unsqueeze(1)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_classifier_file(path: Path) -> dict:
    """The weights file's dict, checked for our format (WeightsUnavailable when it is not)."""
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:     # torch raises many types for a damaged or foreign file
        raise WeightsUnavailable(f"{path}: cannot read it as classifier weights "
                                 f"({type(exc).__name__}); train one with "
                                 "scripts/train_classifier.py") from None
    if not isinstance(blob, dict) or blob.get("format") != FILE_FORMAT or blob.get("arch") != ARCH:
        raise WeightsUnavailable(f"{path}: not a msgan-eval classifier file ({FILE_FORMAT}, {ARCH}); "
                                 "train one with scripts/train_classifier.py")
    return blob


def _resolve(name_or_path: "str | os.PathLike[str]") -> Tuple[Path, Optional[str], str]:
    """(file, expected SHA-256 or None, name) of a bundled name or a file path."""
    if str(name_or_path) in BUNDLED:
        spec = BUNDLED[str(name_or_path)]
        return DATA_DIR / spec.filename, spec.sha256, str(name_or_path)
    path = Path(name_or_path)
    if not path.is_file():
        raise WeightsUnavailable(f"classifier {name_or_path}: neither a bundled name "
                                 f"({', '.join(BUNDLED)}) nor a file")
    return path, None, path.name


def load_classifier(name_or_path: "str | os.PathLike[str]" = "fashion-mnist",
                    device: "str | torch.device" = "cpu") -> Classifier:
    """The bundled classifier ``name`` (hash-checked), or a file written by the training script.

    Example::

        labels, probs = load_classifier().classify(items)
    """
    path, expected, name = _resolve(name_or_path)
    if not path.is_file():
        raise WeightsUnavailable(f"{path}: the bundled {name} classifier is missing; reinstall "
                                 "msgan-eval or run scripts/train_classifier.py --out " + str(path))
    digest = _sha256(path)
    if expected is not None and digest != expected:
        raise WeightsUnavailable(f"{path}: SHA-256 {digest[:12]}... is not the bundled file's "
                                 f"{expected[:12]}...; reinstall msgan-eval")
    blob = read_classifier_file(path)
    classes: Sequence[str] = tuple(blob["classes"])
    net = SmallCNN(len(classes), int(blob["hidden"]))
    state = {k: v.float() for k, v in blob["state_dict"].items()}
    net.load_state_dict(state)
    dev = torch.device(device)
    info = {"name": name, "dataset": blob["dataset"], "test_accuracy": blob["test_accuracy"],
            "sha256": digest, "status": "verified" if expected else "unverified", "path": str(path)}
    return Classifier(net.to(dev).eval(), tuple(classes), info, dev)
