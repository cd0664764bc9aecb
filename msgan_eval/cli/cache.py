"""``msgan-eval cache list|clear``: what the statistics / bins cache holds, and emptying it."""
import time

import click

from msgan_eval import __version__
from msgan_eval.cache import EVICTABLE, KINDS, list_entries, max_bytes
from msgan_eval.cache import clear as clear_entries
from msgan_eval.paths import cache_dir

from .options import emit, json_option

_WHAT = click.Choice([*KINDS, "all"])


def _kinds(what: str):
    return KINDS if what == "all" else (what,)


def _mb(n: int) -> str:
    return f"{n / 2**20:.1f} MB"


@click.group()
def cache():
    """List or clear the cache of reference statistics, NDB bins and converted weights."""


@cache.command("list")
@click.option("--what", type=_WHAT, default="all", show_default=True)
@json_option
def list_cmd(what, as_json):
    """Show each cached entry, least recently used first, and the size cap."""
    entries = list_entries(_kinds(what))
    cap = max_bytes()
    evictable = sum(e.size for e in entries if e.kind in EVICTABLE)
    rows = [{"kind": e.kind, "path": str(e.path), "bytes": e.size,
             "last_used": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(e.last_used))}
            for e in entries]
    lines = [f"{r['last_used']}  {_mb(r['bytes']):>10}  {r['kind']:<9}  {r['path']}" for r in rows]
    lines.append(f"{len(rows)} entries in {cache_dir()}; statistics and bins take {_mb(evictable)} "
                 f"of a {_mb(cap)} cap ($MSGAN_EVAL_CACHE_MAX_MB)")
    emit({"version": __version__, "cache_dir": str(cache_dir()), "max_bytes": cap,
          "entries": rows}, as_json, "\n".join(lines))


@cache.command("clear")
@click.option("--what", type=_WHAT, default=None,
              help="Only this kind; default: statistics and bins (converted weights are kept "
                   "unless asked, they take a minute to rebuild).")
@json_option
def clear_cmd(what, as_json):
    """Delete cached statistics and bins (or --what weights / all)."""
    kinds = EVICTABLE if what is None else _kinds(what)
    removed = clear_entries(kinds)
    freed = sum(e.size for e in removed)
    emit({"version": __version__, "cache_dir": str(cache_dir()), "removed": len(removed),
          "bytes_freed": freed}, as_json,
         f"removed {len(removed)} entries ({_mb(freed)}) from {cache_dir()}")
