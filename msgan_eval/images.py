"""The one road for images: every command reads its inputs through :func:`scan_images`.

A path is
- a folder, searched recursively in sorted order; its immediate sub-folders are *conditions*
  (classes), and a flat folder is one condition named ``"."``. A folder with both images directly
  inside it and class sub-folders is refused (the loose images would silently become a class ``.``).
  Symbolic links to folders are followed (a link back to a folder already seen is refused as a
  loop); an unreadable sub-folder, a broken link or a non-regular file (a FIFO named ``*.png``) is an
  error, so no image is ever dropped without a word. Hidden (``.``-prefixed) entries are ignored;
  they are where msgan-eval keeps its own unfinished ``.part`` files;
- an ``.npy``/``.npz`` array of uint8 images, ``(N, H, W)``, ``(N, H, W, C)`` or ``(N, C, H, W)``
  with C in 1, 3, 4; an ``.npz`` may carry ``labels`` (or ``y``), which then name the conditions;
- a single image file.

Every image is decoded to RGB uint8 ``(H, W, 3)``:
- grayscale, palette, CMYK and other 8-bit modes go through ``PIL.Image.convert("RGB")``, as
  pytorch-fid does, so 8-bit inputs give the exact same pixels as the reference tools;
- RGBA / LA: the alpha channel is dropped (not composited on a background), like ``convert("RGB")``;
- 16-bit (``I;16*`` and ``I``) images are scaled to 8 bits by ``round(v / 257)``, instead of being
  clipped at 255 as a bare ``convert("RGB")`` would;
- 32-bit float (``F``) images are taken to lie in [0, 1].

Folders are fully decoded once while scanning, so a corrupt or truncated file is reported before
any long computation starts (or skipped and counted with ``skip_bad``). An image over
``defaults.MAX_IMAGE_PIXELS`` pixels is refused before it is decoded, which bounds the memory one
image can take (PIL alone only refuses above twice its own limit and merely warns below).
"""
from __future__ import annotations

import hashlib
import os
import stat
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image

from . import defaults
from .errors import UserError, first_line
from .fileio import atomic_path
from .metrics.lpips import name_bytes

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")
ARRAY_EXTENSIONS = (".npy", ".npz")
ROOT_CONDITION = "."
_IMAGE_KEYS = ("images", "x", "arr_0")
_LABEL_KEYS = ("labels", "y")


@dataclass(frozen=True)
class ImageRef:
    """One image: a file, or row ``index`` of the array file ``path``."""

    condition: str
    name: str
    path: Path
    index: int = -1


@dataclass
class ImageSet:
    """A sorted, deterministic list of images split into conditions.

    It is a map-style dataset (``len`` and ``[i]`` give RGB uint8 arrays), so it can be handed to a
    ``torch.utils.data.DataLoader`` directly.
    """

    source: Path
    refs: List[ImageRef]
    sizes: List[Tuple[int, int]]
    skipped: List[Tuple[str, str]] = field(default_factory=list)
    array: Optional[np.ndarray] = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.refs)

    def __getitem__(self, i: int) -> np.ndarray:
        return self.read(i)

    def read(self, i: int) -> np.ndarray:
        ref = self.refs[i]
        if ref.index >= 0:
            return _array_row_to_rgb(self.array[ref.index])
        return decode_image(ref.path)

    @property
    def conditions(self) -> List[str]:
        return sorted({r.condition for r in self.refs})

    def groups(self) -> Dict[str, List[int]]:
        """Condition name -> indices into this set, in sorted order."""
        out: Dict[str, List[int]] = {}
        for i, r in enumerate(self.refs):
            out.setdefault(r.condition, []).append(i)
        return dict(sorted(out.items()))

    def subset(self, indices: Sequence[int]) -> "ImageSet":
        idx = list(indices)
        return ImageSet(self.source, [self.refs[i] for i in idx], [self.sizes[i] for i in idx],
                        list(self.skipped), self.array)

    def common_size(self, hint: str = "resize them to one size first") -> Tuple[int, int]:
        """The single (H, W) of all images, or a UserError naming two files that differ."""
        if not self.refs:
            raise UserError(f"{self.source}: no images")
        first = self.sizes[0]
        for ref, size in zip(self.refs, self.sizes):
            if size != first:
                raise UserError(
                    f"{self.source}: images have different sizes ({self.refs[0].name} is "
                    f"{first[1]}x{first[0]}, {ref.name} is {size[1]}x{size[0]}); {hint}")
        return first

    def fingerprint(self, with_mtime: bool = True) -> str:
        """SHA-256 of the sorted file list with sizes (and modification times).

        Without mtimes it survives a copy to another machine (used for NDB bins files); with them
        it notices files rewritten in place (used for the statistics cache).
        """
        h = hashlib.sha256()
        seen_files: Dict[Path, str] = {}
        for ref in self.refs:
            if ref.path not in seen_files:
                st = ref.path.stat()
                seen_files[ref.path] = f"{st.st_size}" + (f"\t{st.st_mtime_ns}" if with_mtime else "")
            # surrogateescape: file names that are not UTF-8 hash by their raw bytes.
            h.update(f"{ref.condition}\t{ref.name}\t{seen_files[ref.path]}\n"
                     .encode("utf-8", "surrogateescape"))
        return h.hexdigest()


