"""The one validator of numeric parameters, shared by the Python API and the command line.

Every numeric argument of a public function goes through :func:`number` (or its shorthands
:func:`whole`, :func:`real`, :func:`seed`): NaN and infinity are refused (``float("nan")`` compares
false with every bound and then breaks the maths silently), integer parameters must be
integer-valued (``subsets=2.5`` was truncated to 2), bools and text are refused as numbers, and
the range is checked. Failures are :class:`ParameterError` (a ``ValueError``) or
:class:`ParameterTypeError` (a ``TypeError``) naming the parameter; the command line prints the
same message with the option's flag (``cli.options.PARAMETER_FLAGS``), and its ``FiniteFloat`` /
``Whole`` option types call this module too.
"""
from __future__ import annotations

import math
import numbers
from typing import Optional, Union

from .errors import ParameterError, ParameterTypeError

Number = Union[int, float]
SEED_LIMIT = 2 ** 32         # numpy's RandomState and scikit-learn's random_state take [0, 2**32)


def _shown(value) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def _bound(b: Number) -> str:
    return str(b) if isinstance(b, int) or float(b).is_integer() and abs(b) < 1e16 else f"{b:g}"


def number(value, name: str, *, integer: bool = False, min: Optional[Number] = None,
           max: Optional[Number] = None, above: Optional[Number] = None,
           below: Optional[Number] = None, hint: str = "") -> Number:
    """``value`` as an ``int`` (``integer=True``) or ``float`` when it is a finite real number
    in range (``min``/``max`` inclusive, ``above``/``below`` exclusive); else an error naming
    ``name``. ``hint`` ends the message (what to do, why the bound).

    Example::

        k = number(k, "k", integer=True, min=1)          # 3.0 -> 3; 2.5, nan, True -> refused
    """
    tail = f"; {hint}" if hint else ""
    if getattr(value, "ndim", None) == 0 and hasattr(value, "item"):     # 0-d array or tensor
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        kind = "a whole number" if integer else "a number"
        raise ParameterTypeError(f"{{{name}}} {_shown(value)}: expected {kind}, got a "
                                 f"{type(value).__name__}{tail}", name)
    as_float = float(value)
    if not math.isfinite(as_float):
        raise ParameterError(f"{{{name}}} {_shown(value)}: not a finite number{tail}", name)
    if integer:
        if isinstance(value, numbers.Integral):
            out: Number = int(value)
        elif as_float.is_integer():
            out = int(as_float)
        else:
            raise ParameterError(f"{{{name}}} {_shown(value)}: expected a whole number{tail}", name)
    else:
        out = as_float
    for bound, ok, words in ((min, lambda b: out >= b, "at least"), (max, lambda b: out <= b, "at most"),
                             (above, lambda b: out > b, "above"), (below, lambda b: out < b, "below")):
        if bound is not None and not ok(bound):
            raise ParameterError(f"{{{name}}} {_shown(value)}: must be {words} {_bound(bound)}{tail}",
                                 name)
    return out


def whole(value, name: str, *, min: Optional[int] = None, max: Optional[int] = None,
          hint: str = "") -> int:
    """An integer-valued parameter (``3`` and ``3.0`` pass, ``2.5`` does not)."""
    return int(number(value, name, integer=True, min=min, max=max, hint=hint))


def real(value, name: str, *, min: Optional[float] = None, max: Optional[float] = None,
         above: Optional[float] = None, below: Optional[float] = None, hint: str = "") -> float:
    """A finite float parameter."""
    return float(number(value, name, min=min, max=max, above=above, below=below, hint=hint))


def seed(value, name: str = "seed") -> int:
    """A seed numpy's RandomState accepts (0 to 2**32 - 1): refused before any work, not after
    minutes of feature extraction."""
    return whole(value, name, min=0, max=SEED_LIMIT - 1, hint=f"use a seed from 0 to {SEED_LIMIT - 1}")


def probability(value, name: str) -> float:
    """A level strictly between 0 and 1 (a significance level, a confidence)."""
    return real(value, name, above=0, below=1, hint="use a level between 0 and 1")


def check_dims(value, name: str = "dims") -> int:
    """One of the Inception feature sizes (64, 192, 768, 2048)."""
    from . import defaults

    dims = whole(value, name)
    if dims not in defaults.FID_DIMS_CHOICES:
        raise ParameterError(f"{{{name}}} {dims}: use one of "
                             f"{', '.join(map(str, defaults.FID_DIMS_CHOICES))}", name)
    return dims


def loader_numbers(batch_size, num_workers) -> "tuple[int, int]":
    """(batch_size, num_workers) of a feature extraction: at least 1 image a batch, 0 to
    ``defaults.MAX_NUM_WORKERS`` decoding processes."""
    from . import defaults

    return (whole(batch_size, "batch_size", min=1),
            whole(num_workers, "num_workers", min=0, max=defaults.MAX_NUM_WORKERS,
                  hint="each worker is a process holding a copy of the loader"))
