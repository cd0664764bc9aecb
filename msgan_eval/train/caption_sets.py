"""The captioned datasets of the StackGAN trainer: ``fashion-mnist-captions`` (offline; see
``caption_data``) and ``cub``, the CUB-200-2011 birds with the StackGAN authors' char-CNN-RNN
embeddings, by path.

``--dataset cub --data-root DIR`` reads StackGAN-v2's ``data/birds`` layout (its README):

    DIR/train/filenames.pickle              image keys, e.g. 002.Laysan_Albatross/..._1234
    DIR/train/char-CNN-RNN-embeddings.pickle   (N, 10, 1024) float32, 10 captions per image
    DIR/train/class_info.pickle             (optional) class of each image ("wrong" images)
    DIR/test/...                            the same for the test split
    DIR/CUB_200_2011/images/<key>.jpg, images.txt, bounding_boxes.txt

The pickles are read with an unpickler that admits numpy arrays, lists, numbers and strings
and nothing else (a pickle from elsewhere is code): never ``pickle.load``. Each image is cropped
to its bird as ``get_imgs`` does (a square of 1.5 x the larger bounding-box side, datasets.py:
40-54), then resized to each stage's size with PIL's bilinear filter (``transforms.Scale`` /
``Resize``). StackGAN's random crop (76/64) and flip are not applied.
"""
from __future__ import annotations

import codecs
import functools
import pickle
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from msgan_eval.datasets import balanced_subset, load_fashion_mnist
from msgan_eval.errors import UserError, first_line

from . import CAPTION_DATASETS
from .caption_data import CaptionedData, fashion_mnist_captions, stage_images

EMBEDDINGS_FILE = "char-CNN-RNN-embeddings.pickle"


def load_captioned_data(dataset: str, data_root: Optional[str], split: str,
                        sizes: Sequence[int], subset_per_class: Optional[int] = None,
                        seed: int = 0) -> CaptionedData:
    """The ``split`` of a captioned dataset, images at each stage size in ``sizes``."""
    if dataset == "fashion-mnist-captions":
        return _fashion_mnist_captions(data_root, split, tuple(sizes), subset_per_class, seed)
    if dataset != "cub":
        raise UserError(f"--dataset {dataset}: not a captioned dataset; use one of "
                        f"{', '.join(CAPTION_DATASETS)}")
    if subset_per_class is not None:
        raise UserError("--subset-per-class: the cub data is used whole; drop the option")
    return read_cub(data_root, split, tuple(sizes))


@functools.lru_cache(maxsize=1)
def _fashion_mnist_captions(data_root, split: str, sizes: Tuple[int, ...],
                            subset_per_class: Optional[int], seed: int) -> CaptionedData:
    """Built once per process for the same arguments (the demo trains its two arms one after
    the other in one process with one thread: tinting, resizing and captioning the 60000 items
    took most of a short run), so its arrays are read-only: a trainer can never change the
    next run's data."""
    data = _build_fashion_mnist_captions(data_root, split, sizes, subset_per_class, seed)
    for array in (*data.stages, data.embeddings, data.caption_ids, data.class_ids, data.labels):
        array.flags.writeable = False
    return data


def _build_fashion_mnist_captions(data_root, split: str, sizes: Tuple[int, ...],
                                  subset_per_class: Optional[int], seed: int) -> CaptionedData:
    from msgan_eval.features.text_encoder import load_text_encoder

    if sizes[-1] != 32:
        raise UserError(f"--dataset fashion-mnist-captions: its items are 32x32; train with stages "
                        f"ending at 32 pixels, not {sizes[-1]}")
    images, labels = load_fashion_mnist(split, data_root)
    index = np.arange(len(labels))
    if subset_per_class is not None:
        try:
            index = balanced_subset(labels, subset_per_class, seed)
        except UserError as exc:
            raise UserError(f"--subset-per-class {subset_per_class}: {exc}") from None
    return fashion_mnist_captions(images[index], labels[index], sizes, load_text_encoder(), index)


