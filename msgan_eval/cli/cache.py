"""``msgan-eval cache list|clear``: what the statistics / bins cache holds, and emptying it.

Only files the package wrote (the cache's manifest) are listed as entries and ever deleted; other
files in the cache folder are reported as foreign and left alone.
"""
import time

import click

from msgan_eval import __version__
from msgan_eval.cache import EVICTABLE, KINDS, check_cache_dir, foreign_files, list_entries, max_bytes
from msgan_eval.cache import clear as clear_entries

from .options import emit, json_option

_WHAT = click.Choice([*KINDS, "all"])


def _kinds(what: str):
    return KINDS if what == "all" else (what,)


def _mb(n: int) -> str:
    return f"{n / 2**20:.1f} MB"


def _foreign_line(foreign) -> list:
    if not foreign:
        return []
    return [f"{len(foreign)} other files there were not written by msgan-eval and are left alone "
            f"(e.g. {foreign[0]})"]


@click.group()
def cache():
    """List or clear the cache of reference statistics, NDB bins and converted weights."""


@cache.command("list")
@click.option("--what", type=_WHAT, default="all", show_default=True)
@json_option
def list_cmd(what, as_json):
    """Show each cached entry, least recently used first, and the size cap."""
    root = check_cache_dir()
    cap = max_bytes()
    entries, foreign = list_entries(_kinds(what)), foreign_files(_kinds(what))
    evictable = sum(e.size for e in entries if e.kind in EVICTABLE)
    rows = [{"kind": e.kind, "path": str(e.path), "bytes": e.size,
             "last_used": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(e.last_used))}
            for e in entries]
    lines = [f"{r['last_used']}  {_mb(r['bytes']):>10}  {r['kind']:<9}  {r['path']}" for r in rows]
    lines.append(f"{len(rows)} entries in {root}; statistics and bins take {_mb(evictable)} "
                 f"of a {_mb(cap)} cap ($MSGAN_EVAL_CACHE_MAX_MB)")
    lines += _foreign_line(foreign)
    emit({"version": __version__, "cache_dir": str(root), "max_bytes": cap,
          "entries": rows, "foreign": [str(p) for p in foreign]}, as_json, "\n".join(lines))


@cache.command("clear")
@click.option("--what", type=_WHAT, default=None,
              help="Only this kind; default: statistics and bins (converted weights are kept "
                   "unless asked, they take a minute to rebuild).")
@click.option("--dry-run", is_flag=True, help="List what would be deleted; delete nothing.")
@json_option
def clear_cmd(what, dry_run, as_json):
    """Delete cached statistics and bins (or --what weights / all) that msgan-eval wrote.

    Files in the cache folder that msgan-eval did not write (your own *.pth or .npz files) are
    never deleted.
    """
    root = check_cache_dir()
    kinds = EVICTABLE if what is None else _kinds(what)
    removed = clear_entries(kinds, dry_run=dry_run)
    foreign = foreign_files(kinds)
    freed = sum(e.size for e in removed)
    verb = "would remove" if dry_run else "removed"
    lines = [f"{verb} {e.path}" for e in removed]
    lines.append(f"{verb} {len(removed)} entries ({_mb(freed)}) from {root}")
    lines += _foreign_line(foreign)
    emit({"version": __version__, "cache_dir": str(root), "dry_run": dry_run,
          "removed": len(removed), "removed_paths": [str(e.path) for e in removed],
          "bytes_freed": 0 if dry_run else freed, "bytes": freed,
          "foreign": [str(p) for p in foreign]}, as_json, "\n".join(lines))
