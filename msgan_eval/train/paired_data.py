"""Paired (input, target) images for the image-to-image trainer, as uint8 arrays in memory.

- ``fashion-mnist-edges`` (offline, deterministic): the target is the Fashion-MNIST item padded to
  32x32; the input is the outline of its silhouette: pixels >= ``P2P_EDGE_THRESHOLD`` grey levels
  form the silhouette, and the outline is the silhouette minus its 4-neighbour erosion (white on
  black). Texture, shading and print are not in the input, so one input has many right answers.
- ``paired-folder``: pix2pix's conventions, read through the one image road (``scan_images``):
  a folder of side-by-side AB images (A left half = input, B right half = target), or a folder
  with ``A/`` and ``B/`` sub-folders holding files of the same names. If the folder has ``train/``
  (and ``test/`` or ``val/``) sub-folders, as pix2pix's datasets do, those are the splits;
  otherwise every pair serves both. Images must be square, 32 to 256 pixels, a power of two.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional, Tuple

import numpy as np

from msgan_eval import defaults
from msgan_eval.datasets import FASHION_MNIST_CLASSES, balanced_subset, load_fashion_mnist
from msgan_eval.errors import UserError
from msgan_eval.images import ROOT_CONDITION, ImageSet, scan_images
from msgan_eval.names import path_components

from . import PAIRED_DATASETS
from .data import to_training_layout

SPLIT_FOLDERS = {"train": ("train",), "test": ("test", "val")}
IMAGE_SIZES = (32, 64, 128, 256)


@dataclass
class PairedData:
    inputs: np.ndarray        # uint8 (N, C_in, S, S)
    targets: np.ndarray       # uint8 (N, C_out, S, S)
    names: Tuple[str, ...]    # one per pair: the sample sub-folder of its input
    labels: Optional[np.ndarray] = None   # Fashion-MNIST classes, for balanced subsets

    def __len__(self) -> int:
        return len(self.inputs)

    @property
    def image_size(self) -> int:
        return int(self.inputs.shape[-1])


def paired_summary(data: PairedData) -> dict:
    """What a resumed run checks against config.json: same count, channels and size."""
    return {"n_train": len(data), "input_channels": int(data.inputs.shape[1]),
            "output_channels": int(data.targets.shape[1]), "image_size": data.image_size}


def load_paired_data(dataset: str, data_root: Optional[str] = None, split: str = "train",
                     subset_per_class: Optional[int] = None, seed: int = 0) -> PairedData:
    """The ``split`` ("train" or "test") of a paired dataset."""
    if dataset == "fashion-mnist-edges":
        images, labels = load_fashion_mnist(split, data_root)
        data = fashion_mnist_edges(images, labels)
    elif dataset == "paired-folder":
        data = read_paired_folder(split_folder(data_root, split))
    else:
        raise UserError(f"--dataset {dataset}: not a paired dataset; use one of "
                        f"{', '.join(PAIRED_DATASETS)}")
    if subset_per_class is not None:
        if data.labels is None:
            raise UserError(f"--subset-per-class: {dataset} has no classes; drop the option")
        try:
            idx = balanced_subset(data.labels, subset_per_class, seed)
        except UserError as exc:
            raise UserError(f"--subset-per-class {subset_per_class}: {exc}") from None
        data = PairedData(data.inputs[idx], data.targets[idx], tuple(data.names[i] for i in idx),
                          data.labels[idx])
    return data


def silhouette_outline(images: np.ndarray,
                       threshold: int = defaults.P2P_EDGE_THRESHOLD) -> np.ndarray:
    """uint8 (N, H, W) -> uint8 (N, H, W): 255 on the silhouette's boundary pixels, 0 elsewhere."""
    mask = np.asarray(images) >= threshold
    padded = np.pad(mask, ((0, 0), (1, 1), (1, 1)))
    interior = (padded[:, 1:-1, 1:-1] & padded[:, :-2, 1:-1] & padded[:, 2:, 1:-1]
                & padded[:, 1:-1, :-2] & padded[:, 1:-1, 2:])
    return np.where(mask & ~interior, 255, 0).astype(np.uint8)