class InMemoryImageSet(ImageSet):
    """An ImageSet of RGB uint8 arrays held in memory (no files behind it).

    Its fingerprint hashes the pixels and conditions, so caches keyed by it stay correct.
    """

    def __init__(self, source: Path, refs: List[ImageRef], images: List[np.ndarray]):
        super().__init__(source, refs, [img.shape[:2] for img in images], [])
        self.images = images

    def read(self, i: int) -> np.ndarray:
        return self.images[i]

    def subset(self, indices: Sequence[int]) -> "InMemoryImageSet":
        idx = list(indices)
        out = InMemoryImageSet(self.source, [self.refs[i] for i in idx], [self.images[i] for i in idx])
        out._fingerprint = self.fingerprint() if len(idx) == len(self.refs) else None
        return out

    def fingerprint(self, with_mtime: bool = True) -> str:
        cached = getattr(self, "_fingerprint", None)
        if cached:
            return cached
        h = hashlib.sha256(b"in-memory 1\n")
        for ref, img in zip(self.refs, self.images):
            h.update(name_bytes(f"{ref.condition}\t{ref.name}\t{img.shape}\n"))
            h.update(np.ascontiguousarray(img).tobytes())
        self._fingerprint = h.hexdigest()
        return self._fingerprint


SKIP_HINT = ", or pass --skip-bad to skip it"


def _bad_file_message(path: Path, reason: str) -> str:
    return f"{path}: not a readable image ({reason}); fix or remove it{SKIP_HINT}"


def pil_to_rgb(im: Image.Image) -> np.ndarray:
    """RGB uint8 (H, W, 3) from any PIL image (see the module docstring for each mode)."""
    if im.mode.startswith("I;16") or im.mode == "I":
        v = np.asarray(im, dtype=np.float64)
        v = np.clip(np.rint(v / 257.0), 0, 255).astype(np.uint8)
        return np.repeat(v[:, :, None], 3, axis=2)
    if im.mode == "F":
        v = np.asarray(im, dtype=np.float64)
        v = np.clip(np.rint(v * 255.0), 0, 255).astype(np.uint8)
        return np.repeat(v[:, :, None], 3, axis=2)
    if im.mode != "RGB":
        im = im.convert("RGB")
    return np.asarray(im, dtype=np.uint8)