class PlainDataUnpickler(pickle.Unpickler):
    """numpy arrays and dtypes, and pickle's own lists, tuples, numbers and strings; any other
    global (``os.system``, ``builtins.eval``, ...) is refused before it can be called."""

    _RECONSTRUCT = np.empty(0).__reduce__()[0]
    # _codecs.encode turns a str into bytes: how Python 3 writes an array's buffer in protocol 2.
    _ALLOWED = {("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
                ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
                ("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype,
                ("_codecs", "encode"): codecs.encode}

    def find_class(self, module: str, name: str):
        try:
            return self._ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refused to load {module}.{name} (only numpy arrays, "
                                         "lists, numbers and strings are read)") from None

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("refused a persistent id")


def read_plain_pickle(path: Path):
    """The arrays / lists / strings in ``path`` (Python 2 pickles too: latin-1, as numpy advises)."""
    if not path.is_file():
        raise UserError(f"{path}: not found; --dataset cub needs StackGAN-v2's data/birds layout "
                        "(train/ and test/ with filenames.pickle and char-CNN-RNN-embeddings.pickle)")
    try:
        with open(path, "rb") as fh:
            return PlainDataUnpickler(fh, encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            IndexError, KeyError) as exc:
        raise UserError(f"{path}: cannot be read as plain data ({first_line(exc)}); use the "
                        "StackGAN authors' files") from None


def _cub_tables(data_root: Path) -> Dict[str, Tuple[float, float, float, float]]:
    """Image key -> bounding box (x, y, width, height) from images.txt and bounding_boxes.txt."""
    base = data_root / "CUB_200_2011"
    try:
        names = [line.split() for line in (base / "images.txt").read_text().splitlines() if line.strip()]
        boxes = [line.split() for line in (base / "bounding_boxes.txt").read_text().splitlines()
                 if line.strip()]
        by_id = {b[0]: tuple(float(v) for v in b[1:5]) for b in boxes}
        return {n[1][:-4]: by_id[n[0]] for n in names}
    except (OSError, IndexError, KeyError, ValueError) as exc:
        raise UserError(f"{base}: images.txt / bounding_boxes.txt unreadable ({first_line(exc)}); "
                        "unpack CUB_200_2011.tgz there") from None


def bird_crop(image: np.ndarray, box: Tuple[float, float, float, float]) -> np.ndarray:
    """datasets.py:44-53: the square of half-side 0.75 x the larger box side around its centre,
    clipped to the image."""
    height, width = image.shape[:2]
    r = int(max(box[2], box[3]) * 0.75)
    cx, cy = int((2 * box[0] + box[2]) / 2), int((2 * box[1] + box[3]) / 2)
    y1, y2 = max(0, cy - r), min(height, cy + r)
    x1, x2 = max(0, cx - r), min(width, cx + r)
    return image[y1:y2, x1:x2]


def _as_str(key) -> str:
    return key.decode("latin1") if isinstance(key, bytes) else str(key)


def read_cub(data_root: Optional[str], split: str, sizes: Tuple[int, ...]) -> CaptionedData:
    """CUB birds of ``split`` with their 10 char-CNN-RNN caption embeddings each."""
    from PIL import Image

    from msgan_eval.images import decode_image
    from msgan_eval.names import path_components

    if not data_root:
        raise UserError("--dataset cub needs --data-root DIR (StackGAN-v2's data/birds folder)")
    root = Path(data_root)
    split_dir = root / split
    keys = [_as_str(k) for k in read_plain_pickle(split_dir / "filenames.pickle")]
    embeddings = np.asarray(read_plain_pickle(split_dir / EMBEDDINGS_FILE), dtype=np.float32)
    if embeddings.ndim != 3 or len(embeddings) != len(keys):
        raise UserError(f"{split_dir / EMBEDDINGS_FILE}: shape {embeddings.shape}, expected "
                        f"({len(keys)}, captions, dimension), one row per filenames.pickle entry")
    classes = (np.asarray(read_plain_pickle(split_dir / "class_info.pickle"), dtype=np.int64)
               if (split_dir / "class_info.pickle").is_file() else np.arange(len(keys)))
    path_components([k.split("/")[-1] for k in keys], split_dir / "filenames.pickle", "image key")
    boxes = _cub_tables(root)
    final = sizes[-1]
    images = []
    for key in keys:
        if key not in boxes:
            raise UserError(f"{root / 'CUB_200_2011' / 'images.txt'}: no image {key}.jpg, which "
                            f"{split_dir / 'filenames.pickle'} lists; use the matching CUB_200_2011")
        crop = bird_crop(decode_image(root / "CUB_200_2011" / "images" / f"{key}.jpg"), boxes[key])
        images.append(np.asarray(Image.fromarray(crop).resize((final, final), Image.BILINEAR)))
    stacked = np.ascontiguousarray(np.stack(images).transpose(0, 3, 1, 2))
    n, k, t = embeddings.shape
    return CaptionedData(stage_images(stacked, sizes), embeddings.reshape(n * k, t),
                         np.arange(n * k, dtype=np.int64).reshape(n, k), classes)
