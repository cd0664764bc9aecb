"""Names read from files become path components only through :func:`path_component`.

Class names stored in a checkpoint, the ``labels`` of an ``.npz``, sub-folder names and the input
names of an image-to-image test split all end up as folder or file names under an output folder
(``OUT/<class name>/00000.png``). A name from a file someone else wrote could otherwise climb out
of that folder (``../../.bashrc``) or name an absolute path (``/etc``): ``Path(out) / "/etc"`` is
``/etc``. One check, used wherever such a name is joined to a path, makes that impossible.
"""
from __future__ import annotations

import os
import unicodedata
from pathlib import PurePosixPath, PureWindowsPath
from typing import Iterable, Optional, Tuple

from .errors import UserError

# Linux's NAME_MAX: longer names fail at the first write with ENAMETOOLONG.
MAX_NAME_BYTES = 255
_SEPARATORS = ("/", "\\")


def name_problem(name: object) -> Optional[str]:
    """Why ``name`` cannot be one path component under an output folder; None when it can."""
    if not isinstance(name, str):
        return f"it is a {type(name).__name__}, not text"
    if name == "":
        return "it is empty"
    if name in (".", ".."):
        return f"{name!r} names a folder itself, not a new one inside it"
    if any(sep in name for sep in _SEPARATORS):
        return "it holds a path separator"
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        return "it holds a control character"
    if PureWindowsPath(name).anchor or PurePosixPath(name).anchor or os.path.isabs(name):
        return "it is an absolute path"
    if len(os.fsencode(name)) > MAX_NAME_BYTES:
        return f"it is longer than {MAX_NAME_BYTES} bytes"
    return None


def path_component(name: object, source: "str | os.PathLike[str]", what: str = "class name",
                   allow_root: bool = False) -> str:
    """``name`` itself when it is safe as one folder or file name; else a UserError naming ``source``
    (the file or folder the name came from) and what is wrong. ``allow_root``: ``"."`` passes too,
    the images' own convention for "directly in the folder" (``images.ROOT_CONDITION``).

    Example::

        out / path_component(run["class_names"][0], "run/checkpoint.pt") / "00000.png"
    """
    problem = None if allow_root and name == "." else name_problem(name)
    if problem is not None:
        raise UserError(f"{os.fspath(source)}: {what} {name!r} cannot be used as a folder or file "
                        f"name ({problem}); rename it to a plain name without /, \\, .. or control "
                        "characters")
    return name  # type: ignore[return-value]


def path_components(names: Iterable[object], source: "str | os.PathLike[str]",
                    what: str = "class name", allow_root: bool = False) -> Tuple[str, ...]:
    """Every name checked by :func:`path_component`, and no name twice (two classes would be
    written into one folder)."""
    checked = tuple(path_component(n, source, what, allow_root) for n in names)
    seen = set()
    for name in checked:
        if name in seen:
            raise UserError(f"{os.fspath(source)}: {what} {name!r} appears twice; two classes "
                            "would be written into one folder")
        seen.add(name)
    return checked
