"""What runs tell the user on stderr: progress bars (tqdm, hidden by ``--quiet``) and warnings."""
import sys
from typing import Iterable, Optional


def progress(iterable: Optional[Iterable] = None, *, total: Optional[int] = None, desc: str = "",
             quiet: bool = False, unit: str = "it"):
    from tqdm.auto import tqdm  # here, so modules that only warn stay cheap to import

    return tqdm(iterable, total=total, desc=desc, disable=quiet, file=sys.stderr, unit=unit,
                leave=False, dynamic_ncols=True)


def warn(message: str) -> None:
    """One warning line on stderr, in the form every command uses (``msgan-eval: warning: ...``)."""
    print(f"msgan-eval: warning: {message}", file=sys.stderr, flush=True)
