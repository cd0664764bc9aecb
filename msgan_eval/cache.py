"""Our on-disk cache of derived files: its entries, a size cap with least-recently-used eviction.

Entries are the files the package wrote under ``cache_dir()/fid-stats`` and ``cache_dir()/ndb-bins``
(one per image set) and the converted weights in ``cache_dir()``, each listed in the cache's
manifest (:mod:`msgan_eval.cache_manifest`). Anything else there (the user's own ``*.pth``, a
pytorch-fid ``.npz``) is foreign: listed as such, never evicted, never deleted. A read touches the
entry's modification time, so the oldest time is the least recently used; after each write the
oldest entries are deleted until the cache fits ``max_bytes()`` (``$MSGAN_EVAL_CACHE_MAX_MB``,
default ``defaults.CACHE_MAX_MB``; 0 keeps nothing). The converted Inception weights are listed but
never evicted (rebuilding them takes a minute and they are needed by every run).
"""
from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence

from . import cache_manifest as manifest
from . import defaults
from .errors import UserError
from .paths import cache_dir

EVICTABLE = ("fid-stats", "ndb-bins")
KINDS = (*EVICTABLE, "weights")
NOTE_SUFFIX = ".json"         # a converted weight file's note beside it (<name>.pth.json)
# The cap is held as a byte count; beyond this many MB it means "no cap" and overflows nothing.
MAX_CACHE_MB = 2.0 ** 40


@dataclass(frozen=True)
class CacheEntry:
    kind: str          # fid-stats | ndb-bins | weights
    path: Path
    size: int          # bytes
    last_used: float   # seconds since the epoch (modification time, touched on each read)


def check_cache_dir() -> Path:
    """``cache_dir()``, or a UserError naming the variable when it points at something that is
    not a folder (a file, say): listing or clearing it would otherwise say nothing at all."""
    root = cache_dir()
    if os.path.lexists(root) and not root.is_dir():
        source = "$MSGAN_EVAL_CACHE" if os.environ.get("MSGAN_EVAL_CACHE") else "the cache folder"
        raise UserError(f"{source} {root}: is a file, not a folder; point MSGAN_EVAL_CACHE at a "
                        "folder (or unset it)")
    return root


def max_bytes() -> int:
    """The cap on the evictable entries; UserError naming the variable when it is not a size."""
    raw = os.environ.get("MSGAN_EVAL_CACHE_MAX_MB")
    if raw is None or raw.strip() == "":
        return int(defaults.CACHE_MAX_MB * 2**20)
    try:
        mb = float(raw)
    except ValueError:
        mb = float("nan")
    if not (math.isfinite(mb) and 0 <= mb <= MAX_CACHE_MB):
        raise UserError(f"MSGAN_EVAL_CACHE_MAX_MB={raw!r}: expected a size in MB from 0 (keep "
                        f"nothing) to {MAX_CACHE_MB:.0f}; fix or unset the variable")
    return int(mb * 2**20)


def check_settings(use_cache: bool = True) -> None:
    """Refuse a bad ``$MSGAN_EVAL_CACHE_MAX_MB`` before the work that would write to the cache
    (the API's entry points call this; the command line checks it before every command)."""
    if use_cache:
        max_bytes()


def store(path: Path, kind: str) -> None:
    """Record a file a cache writer has just put in place, then evict down to the cap."""
    manifest.record(path, kind)
    evict(keep=path)


def own_weights(path: Path, adopt: bool = False) -> None:
    """Record a converted weight file and its note as the package's (``adopt``: only if they are
    not recorded yet, for a conversion verified on read; errors ignored, as for any adoption)."""
    note = path.with_name(path.name + NOTE_SUFFIX)
    if adopt:
        manifest.adopt(path, "weights")
        manifest.adopt(note, "weights-note")
        return
    manifest.record(path, "weights")
    manifest.record(note, "weights-note")


def list_entries(kinds: Sequence[str] = KINDS) -> List[CacheEntry]:
    """The package's own entries of ``kinds`` (the manifest's), least recently used first."""
    entries = []
    for rec in manifest.records().values():
        if rec.kind not in kinds:
            continue
        st = manifest.matching(rec)
        if st is not None:
            entries.append(CacheEntry(rec.kind, cache_dir() / rec.path, st.st_size, st.st_mtime))
    return sorted(entries, key=lambda e: (e.last_used, str(e.path)))


def foreign_files(kinds: Sequence[str] = KINDS) -> List[Path]:
    """Files where the entries of ``kinds`` live that the package did not write (kept, always)."""
    root, ours = cache_dir(), {e.path for e in list_entries((*kinds, "weights-note"))}
    found = []
    for kind in kinds:
        folder = root if kind == "weights" else root / kind
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            continue
        for name in names:
            path = folder / name
            if kind == "weights" and not name.endswith(".pth"):
                continue
            if path not in ours and not name.startswith(".") and path.is_file():
                found.append(path)
    return found


def touch(path: Path) -> None:
    """Mark ``path`` as just used (a read-only cache is fine: the order is only a hint)."""
    try:
        os.utime(path)
    except OSError:
        pass


def evict(limit: Optional[int] = None, keep: Optional[Path] = None) -> List[CacheEntry]:
    """Delete least recently used entries until the evictable ones fit ``limit``; the deleted.
    ``keep`` (the entry just written) is spared unless the cap is 0, which keeps nothing."""
    limit = max_bytes() if limit is None else limit
    if limit == 0:
        keep = None
    entries = [e for e in list_entries(EVICTABLE) if keep is None or e.path != Path(keep)]
    total = sum(e.size for e in entries) + (_size(keep) if keep is not None else 0)
    victims = []
    for entry in entries:
        if total <= limit:
            break
        victims.append(entry)
        total -= entry.size
    return remove(victims, warn_only=True)


def clear(kinds: Sequence[str] = EVICTABLE, dry_run: bool = False) -> List[CacheEntry]:
    """Delete every entry of ``kinds`` the package wrote (``dry_run``: delete nothing); the
    entries deleted (or that would be)."""
    entries = list_entries(kinds)
    return entries if dry_run else remove(entries)


def remove(entries: Sequence[CacheEntry], warn_only: bool = False) -> List[CacheEntry]:
    """The one deleter: unlink each entry that the manifest still lists as ours (with a converted
    weight file, its note); the entries deleted. Failures raise a UserError naming the file, or
    with ``warn_only`` print a warning and go on (eviction must never fail a command)."""
    removed = []
    if not entries:
        return removed
    with manifest.locked(exclusive=True):
        known = manifest.records()
        for entry in entries:
            if not manifest.is_recorded(entry.path, known):      # replaced since it was listed
                continue
            try:
                entry.path.unlink()
                if entry.kind == "weights":
                    note = entry.path.with_name(entry.path.name + NOTE_SUFFIX)
                    if manifest.is_recorded(note, known):
                        note.unlink()
            except FileNotFoundError:
                continue
            except OSError as exc:
                if warn_only:
                    print(f"msgan-eval: warning: could not evict {entry.path} from the cache "
                          f"({exc.strerror or exc})", file=sys.stderr)
                    continue
                raise UserError(f"{entry.path}: cannot delete it ({exc.strerror}); check the "
                                "cache folder's permissions") from None
            removed.append(entry)
        if removed:
            manifest.rewrite_without_stale()
    return removed


def _size(path: Path) -> int:
    try:
        return Path(path).stat().st_size
    except OSError:
        return 0
