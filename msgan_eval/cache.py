"""Our on-disk cache of derived files: its entries, a size cap with least-recently-used eviction.

Entries are the files under ``cache_dir()/fid-stats`` and ``cache_dir()/ndb-bins`` (one per image
set). A read touches the entry's modification time, so the oldest time is the least recently used;
after each write the oldest entries are deleted until the cache fits ``max_bytes()``
(``$MSGAN_EVAL_CACHE_MAX_MB``, default ``defaults.CACHE_MAX_MB``). The converted Inception weights
are listed but never evicted (rebuilding them takes a minute and they are needed by every run).
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence

from . import defaults
from .errors import UserError
from .paths import cache_dir

EVICTABLE = ("fid-stats", "ndb-bins")
KINDS = (*EVICTABLE, "weights")


@dataclass(frozen=True)
class CacheEntry:
    kind: str          # fid-stats | ndb-bins | weights
    path: Path
    size: int          # bytes
    last_used: float   # seconds since the epoch (modification time, touched on each read)


def max_bytes() -> int:
    """The cap on the evictable entries; UserError naming the variable when it is not a number."""
    raw = os.environ.get("MSGAN_EVAL_CACHE_MAX_MB")
    if raw is None or raw.strip() == "":
        return int(defaults.CACHE_MAX_MB * 2**20)
    try:
        mb = float(raw)
    except ValueError:
        mb = float("nan")
    if not mb >= 0 or mb == float("inf"):
        raise UserError(f"MSGAN_EVAL_CACHE_MAX_MB={raw!r}: expected a size in MB (>= 0)")
    return int(mb * 2**20)


def list_entries(kinds: Sequence[str] = KINDS) -> List[CacheEntry]:
    """The cache's entries of ``kinds``, least recently used first (hidden ``.part`` files skipped)."""
    root = cache_dir()
    entries = []
    for kind in kinds:
        folder = root if kind == "weights" else root / kind
        if not folder.is_dir():
            continue
        for p in folder.iterdir():
            if p.name.startswith(".") or not p.is_file():
                continue
            if kind == "weights" and p.suffix != ".pth":
                continue
            try:
                st = p.stat()
            except OSError:
                continue           # deleted by a concurrent run meanwhile
            entries.append(CacheEntry(kind, p, st.st_size, st.st_mtime))
    return sorted(entries, key=lambda e: (e.last_used, str(e.path)))


def touch(path: Path) -> None:
    """Mark ``path`` as just used (a read-only cache is fine: the order is only a hint)."""
    try:
        os.utime(path)
    except OSError:
        pass


def evict(limit: Optional[int] = None, keep: Optional[Path] = None) -> List[CacheEntry]:
    """Delete least recently used entries until the evictable ones fit ``limit``; the deleted."""
    limit = max_bytes() if limit is None else limit
    entries = [e for e in list_entries(EVICTABLE) if keep is None or e.path != Path(keep)]
    total = sum(e.size for e in entries) + (_size(keep) if keep is not None else 0)
    removed = []
    for entry in entries:
        if total <= limit:
            break
        try:
            entry.path.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            print(f"msgan-eval: warning: could not evict {entry.path} from the cache ({exc})",
                  file=sys.stderr)
            continue
        total -= entry.size
        removed.append(entry)
    return removed


def clear(kinds: Sequence[str] = EVICTABLE) -> List[CacheEntry]:
    """Delete every entry of ``kinds``; the deleted entries."""
    removed = []
    for entry in list_entries(kinds):
        try:
            entry.path.unlink()
            if entry.kind == "weights":
                entry.path.with_name(entry.path.name + ".json").unlink(missing_ok=True)
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise UserError(f"{entry.path}: cannot delete it ({exc.strerror}); check the "
                            "cache folder's permissions") from None
        removed.append(entry)
    return removed


def _size(path: Path) -> int:
    try:
        return Path(path).stat().st_size
    except OSError:
        return 0
