"""How many CPU threads the maths may use: ``--threads``, ``$MSGAN_EVAL_THREADS``, or a default.

On a machine whose cores are busy with other processes, one thread per core oversubscribes them
(measured on a loaded 2-core machine: ``train`` 5x and extraction 2x slower than with one thread),
so the default is the cores this process may run on minus the load already on them (the tasks
runnable right now, else the 1-minute load average), at least 1. The choice covers torch's intra-op pool and the BLAS / OpenMP pools of
numpy and scipy, and is recorded in every ``--json`` output as ``threads``.
"""
from __future__ import annotations

import contextlib
import os
import sys
from typing import Iterator, Optional

from .errors import UserError

ENV = "MSGAN_EVAL_THREADS"
_POOL_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
_current: Optional[int] = None
_limiters: list = []      # threadpoolctl limiters applied, undone by threads_scope


def available_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


LOADAVG = "/proc/loadavg"


def runnable_now(path: str = LOADAVG, samples: int = 5, interval: float = 0.004) -> Optional[int]:
    """Tasks runnable on the machine right now, this one excluded (Linux ``/proc/loadavg``'s
    fourth field, the median of a few readings 4 ms apart); None where it cannot be read."""
    import time

    readings = []
    for i in range(samples):
        try:
            with open(path) as f:
                readings.append(int(f.read().split()[3].split("/")[0]) - 1)
        except (OSError, ValueError, IndexError):
            return None
        if i + 1 < samples:
            time.sleep(interval)
    return max(0, sorted(readings)[samples // 2])


def default_threads() -> int:
    """Free cores: those we may use minus the load already on them, at least 1.

    The load is what runs *now* where the kernel says so: the 1-minute load average lags, so a
    heavy job that ended seconds ago (measured: ``python -m pytorch_fid`` just before
    ``msgan-eval fid``) would still cost a core for the next minute. The load average is the
    fallback where ``/proc/loadavg`` is missing (macOS, Windows)."""
    cores = available_cores()
    busy = runnable_now()
    if busy is None:
        try:
            busy = int(round(os.getloadavg()[0]))
        except (AttributeError, OSError):
            busy = 0
    return max(1, min(cores, cores - busy))


def max_threads() -> int:
    """The most threads accepted: 4 per core this process may use (oversubscribing more only
    slows the maths down; ``--threads 100000`` was accepted and recorded as if used)."""
    return 4 * max(available_cores(), os.cpu_count() or 1)


def parse_threads(value: "str | int | None", where: str) -> Optional[int]:
    """A thread count from 1 to :func:`max_threads` from an option or the environment; None when
    not given."""
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return None
    try:
        n = int(value)
    except (TypeError, ValueError):
        n = 0
    if not 1 <= n <= max_threads():
        raise UserError(f"{where} {value!r}: expected a whole number of threads from 1 to "
                        f"{max_threads()} (4 per core here)")
    return n


def resolve_threads(option: Optional[int] = None) -> int:
    """``option``, else ``$MSGAN_EVAL_THREADS``, else :func:`default_threads`."""
    if option is not None:
        return parse_threads(option, "--threads")
    env = parse_threads(os.environ.get(ENV), ENV)
    return env if env is not None else default_threads()


def apply_threads(n: int) -> None:
    """Use ``n`` threads from now on in this process (torch, numpy/scipy BLAS, OpenMP)."""
    global _current
    _current = n
    for var in _POOL_VARIABLES:       # read by libraries loaded after this point
        os.environ[var] = str(n)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(n)
    if "numpy" in sys.modules:        # pools already loaded: resize them in place
        with contextlib.suppress(Exception):
            from threadpoolctl import threadpool_limits

            _limiters.append(threadpool_limits(n))


def current_threads() -> Optional[int]:
    """The count chosen for this command (None outside a command)."""
    return _current


@contextlib.contextmanager
def threads_scope() -> Iterator[None]:
    """Restore the thread settings on exit (commands run inside a test process or a notebook)."""
    global _current
    saved_env = {var: os.environ.get(var) for var in _POOL_VARIABLES}
    torch = sys.modules.get("torch")
    before = torch.get_num_threads() if torch is not None else None
    saved, depth = _current, len(_limiters)
    try:
        yield
    finally:
        _current = saved
        while len(_limiters) > depth:
            with contextlib.suppress(Exception):
                _limiters.pop().restore_original_limits()
        for var, value in saved_env.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value
        if before is not None:
            torch.set_num_threads(before)