def _check_regular_file(path: Path) -> None:
    """UserError unless ``path`` is a regular file: opening a FIFO would block forever."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            raise UserError(_bad_file_message(path, f"broken symbolic link to {os.readlink(path)}"))
        raise UserError(f"{path}: file disappeared while reading; re-run on a stable folder")
    except OSError as exc:
        raise UserError(_bad_file_message(path, exc.strerror or type(exc).__name__))
    if not stat.S_ISREG(st.st_mode):
        raise UserError(_bad_file_message(path, "not a regular file (a FIFO, socket or device)"))


def _check_pixels(path: Path, im: Image.Image) -> None:
    w, h = im.size
    if w * h > defaults.MAX_IMAGE_PIXELS:
        raise UserError(_bad_file_message(
            path, f"{w}x{h} is over the {defaults.MAX_IMAGE_PIXELS:,} pixel limit, a possible "
                  "decompression bomb; downscale it"))


def decode_image(path: Path, keep_alpha: bool = False) -> np.ndarray:
    """Decode one image file to RGB uint8, or raise a UserError naming it. ``keep_alpha``: an
    RGBA or LA file comes back as RGBA uint8 (H, W, 4) instead (OpenAI CLIP's ``_transform``
    resizes such images before it drops their alpha: features/preprocess.py)."""
    _check_regular_file(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as im:
                _check_pixels(path, im)     # before load(): the header gives the size
                im.load()
                if keep_alpha and im.mode in ("RGBA", "LA"):
                    return np.asarray(im.convert("RGBA"), dtype=np.uint8)
                return pil_to_rgb(im)
    except UserError:
        raise
    except FileNotFoundError:
        raise UserError(f"{path}: file disappeared while reading; re-run on a stable folder")
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError, EOFError,
            MemoryError) as exc:
        reason = first_line(exc)
        if reason.startswith("cannot identify image file"):   # PIL repeats the name: say why
            reason = "not an image in a format PIL can read"
        raise UserError(_bad_file_message(path, reason)) from None


def _array_row_to_rgb(row: np.ndarray) -> np.ndarray:
    row = np.asarray(row)
    if row.ndim == 2:
        return np.repeat(row[:, :, None], 3, axis=2)
    if row.shape[2] == 1:
        return np.repeat(row, 3, axis=2)
    return np.ascontiguousarray(row[:, :, :3])


def _to_nhwc(arr: np.ndarray, path: Path) -> np.ndarray:
    if arr.dtype != np.uint8:
        raise UserError(f"{path}: image array has dtype {arr.dtype}, expected uint8 (0..255); "
                        "convert with (x * 255).round().astype(np.uint8)")
    if arr.ndim == 3:
        return arr
    if arr.ndim == 4 and arr.shape[3] in (1, 3, 4):
        return arr
    if arr.ndim == 4 and arr.shape[1] in (1, 3, 4):
        return arr.transpose(0, 2, 3, 1)
    raise UserError(f"{path}: image array has shape {arr.shape}; expected (N, H, W), (N, H, W, C) "
                    "or (N, C, H, W) with C in 1, 3, 4")


def _check_array_shape(arr: np.ndarray, path: Path) -> None:
    h, w = arr.shape[1:3]
    if h < 1 or w < 1:
        raise UserError(f"{path}: images of the array are {w}x{h} pixels; each needs at least 1x1")
    if h * w > defaults.MAX_IMAGE_PIXELS:
        raise UserError(f"{path}: images of the array are {w}x{h}, over the "
                        f"{defaults.MAX_IMAGE_PIXELS:,} pixel limit; downscale them")


def is_stats_file(path: Path) -> bool:
    """An ``.npz`` holding FID statistics (``mu``, ``sigma``) rather than images."""
    if Path(path).suffix.lower() != ".npz" or not Path(path).is_file():
        return False
    try:
        with np.load(path) as data:
            return "mu" in data.files and "sigma" in data.files
    except Exception:
        return False


def _scan_array(path: Path) -> ImageSet:
    labels = None
    try:
        if path.suffix.lower() == ".npy":
            arr = np.load(path, mmap_mode="r")
        else:
            with np.load(path) as data:
                if "mu" in data.files and "sigma" in data.files:
                    raise UserError(f"{path}: this is a statistics file (mu, sigma), not images; "
                                    "pass an image folder or array here")
                key = next((k for k in _IMAGE_KEYS if k in data.files), None)
                if key is None and len(data.files) == 1:
                    key = data.files[0]
                if key is None:
                    raise UserError(f"{path}: no image array found (looked for keys "
                                    f"{', '.join(_IMAGE_KEYS)}; found {', '.join(data.files)})")
                arr = data[key]
                lkey = next((k for k in _LABEL_KEYS if k in data.files), None)
                labels = np.asarray(data[lkey]).reshape(-1) if lkey else None
    except UserError:
        raise
    except Exception as exc:
        raise UserError(f"{path}: cannot read array file ({type(exc).__name__}: {exc}); "
                        "re-create it with numpy.save / numpy.savez") from None
    arr = _to_nhwc(arr, path)
    _check_array_shape(arr, path)
    n = arr.shape[0]
    if n == 0:
        raise UserError(f"{path}: the array holds no images")
    if labels is not None and len(labels) != n:
        raise UserError(f"{path}: {len(labels)} labels for {n} images; they must match")
    width = len(str(n - 1))
    refs = [ImageRef(ROOT_CONDITION if labels is None else str(labels[i]), f"{i:0{width}d}", path, i)
            for i in range(n)]
    order = sorted(range(n), key=lambda i: (refs[i].condition, i))
    refs = [refs[i] for i in order]
    return ImageSet(path, refs, [tuple(arr.shape[1:3])] * n, [], arr)


def _walk_error(exc: OSError) -> None:
    raise UserError(f"{exc.filename}: folder is not readable ({exc.strerror}); check its "
                    "permissions or remove it")


def _list_image_files(root: Path) -> List[Path]:
    """Image files under ``root``, following folder links; loops and unreadable folders refused."""
    found = []
    seen: Dict[Tuple[int, int], str] = {}
    for dirpath, dirnames, filenames in os.walk(root, onerror=_walk_error, followlinks=True):
        st = os.stat(dirpath)
        if (st.st_dev, st.st_ino) in seen:
            raise UserError(f"{dirpath}: the same folder as {seen[(st.st_dev, st.st_ino)]} (a "
                            "symbolic link loop or a second link to it); remove the link")
        seen[(st.st_dev, st.st_ino)] = dirpath
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for fn in filenames:
            if not fn.startswith(".") and fn.lower().endswith(IMAGE_EXTENSIONS):
                found.append(Path(dirpath) / fn)
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def _check_layout(root: Path, files: List[Path]) -> None:
    """Refuse loose images beside class sub-folders (they would become a class named ``.``)."""
    loose = [f for f in files if f.parent == root]
    if loose and len(loose) < len(files):
        raise UserError(f"{root}: holds {len(loose)} image(s) directly (e.g. {loose[0].name}) and "
                        "class sub-folders; move the loose images into a sub-folder or point at a "
                        "folder with only one layout")


def check_image_path(path: "str | os.PathLike[str]") -> Path:
    """``path`` when it can name images (an existing readable folder, an image file or a
    ``.npy``/``.npz``), else the error :func:`scan_images` would give. It reads nothing: every
    command calls it on all its inputs first, so a typo in the second input is refused before the
    first is scanned or its features extracted (``fid real/ no-such/`` extracted ``real/`` first)."""
    path = Path(path)
    if not path.exists():
        if path.is_symlink():
            raise UserError(f"{path}: broken symbolic link to {os.readlink(path)}")
        raise UserError(f"{path}: no such file or folder")
    if not path.is_file() and not path.is_dir():
        raise UserError(f"{path}: not a regular file or folder (a FIFO, socket or device)")
    if path.is_file():
        if path.suffix.lower() not in ARRAY_EXTENSIONS + IMAGE_EXTENSIONS:
            raise UserError(f"{path}: not an image folder, image file or .npy/.npz array")
    elif not os.access(path, os.R_OK | os.X_OK):
        raise UserError(f"{path}: folder is not readable; check its permissions")
    return path


def scan_images(path: "str | os.PathLike[str]", *, skip_bad: bool = False,
                progress_quiet: bool = True, offers_skip_bad: bool = True) -> ImageSet:
    """List, check and group the images at ``path`` (see the module docstring).

    ``offers_skip_bad=False`` drops the "--skip-bad" hint from messages, for commands without it.
    """
    path = check_image_path(path)
    if path.is_file():
        if path.suffix.lower() in ARRAY_EXTENSIONS:
            return _scan_array(path)
        files, root = [path], path.parent
    else:
        files, root = _list_image_files(path), path
        if not files:
            raise UserError(f"{path}: no images found (looked for {', '.join(IMAGE_EXTENSIONS)} "
                            "files, recursively)")
        _check_layout(path, files)
    from .progress import progress

    refs, sizes, skipped = [], [], []
    for f in progress(files, desc=f"checking {path.name or path}", quiet=progress_quiet, unit="img"):
        rel = f.relative_to(root)
        condition = rel.parts[0] if len(rel.parts) > 1 else ROOT_CONDITION
        try:
            img = decode_image(f)
        except UserError as exc:
            if not skip_bad:
                if offers_skip_bad:
                    raise
                raise UserError(str(exc).replace(SKIP_HINT, "")) from None
            skipped.append((str(f), str(exc)))
            continue
        refs.append(ImageRef(condition, rel.as_posix(), f))
        sizes.append(img.shape[:2])
    if not refs:
        raise UserError(f"{path}: none of the {len(files)} image files could be read")
    return ImageSet(path, refs, sizes, skipped)


def write_png(path: "str | os.PathLike[str]", image: np.ndarray) -> None:
    """Write an (H, W), (H, W, 1) or (H, W, 3) uint8 image as PNG, atomically."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"write_png needs uint8, got {image.dtype}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    with atomic_path(path, suffix=".png") as tmp:
        Image.fromarray(image).save(tmp, format="PNG")


def write_image_folder(out_dir: "str | os.PathLike[str]", images: np.ndarray, labels: Sequence[int],
                       class_names: Sequence[str], start: int = 0, progress_quiet: bool = True,
                       names_source: "str | os.PathLike[str] | None" = None) -> None:
    """Write ``out_dir/<class name>/<index>.png``, the layout every command reads as conditions.

    Each class name must be a plain folder name (``names.path_component``); a UserError names
    ``names_source``, the file the names came from (default ``out_dir``), before anything is written.
    """
    from .names import path_components
    from .progress import progress

    out_dir = Path(out_dir)
    class_names = path_components(class_names, out_dir if names_source is None else names_source,
                                  allow_root=True)     # "." (ROOT_CONDITION): out_dir itself
    counters: Dict[int, int] = {}
    for img, lab in progress(zip(images, labels), total=len(images), desc=f"writing {out_dir.name}",
                             quiet=progress_quiet, unit="img"):
        lab = int(lab)
        k = counters.get(lab, start)
        counters[lab] = k + 1
        write_png(out_dir / class_names[lab] / f"{k:05d}.png", img)