def fashion_mnist_edges(images: np.ndarray, labels: np.ndarray) -> PairedData:
    """Pairs (outline, item) from 28x28 Fashion-MNIST, both padded to 32x32 like the DCGAN's data."""
    names = tuple(f"{i:05d}-{FASHION_MNIST_CLASSES[int(c)]}" for i, c in enumerate(labels))
    return PairedData(to_training_layout(silhouette_outline(images)), to_training_layout(images),
                      names, np.asarray(labels, dtype=np.int64))


def split_folder(data_root: Optional[str], split: str) -> Path:
    """``data_root/<split>`` when pix2pix's split folders are there, else ``data_root`` itself."""
    if not data_root:
        raise UserError("--dataset paired-folder needs --data-root DIR holding AB images or "
                        "A/ and B/ folders")
    root = Path(data_root)
    for name in SPLIT_FOLDERS[split]:
        if (root / name).is_dir():
            return root / name
    return root


def read_paired_folder(folder: Path) -> PairedData:
    """Pairs from side-by-side AB images, or from A/ and B/ folders with matching file names."""
    image_set = scan_images(folder)
    conditions = set(image_set.conditions)
    if conditions == {ROOT_CONDITION}:
        names, a, b = _split_ab(image_set)
    elif conditions == {"A", "B"}:
        names, a, b = _match_a_b(image_set, folder)
    else:
        found = ", ".join(sorted(c if c != ROOT_CONDITION else "(images at the top)"
                                 for c in conditions))
        raise UserError(f"--data-root {folder}: expected side-by-side AB images or A/ and B/ "
                        f"folders, found {found}; use one of pix2pix's two layouts")
    _check_size(folder, a.shape[1:3])
    # Each name becomes a samples sub-folder when the run is sampled: check before training.
    names = path_components(names, folder, what="input name")
    return PairedData(_channels_first(a), _channels_first(b), names)


def _split_ab(image_set: ImageSet):
    h, w = image_set.common_size(hint="side-by-side AB images must all have one size")
    if w % 2:
        raise UserError(f"{image_set.refs[0].path}: width {w} is odd; side-by-side AB images need "
                        "an even width (A the left half, B the right half)")
    images = np.stack([image_set[i] for i in range(len(image_set))])
    names = tuple(Path(r.name).stem for r in image_set.refs)
    return names, images[:, :, : w // 2], images[:, :, w // 2:]


def _match_a_b(image_set: ImageSet, folder: Path):
    sides: Dict[str, Dict[str, int]] = {"A": {}, "B": {}}
    for i, ref in enumerate(image_set.refs):
        sides[ref.condition][Path(ref.name).stem] = i
    for side, other in (("A", "B"), ("B", "A")):
        lonely = sorted(set(sides[side]) - set(sides[other]))
        if lonely:
            more = f" (and {len(lonely) - 1} more)" if len(lonely) > 1 else ""
            raise UserError(f"--data-root {folder}: {side}/{lonely[0]} has no partner in {other}/"
                            f"{more}; A/ and B/ need files of the same names")
    image_set.common_size(hint="A/ and B/ images must all have one size")
    names = tuple(sorted(sides["A"]))
    a = np.stack([image_set[sides["A"][n]] for n in names])
    b = np.stack([image_set[sides["B"][n]] for n in names])
    return names, a, b


def _check_size(folder: Path, size: Tuple[int, int]) -> None:
    h, w = size
    if h != w or h not in IMAGE_SIZES:
        raise UserError(f"--data-root {folder}: each side is {w}x{h}; the image-to-image trainer "
                        f"needs square sides of {', '.join(map(str, IMAGE_SIZES))} pixels "
                        "(resize them first)")


def _channels_first(images: np.ndarray) -> np.ndarray:
    """RGB (N, H, W, 3) -> (N, C, H, W), one channel when every image is grey (R == G == B)."""
    if np.array_equal(images[..., 0], images[..., 1]) and np.array_equal(images[..., 0], images[..., 2]):
        images = images[..., :1]
    return np.ascontiguousarray(images.transpose(0, 3, 1, 2))
