"""Atomic writes: an interrupted or failed command never leaves a half-written file behind.

Unfinished files and folders are hidden siblings of their target named
``.<target name>.<host>~<pid>~<random>.part`` (``.old`` for a folder being replaced). A ``kill -9``
can still leave one behind; the next write into the same folder deletes those of a dead process of
this host, and any older than ``STALE_PART_SECONDS`` (a process on another host sharing the folder).
"""
import contextlib
import ctypes
import json
import os
import re
import shutil
import socket
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterator, Optional, Set

import numpy as np

STALE_PART_SECONDS = 24 * 3600
_HOST = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:40] or "host"
_OURS = re.compile(r"^\..+\.(?P<host>[A-Za-z0-9-]*)~(?P<pid>\d+)~[^.]*\.(part|old)(\.[^.]*)?$")
# Names written before the PID was part of them: only the age tells they are stale.
_LEGACY = re.compile(r"^\..+\.[a-z0-9_]{8}\.(part|old)(\.[^.]*)?$")
_cleaned: Set[str] = set()


def _temp_prefix(target: Path) -> str:
    return f".{target.name}.{_HOST}~{os.getpid()}~"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:          # exists but belongs to another user
        return True
    return True


def _is_stale(entry: os.DirEntry, now: float) -> bool:
    match = _OURS.match(entry.name)
    try:
        age = now - entry.stat(follow_symlinks=False).st_mtime
    except OSError:
        return False
    if match is None:
        return _LEGACY.match(entry.name) is not None and age > STALE_PART_SECONDS
    if age > STALE_PART_SECONDS:
        return True
    pid = int(match["pid"])
    return match["host"] == _HOST and pid != os.getpid() and not _pid_alive(pid)


def clean_stale_parts(folder: "str | os.PathLike[str]", force: bool = False) -> int:
    """Delete our unfinished files/folders in ``folder`` left by dead processes; how many.

    Each folder is swept once per process (``force`` sweeps again); errors are ignored: cleaning
    must never fail the command that writes.
    """
    key = os.path.abspath(folder)
    if key in _cleaned and not force:
        return 0
    _cleaned.add(key)
    removed, now = 0, time.time()
    try:
        entries = [e for e in os.scandir(folder) if e.name.startswith(".")]
    except OSError:
        return 0
    for entry in entries:
        if not _is_stale(entry, now):
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
            removed += 1
        except OSError:
            continue
    return removed


def check_writable(path: "str | os.PathLike[str]", option: str, folder: bool = False) -> None:
    """UserError naming ``option`` unless ``path`` (a file, or a folder with ``folder=True``) can
    be written: call it before the work starts, so a read-only folder, an output path under a file
    or a missing permission is reported in seconds, not after the work."""
    from .errors import UserError

    path = Path(path)
    if path.exists() and path.is_dir() != folder:
        raise UserError(f"{option} {path}: is a {'file' if folder else 'folder'}; give a "
                        f"{'folder' if folder else 'file'} path")
    ancestor = path.parent
    while not ancestor.exists():
        if ancestor.parent == ancestor:
            break
        ancestor = ancestor.parent
    if ancestor.exists() and not ancestor.is_dir():
        raise UserError(f"{option} {path}: {ancestor} is a file, so nothing can be written "
                        "under it; choose another path")
    problem = _write_probe(ancestor)
    if problem is not None:
        raise UserError(f"{option} {path}: cannot write in {ancestor} ({problem}); choose a "
                        "writable place")


def check_free_space(path: "str | os.PathLike[str]", n_bytes: int, option: str, what: str) -> None:
    """UserError naming ``option`` when ``what`` (about ``n_bytes``) cannot fit on the disk that
    would hold ``path``: checked before the work, not found out by a full disk after it."""
    from .errors import UserError

    folder = Path(path)
    while not folder.exists() and folder.parent != folder:
        folder = folder.parent
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return
    if n_bytes > free:
        raise UserError(f"{option}: {what} need about {_size(n_bytes)}, but {folder} has "
                        f"{_size(free)} free; ask for fewer or free some space")


