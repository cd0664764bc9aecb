"""Several optimisers checkpointed as one: the trainers with more than one discriminator (DRIT's
five, StackGAN's one per stage) keep ``Gan.opt_d`` (and DRIT ``Gan.opt_g``) as an OptimizerGroup."""
from __future__ import annotations

from typing import Dict

import torch


class OptimizerGroup:
    """Several optimisers saved and restored as one (DRIT's model.py:43-50 keeps eight)."""

    def __init__(self, optimizers: Dict[str, torch.optim.Optimizer]):
        self.optimizers = optimizers

    def __getitem__(self, name: str) -> torch.optim.Optimizer:
        return self.optimizers[name]

    def state_dict(self) -> dict:
        return {name: opt.state_dict() for name, opt in self.optimizers.items()}

    def load_state_dict(self, state: dict) -> None:
        if not isinstance(state, dict) or set(state) != set(self.optimizers):
            raise KeyError(f"expected the optimisers {sorted(self.optimizers)}")
        for name, opt in self.optimizers.items():
            opt.load_state_dict(state[name])
