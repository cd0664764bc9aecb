"""Reading a torchvision-style state dict file: no pickled code runs, large files memory-mapped."""
from __future__ import annotations

from pathlib import Path

import torch


def read_state_dict(path: Path) -> dict:
    """The state dict in ``path`` (``weights_only``, memory-mapped when the format allows), or a
    ValueError saying why the file is not one (the validators' one-line reason)."""
    try:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError:  # legacy (non-zip) serialisation cannot be memory-mapped
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(f"not a loadable torch state dict ({type(exc).__name__})") from None
    if not isinstance(state, dict):
        raise ValueError(f"holds a {type(state).__name__}, not a state dict")
    return state
