"""Arrays to tensors without a copy, read-only arrays included (pure helper of the metrics)."""
from __future__ import annotations

import warnings
from typing import Optional

import numpy as np
import torch


def shared_tensor(a, dtype: Optional[torch.dtype] = None, device=None) -> torch.Tensor:
    """``torch.as_tensor(a)``, sharing memory where it can. The feature memo hands out read-only
    arrays (``evaluate.features``: shared between metrics, nobody may change them); torch then
    warns "The given NumPy array is not writable" on every call. The metrics never write into
    these tensors, so the warning says nothing here and is silenced for this call only; copying
    instead would double the memory of 50k x 2048 features."""
    if isinstance(a, torch.Tensor):
        return a.to(dtype=dtype or a.dtype, device=device)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        return torch.as_tensor(np.asarray(a), dtype=dtype, device=device)
