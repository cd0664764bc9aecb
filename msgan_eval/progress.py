"""Progress bars: tqdm on stderr, hidden by ``--quiet``."""
import sys
from typing import Iterable, Optional

from tqdm.auto import tqdm


def progress(iterable: Optional[Iterable] = None, *, total: Optional[int] = None, desc: str = "",
             quiet: bool = False, unit: str = "it"):
    return tqdm(iterable, total=total, desc=desc, disable=quiet, file=sys.stderr, unit=unit,
                leave=False, dynamic_ncols=True)