def _size(n_bytes: float) -> str:
    """GiB, or MiB below 1 GiB (a small disk said "need about 0.0 GiB, but has 0.0 GiB free")."""
    return f"{n_bytes / 2**30:.1f} GiB" if n_bytes >= 2**30 else f"{n_bytes / 2**20:.1f} MiB"


def _named(exc: OSError, target: Path) -> OSError:
    """``exc`` with ``target`` as its file name when it has none: a write through an open file
    (``np.savez(fh)``, PIL's ``save``) raises ``[Errno 28]`` without one, and the message then said
    "a file: No space left on device" instead of naming the output (#23 item 12)."""
    if exc.filename is None and exc.errno is not None:
        return OSError(exc.errno, exc.strerror, os.fspath(target))
    return exc


def _write_probe(folder: Path) -> Optional[str]:
    """None if a file can be created in ``folder``, else why not (permissions, read-only disk)."""
    try:
        fd, probe = tempfile.mkstemp(prefix=f".msgan-eval-probe.{_HOST}~{os.getpid()}~",
                                     suffix=".part", dir=folder)
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(probe)
    return None


@contextlib.contextmanager
def atomic_path(target: "str | os.PathLike[str]", suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` only on success.

    ``suffix`` keeps the extension for writers that insist on one (``np.savez`` appends ``.npz``).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_parts(target.parent)
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(target), suffix=".part" + suffix,
                               dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp makes the file private (0600); give it the mode a plain open() would have.
        os.chmod(tmp_path, 0o666 & ~current_umask())
        os.replace(tmp_path, target)
    except OSError as exc:
        named = _named(exc, target)
        if named is exc:
            raise
        raise named from exc
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextlib.contextmanager
def atomic_dir(target: "str | os.PathLike[str]",
               before_swap: Optional[Callable[[], None]] = None) -> Iterator[Path]:
    """Yield a new empty folder beside ``target``; it takes ``target``'s place only on success.

    A ``target`` that exists stays whole until the new folder is complete, then the two are swapped
    in one step (Linux ``renameat2(RENAME_EXCHANGE)``; elsewhere two renames) and the old one is
    deleted: readers see the old folder or the new one, never a mix of their files. A failure or an
    interrupt deletes the new folder and leaves ``target`` as it was.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_parts(target.parent)
    # Same form (relative or absolute) as target, so paths recorded inside can be mapped back.
    tmp = target.parent / Path(tempfile.mkdtemp(prefix=_temp_prefix(target), suffix=".part",
                                                dir=target.parent)).name
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~current_umask())    # mkdtemp makes it private (0700)
        if before_swap is not None:                 # the last check: target still replaceable
            before_swap()
        _swap_in(tmp, target)
    except OSError as exc:
        named = _named(exc, target)
        if named is exc:
            raise
        raise named from exc
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _lock_path(target: Path) -> Path:
    return target.parent / f".{target.name}.msgan-eval.lock"


@contextlib.contextmanager
def _folder_lock(target: Path, option: str) -> Iterator[None]:
    """An exclusive ``flock`` on a hidden file beside ``target`` for as long as the block runs: a
    second msgan-eval writing the same folder is refused at once instead of silently replacing
    the first one's output. Skipped where ``fcntl`` is missing (Windows)."""
    from .errors import UserError

    try:
        import fcntl
    except ImportError:                               # pragma: no cover - Windows
        yield
        return
    lock = _lock_path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        raise UserError(f"{option} {target}: cannot write in {target.parent} "
                        f"({exc.strerror or exc}); choose a writable place") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UserError(f"{option} {target}: another msgan-eval command is writing this folder "
                            "right now; wait for it to finish or choose another folder") from None
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                os.unlink(lock)
    finally:
        os.close(fd)


@contextlib.contextmanager
def owned_dir(target: "str | os.PathLike[str]", option: str = "--out",
              replaceable: Optional[Callable[[Path], bool]] = None) -> Iterator[Path]:
    """The one writer of an output folder: yields a new folder beside ``target`` that takes its
    place when the block succeeds (``atomic_dir``), while a lock beside ``target`` keeps a second
    msgan-eval command out. ``target`` must be absent, an empty folder, or a folder
    ``replaceable(target)`` accepts (a previous report of ours); it is checked under the lock,
    again just before the swap, so nothing of the user's is ever replaced.

    Example::

        with owned_dir(out, "--out") as build:
            write_png(build / "a" / "00000.png", image)
    """
    target = Path(target)

    def check() -> None:
        if replaceable is not None and target.is_dir() and replaceable(target):
            return
        require_new_or_empty(target, option)

    with _folder_lock(target, option):
        check()
        with atomic_dir(target, before_swap=check) as build:
            yield build


def require_new_or_empty(folder: "str | os.PathLike[str]", option: str = "--out") -> None:
    """UserError naming ``option`` unless ``folder`` is absent or an empty folder: images left in
    it would be read together with the new ones."""
    from .errors import UserError

    folder = Path(folder)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise UserError(f"{option} {folder}: exists and is not an empty folder; choose a new folder "
                        "(stale images would be read with the new ones)")


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2); False where the system cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                          ctypes.c_uint]
    done = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    return done == 0


def _swap_in(new: Path, target: Path) -> None:
    """Rename ``new`` onto ``target``; an existing ``target`` is deleted only once ``new`` is there."""
    if not os.path.lexists(target):
        os.rename(new, target)
        return
    if target.is_dir() and not target.is_symlink() and _exchange(new, target):
        shutil.rmtree(new, ignore_errors=True)      # new now holds the old folder
        return
    aside = Path(tempfile.mkdtemp(prefix=_temp_prefix(target), suffix=".old", dir=target.parent))
    os.rename(target, aside / target.name)
    try:
        os.rename(new, target)
    except BaseException:
        os.rename(aside / target.name, target)
        aside.rmdir()
        raise
    shutil.rmtree(aside, ignore_errors=True)


_TEMP_NAME = re.compile(r"^\.(?P<name>.+)\.[A-Za-z0-9-]*~\d+~[^.]*\.(part|old)(\.[^.]*)?$")
_LOCK_NAME = re.compile(r"^\.(?P<name>.+)\.msgan-eval\.lock$")


def real_path(path: "str | os.PathLike[str]") -> str:
    """``path`` with each unfinished ``.<name>.<host>~<pid>~<x>.part`` component (and our lock
    files) written as the ``<name>`` it becomes: messages name the folder the user asked for, not
    a temporary sibling that is gone by the time they read it."""
    parts = []
    for part in Path(os.fspath(path)).parts:
        match = _TEMP_NAME.match(part) or _LOCK_NAME.match(part)
        parts.append(match["name"] if match else part)
    return str(Path(*parts)) if parts else os.fspath(path)


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes_atomic(target, data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(target, text: str) -> None:
    # backslashreplace: a non-UTF-8 file or class name (a lone surrogate) never fails the write
    write_bytes_atomic(target, text.encode("utf-8", "backslashreplace"))


def file_identity(path: "str | os.PathLike[str]") -> tuple:
    """(resolved path, size, mtime_ns, inode): a key that changes when the file is replaced or
    rewritten, for memos of what was read or computed from a file."""
    st = Path(path).stat()
    return (str(Path(path).resolve()), st.st_size, st.st_mtime_ns, st.st_ino)


def write_json_atomic(target, obj) -> None:
    write_text_atomic(target, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def save_npz_atomic(target, **arrays) -> None:
    """``np.savez`` to ``target`` atomically (keeps ``target``'s exact name, even without ``.npz``)."""
    with atomic_path(target, suffix=".npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
