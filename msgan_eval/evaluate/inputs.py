"""Every input of the evaluation functions becomes an :class:`~msgan_eval.images.ImageSet` here.

Accepted, for a parameter ``x``:

- a path (``str`` or ``os.PathLike``): a folder, an image file or an ``.npy``/``.npz`` array, read by
  :func:`msgan_eval.images.scan_images` exactly as the command line reads it (FID also takes a
  statistics ``.npz``, see :func:`msgan_eval.evaluate.fid.fid`);
- an ``ImageSet`` (used as it is);
- a numpy array, channels last: ``(N, H, W)`` or ``(N, H, W, C)`` with C in 1, 3, 4;
- a torch tensor, channels first like torchvision: ``(N, C, H, W)`` with C in 1, 3, 4, or ``(N, H, W)``;
- a mapping ``condition -> any of the two above``: each key is a condition (the sub-folders of a
  folder), in sorted order of ``str(key)``.

One convention for pixel values, the same for arrays and tensors:

- ``uint8`` is taken as it is (0..255), so an array gives exactly the pixels its PNG files would;
- floating point must lie in [0, 1] and becomes ``uint8`` by ``round(x * 255)`` with ties to
  even (``numpy.rint``): 0.5 / 255 steps land on the nearest level, so ``x.float() / 255`` gives
  back the original uint8 exactly. NaN, infinities and values outside [0, 1] are refused;
- other dtypes (int64, bool, ...) are refused: say which scale they are on by converting first.

Grey (1 channel) images become three equal channels and a 4th (alpha) channel is dropped, as for
files. Bad input raises :class:`~msgan_eval.errors.ParameterError` (a ``ValueError``) or
:class:`~msgan_eval.errors.ParameterTypeError` (a ``TypeError``) naming the parameter.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, List, Mapping, Sequence, Tuple, Union

import numpy as np

from msgan_eval.errors import ParameterError, ParameterTypeError
from msgan_eval.images import (
    ROOT_CONDITION,
    ImageRef,
    ImageSet,
    InMemoryImageSet,
    check_image_path,
    is_stats_file,
    scan_images,
)

ImagesLike = Union[str, "os.PathLike[str]", ImageSet, np.ndarray, Any, Mapping[Any, Any]]
IN_MEMORY = Path("<in-memory>")


def _is_tensor(x) -> bool:
    return type(x).__module__.startswith("torch") and hasattr(x, "detach")


def is_path(x) -> bool:
    return isinstance(x, (str, os.PathLike))


def is_stats_path(x) -> bool:
    """Whether ``x`` names a FID statistics ``.npz`` (mu, sigma) rather than images."""
    return is_path(x) and is_stats_file(Path(x))


def _to_uint8(arr: np.ndarray, param: str) -> np.ndarray:
    if arr.dtype == np.uint8:
        return arr
    if not np.issubdtype(arr.dtype, np.floating):
        raise ParameterTypeError(f"{{{param}}}: images of dtype {arr.dtype}; pass uint8 (0..255) or "
                                 "float in [0, 1]", param)
    if not np.all(np.isfinite(arr)):
        raise ParameterError(f"{{{param}}}: images hold NaN or infinite values", param)
    low, high = float(arr.min()), float(arr.max())
    if low < 0 or high > 1:
        raise ParameterError(f"{{{param}}}: float images must lie in [0, 1], found values in "
                             f"[{low:g}, {high:g}]; scale them (e.g. (x + 1) / 2 for [-1, 1]) or "
                             "pass uint8", param)
    return np.rint(arr.astype(np.float64) * 255.0).astype(np.uint8)


def _rgb_rows(x, param: str) -> List[np.ndarray]:
    """(H, W, 3) uint8 images from one array or tensor (see the module docstring)."""
    if _is_tensor(x):
        if x.device.type == "meta":
            raise ParameterError(f"{{{param}}}: a {x.device.type} tensor of dtype {x.dtype} holds "
                                 "no pixel values; pass a real tensor on the CPU or a GPU", param)
        arr = x.detach().cpu().numpy()
        if arr.ndim == 4:
            if arr.shape[1] not in (1, 3, 4):
                raise ParameterError(f"{{{param}}}: tensor of shape {tuple(arr.shape)}; expected "
                                     "(N, C, H, W) with C in 1, 3, 4, or (N, H, W)", param)
            arr = arr.transpose(0, 2, 3, 1)
    elif isinstance(x, np.ndarray):
        arr = x
        if arr.ndim == 4 and arr.shape[3] not in (1, 3, 4):
            raise ParameterError(f"{{{param}}}: array of shape {arr.shape}; numpy images are channels "
                                 "last: (N, H, W) or (N, H, W, C) with C in 1, 3, 4", param)
    else:
        raise ParameterTypeError(f"{{{param}}}: {type(x).__name__} is not an image input; pass a "
                                 "path, an ImageSet, a numpy array, a torch tensor or a mapping "
                                 "condition -> array/tensor", param)
    if arr.ndim not in (3, 4):
        raise ParameterError(f"{{{param}}}: {arr.ndim}-d input of shape {tuple(arr.shape)}; expected "
                             "a batch of images, (N, H, W) or (N, H, W, C) / (N, C, H, W)", param)
    if len(arr) == 0:
        raise ParameterError(f"{{{param}}}: no images (the batch is empty)", param)
    arr = _to_uint8(np.asarray(arr), param)
    if arr.ndim == 3:
        arr = arr[:, :, :, None]
    if arr.shape[3] == 1:
        arr = np.repeat(arr, 3, axis=3)
    return list(np.ascontiguousarray(arr[:, :, :, :3]))


def in_memory_source(param: str) -> Path:
    """The ``source`` of in-memory images given as ``param``: messages about them (sizes, counts)
    then name the argument, ``<in-memory baseline>``, not an anonymous ``<in-memory>``."""
    return Path(f"<in-memory {param}>")


def _in_memory(groups: Sequence[Tuple[str, Any]], param: str) -> InMemoryImageSet:
    refs, images = [], []
    source = in_memory_source(param)
    for condition, x in groups:
        rows = _rgb_rows(x, param)
        width = len(str(len(rows) - 1))
        refs += [ImageRef(condition, f"{i:0{width}d}", source, i) for i in range(len(rows))]
        images += rows
    return InMemoryImageSet(source, refs, images)


def as_image_set(x: ImagesLike, *, param: str, skip_bad: bool = False,
                 quiet: bool = True) -> ImageSet:
    """The images of ``x`` (see the module docstring for what ``x`` may be).

    Args:
        x: a path, ImageSet, numpy array, torch tensor or mapping condition -> array/tensor.
        param: the caller's parameter name, used in error messages.
        skip_bad: skip unreadable files of a folder (counted in ``ImageSet.skipped``).
        quiet: hide the progress bar of a folder scan.

    Returns:
        An ImageSet; for in-memory input its ``source`` is ``<in-memory PARAM>``.

    Example:
        >>> import numpy as np
        >>> s = as_image_set(np.zeros((4, 8, 8, 3), np.uint8), param="x")
        >>> len(s), s[0].shape, s.conditions
        (4, (8, 8, 3), ['.'])
    """
    if isinstance(x, ImageSet):
        return x
    if is_path(x):
        return scan_images(x, skip_bad=skip_bad, progress_quiet=quiet)
    if isinstance(x, Mapping):
        if not x:
            raise ParameterError(f"{{{param}}}: the mapping holds no conditions", param)
        return _in_memory(sorted(((str(k), v) for k, v in x.items()), key=lambda kv: kv[0]), param)
    return _in_memory([(ROOT_CONDITION, x)], param)


def check_paths(*inputs: ImagesLike) -> None:
    """Refuse a path input that cannot be read (missing, a FIFO, a ``.txt``, an unreadable
    folder) before any input is scanned: called first by every evaluation function, so
    ``fid real/ no-such/`` fails at once instead of after extracting ``real/``. Inputs that are
    not paths are checked where they are converted; None (an optional input) is skipped."""
    for x in inputs:
        if x is not None and is_path(x):
            check_image_path(x)


@dataclass(frozen=True)
class Input:
    """One argument of an evaluation function, looked at once: the parameter it came as, the
    value, how results name it and whether it is a FID statistics ``.npz`` rather than images.
    ``images()`` is the one step from the argument to its :class:`ImageSet`."""

    param: str
    value: Any
    name: str
    is_stats: bool

    def images(self, *, skip_bad: bool = False, quiet: bool = True) -> ImageSet:
        return as_image_set(self.value, param=self.param, skip_bad=skip_bad, quiet=quiet)


def take_inputs(**named: ImagesLike) -> List[Input]:
    """The named arguments as :class:`Input` s, in order, every path checked (``check_paths``)
    before any is classified or read; statistics files are recognised here, once each.

    Example:
        >>> import numpy as np
        >>> [x] = take_inputs(b=np.zeros((2, 8, 8), np.uint8))
        >>> x.param, x.name, x.is_stats, len(x.images())
        ('b', '<in-memory>', False, 2)
    """
    check_paths(*named.values())
    return [Input(param, x, describe(x), is_stats_path(x)) for param, x in named.items()]


def describe(x: ImagesLike) -> str:
    """How an input is named in results: its path, or ``<in-memory>``."""
    if is_path(x):
        return os.fspath(x)
    if isinstance(x, ImageSet):
        return str(x.source)
    return str(IN_MEMORY)


def check_output(path: "str | os.PathLike[str] | None", param: str, folder: bool = False) -> None:
    """ParameterError naming ``param`` unless ``path`` (None: nothing to write) can be written:
    called before any work, so a read-only folder or a path under a file fails in seconds."""
    from msgan_eval.errors import UserError
    from msgan_eval.fileio import check_writable

    if path is None:
        return
    try:
        check_writable(path, "{" + param + "}", folder=folder)
    except ParameterError:
        raise
    except UserError as exc:
        raise ParameterError(str(exc), param) from None
