"""Stacked-digit mode counting: images in, label triples, modes and KL out (``modes stacked``).

As VEEGAN / PacGAN (``stacked_MNIST_experiments/VEEGAN_experiment/model.py`` l.246-276): each of
the three 28 x 28 channels of a sample is labelled by a digit classifier (l.252-254, argmax of its
output, ``evaluate.py`` l.7-11), a sample's mode is its ordered label triple, and the result is the
number of distinct triples and KL(triple histogram || uniform over 1000).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, List, Optional

import numpy as np

from msgan_eval import __version__
from msgan_eval.errors import ParameterError, ParameterTypeError
from msgan_eval.metrics import modes as M

from .modes import describe_samples, size_note

ITEM_SIZE = 28     # one MNIST-sized item per channel (model.py l.252: reshape to 28 x 28 x 1)
Labeller = Callable[[np.ndarray], np.ndarray]   # (M, 28, 28) uint8 -> (M,) labels 0..9


@dataclass
class StackedModesResult:
    """``msgan-eval modes stacked --json``'s fields; ``to_dict()`` is that object."""

    modes: int
    modes_total: int
    kl: float
    n: int
    input: str
    classifier: dict             # name, dataset, test_error (per channel), weights
    top_triples: List[List[int]]  # the most frequent triples with their counts: [l0, l1, l2, count]
    protocol_n: int = M.PROTOCOL_SAMPLES_STACKED
    warnings: List[str] = field(default_factory=list)
    version: str = __version__

    def to_dict(self) -> dict:
        return {"layout": "stacked", "modes": self.modes, "modes_total": self.modes_total,
                "kl": self.kl, "n": self.n, "protocol_n": self.protocol_n, "input": self.input,
                "classifier": dict(self.classifier), "top_triples": self.top_triples,
                "warnings": list(self.warnings), "version": self.version}


def _gray_refusal(where: str) -> ParameterError:
    return ParameterError(f"{where}: grayscale images; stacked items are RGB with one 28x28 digit "
                          "per channel")


def _check_stack(arr: np.ndarray, where: str) -> np.ndarray:
    if arr.dtype != np.uint8:
        raise ParameterError(f"{where}: dtype {arr.dtype}; stacked items must be uint8 (0..255), "
                             "e.g. (x * 255).round().astype(np.uint8)")
    if arr.ndim == 3 or (arr.ndim == 4 and arr.shape[-1] == 1):
        raise _gray_refusal(where)
    if arr.ndim != 4 or arr.shape[-1] != 3:
        raise ParameterError(f"{where}: shape {arr.shape}; stacked items must be (N, 28, 28, 3) "
                             "(channels last, one digit per channel)")
    if arr.shape[0] == 0:
        raise ParameterError(f"{where}: holds no items")
    if arr.shape[1:3] != (ITEM_SIZE, ITEM_SIZE):
        raise ParameterError(f"{where}: items are {arr.shape[2]}x{arr.shape[1]}; stacked items are "
                             f"{ITEM_SIZE}x{ITEM_SIZE} (resize or crop them to MNIST's size)")
    return arr


def read_stacked(samples, param: str = "samples") -> np.ndarray:
    """(N, 28, 28, 3) uint8 from a folder of RGB images, an ``.npy`` or an array."""
    where = describe_samples(samples)
    if isinstance(samples, np.ndarray):
        arr = samples
    elif hasattr(samples, "detach"):
        arr = samples.detach().cpu().numpy()
    elif isinstance(samples, (str, os.PathLike)):
        arr = _read_stacked_path(Path(samples))
    else:
        raise ParameterTypeError(f"{{{param}}} must be a folder, .npy path or uint8 array, not "
                                 f"{type(samples).__name__}", param)
    arr = _check_stack(arr, where)
    if arr.shape[0] > 1 and all(np.array_equal(arr[..., 0], arr[..., c]) for c in (1, 2)):
        raise _gray_refusal(where)       # three equal channels: a grayscale set saved as RGB
    return arr


def _read_stacked_path(path: Path) -> np.ndarray:
    if path.is_file() and path.suffix.lower() == ".npy":
        try:
            return np.load(path, allow_pickle=False)
        except Exception as exc:
            raise ParameterError(f"{path}: cannot read it as a .npy array ({type(exc).__name__}); "
                                 "write it with numpy.save") from None
    if not path.is_dir():
        raise ParameterError(f"{path}: not a folder of images or an .npy of (N, 28, 28, 3) uint8")
    from msgan_eval.images import scan_images

    images = scan_images(path, offers_skip_bad=False)
    h, w = images.common_size("stacked items are all 28x28")
    if (h, w) != (ITEM_SIZE, ITEM_SIZE):
        raise ParameterError(f"{path}: images are {w}x{h}; stacked items are {ITEM_SIZE}x{ITEM_SIZE}")
    return np.stack([images.read(i) for i in range(len(images))])


def channel_labels(items: np.ndarray, labeller: Labeller, batch: int = 2048) -> np.ndarray:
    """(N, 3) labels: the classifier applied to each channel alone (model.py l.252-254)."""
    out = np.empty((len(items), M.STACKED_DIGITS), dtype=np.int64)
    for lo in range(0, len(items), batch):
        block = items[lo:lo + batch]
        for c in range(M.STACKED_DIGITS):
            out[lo:lo + batch, c] = labeller(np.ascontiguousarray(block[..., c]))
    return out


def stacked_from_labels(labels: np.ndarray, where: str, classifier: dict) -> StackedModesResult:
    cov = M.stacked_coverage(labels)
    order = np.argsort(-cov.counts, kind="stable")[:10]
    top = [[int(t // 100), int(t // 10 % 10), int(t % 10), int(cov.counts[t])]
           for t in order if cov.counts[t] > 0]
    return StackedModesResult(modes=cov.modes, modes_total=cov.modes_total, kl=cov.kl, n=cov.n,
                              input=where, classifier=classifier, top_triples=top,
                              warnings=size_note(cov.n, M.PROTOCOL_SAMPLES_STACKED, "items",
                                                 "VEEGAN and PacGAN draw 26,000"))


def stacked_modes(samples, *, classifier=None, device: str = "auto", batch_size: int = 500,
                  quiet: bool = True, labeller: Optional[Labeller] = None) -> StackedModesResult:
    """Distinct label triples and KL to uniform of stacked-digit samples (see :func:`modes`).

    ``labeller`` replaces the classifier (tests, or a digit classifier of your own): it maps
    (M, 28, 28) uint8 items to (M,) digits 0..9.
    """
    items = read_stacked(samples)
    where = describe_samples(samples)
    if len(items) < M.STACKED_MODES:
        raise ParameterError(f"{where}: {len(items)} item(s), fewer than the {M.STACKED_MODES} "
                             f"modes; give at least {M.STACKED_MODES} (the protocol draws "
                             f"{M.PROTOCOL_SAMPLES_STACKED})")
    if labeller is None:
        from .modes_classifier import load_labeller

        labeller, info = load_labeller(classifier, device=device, batch_size=batch_size)
    else:
        info = {"name": getattr(labeller, "__name__", "custom"), "test_error": None}
    labels = channel_labels(items, labeller)
    return stacked_from_labels(labels, where, info)
