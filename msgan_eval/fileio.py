"""Atomic writes: an interrupted or failed command never leaves a half-written file behind."""
import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

import numpy as np


@contextlib.contextmanager
def atomic_path(target: "str | os.PathLike[str]", suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` only on success.

    ``suffix`` keeps the extension for writers that insist on one (``np.savez`` appends ``.npz``).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part" + suffix, dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp makes the file private (0600); give it the mode a plain open() would have.
        os.chmod(tmp_path, 0o666 & ~current_umask())
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextlib.contextmanager
def atomic_dir(target: "str | os.PathLike[str]") -> Iterator[Path]:
    """Yield a new empty folder beside ``target``; it takes ``target``'s place only on success.

    A ``target`` that exists stays whole until the new folder is complete, then is moved aside and
    deleted; a failure or an interrupt deletes the new folder and leaves ``target`` as it was.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Same form (relative or absolute) as target, so paths recorded inside can be mapped back.
    tmp = target.parent / Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".part",
                                                dir=target.parent)).name
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~current_umask())    # mkdtemp makes it private (0700)
        _swap_in(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def require_new_or_empty(folder: "str | os.PathLike[str]", option: str = "--out") -> None:
    """UserError naming ``option`` unless ``folder`` is absent or an empty folder: images left in
    it would be read together with the new ones."""
    from .errors import UserError

    folder = Path(folder)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise UserError(f"{option} {folder}: exists and is not an empty folder; choose a new folder "
                        "(stale images would be read with the new ones)")


def _swap_in(new: Path, target: Path) -> None:
    """Rename ``new`` onto ``target``; an existing ``target`` is deleted only once ``new`` is there."""
    if not os.path.lexists(target):
        os.rename(new, target)
        return
    aside = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
    os.rename(target, aside / target.name)
    try:
        os.rename(new, target)
    except BaseException:
        os.rename(aside / target.name, target)
        aside.rmdir()
        raise
    shutil.rmtree(aside, ignore_errors=True)


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes_atomic(target, data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(target, text: str) -> None:
    write_bytes_atomic(target, text.encode("utf-8"))


def write_json_atomic(target, obj) -> None:
    write_text_atomic(target, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def save_npz_atomic(target, **arrays) -> None:
    """``np.savez`` to ``target`` atomically (keeps ``target``'s exact name, even without ``.npz``)."""
    with atomic_path(target, suffix=".npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
