"""The cache's manifest: which files under ``cache_dir()`` the package itself wrote.

``MSGAN_EVAL_CACHE`` may point at a folder that also holds the user's own files (their ``*.pth``,
their pytorch-fid ``.npz`` files). Nothing is ever deleted from the cache unless it is listed here:
each cache writer records the file right after its atomic rename, as one JSON line
``{"path", "kind", "size", "ino"}``; a file counts as ours only while its size and inode are still
the recorded ones, so a user's file later put at the same path is foreign again.

Appends take a shared ``flock`` on ``.manifest.lock`` and rewrites (after a deletion) an exclusive
one, so a concurrent run's record is never lost by a rewrite. Where ``fcntl`` is missing
(Windows) the lock is skipped: a lost record only means a file is kept, never one deleted.
"""
from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Dict, Iterator, NamedTuple, Optional

from .paths import cache_dir

MANIFEST = "manifest.jsonl"
LOCK = ".manifest.lock"


class Record(NamedTuple):
    path: str      # relative to cache_dir(), POSIX separators
    kind: str      # fid-stats | ndb-bins | weights | weights-note
    size: int
    ino: int


@contextlib.contextmanager
def locked(exclusive: bool) -> Iterator[None]:
    """Hold the manifest's lock (shared for appends, exclusive for rewrites and deletions)."""
    try:
        import fcntl
    except ImportError:                       # pragma: no cover - Windows
        yield
        return
    root = cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root / LOCK, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)                          # closing releases the lock


def record(path: "str | os.PathLike[str]", kind: str) -> None:
    """Note that the package has just written ``path`` (a file under ``cache_dir()``)."""
    root = cache_dir()
    path = Path(path)
    st = path.stat()
    rel = path.resolve().relative_to(root.resolve()).as_posix()
    line = json.dumps({"path": rel, "kind": kind, "size": st.st_size, "ino": st.st_ino}) + "\n"
    with locked(exclusive=False), open(root / MANIFEST, "a", encoding="utf-8") as fh:
        fh.write(line)


def records() -> Dict[str, Record]:
    """Path -> its latest record (unreadable lines, a line cut by a kill, are skipped)."""
    out: Dict[str, Record] = {}
    try:
        text = (cache_dir() / MANIFEST).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return out
    for line in text.splitlines():
        try:
            row = json.loads(line)
            rec = Record(str(row["path"]), str(row["kind"]), int(row["size"]), int(row["ino"]))
        except (ValueError, KeyError, TypeError):
            continue
        if not Path(rec.path).is_absolute() and ".." not in Path(rec.path).parts:
            out[rec.path] = rec
    return out


def matching(rec: Record) -> Optional[os.stat_result]:
    """The file's stat when it is still the one recorded (same size and inode), else None."""
    try:
        st = os.stat(cache_dir() / rec.path, follow_symlinks=False)
    except OSError:
        return None
    import stat

    if not stat.S_ISREG(st.st_mode) or (st.st_size, st.st_ino) != (rec.size, rec.ino):
        return None
    return st


def is_recorded(path: "str | os.PathLike[str]",
                known: Optional[Dict[str, Record]] = None) -> bool:
    """Whether ``path`` is a file the package wrote and nobody replaced since (``known``: the
    :func:`records` already read)."""
    try:
        rel = Path(path).resolve().relative_to(cache_dir().resolve()).as_posix()
    except (ValueError, OSError):
        return False
    rec = (records() if known is None else known).get(rel)
    return rec is not None and matching(rec) is not None


def adopt(path: "str | os.PathLike[str]", kind: str) -> None:
    """Record a file this version has just read and verified as its own (written before the
    manifest existed); errors are ignored: the manifest only ever allows deletions."""
    with contextlib.suppress(OSError, ValueError):
        if not is_recorded(path):
            record(path, kind)


def rewrite_without_stale() -> None:
    """Drop records whose file is gone or replaced. Call with the exclusive lock held."""
    from .fileio import write_text_atomic

    kept = [r for r in records().values() if matching(r) is not None]
    write_text_atomic(cache_dir() / MANIFEST,
                      "".join(json.dumps(r._asdict()) + "\n" for r in kept))
