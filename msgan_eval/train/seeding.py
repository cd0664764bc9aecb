"""Random streams keyed by integers (seed, rank, step, class, ...), independent of each other."""
import numpy as np
import torch


def keyed_generator(*key: int) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded from ``numpy.random.SeedSequence(key)``.

    SeedSequence mixes the whole key, so (seed, 1) and (seed + 1, 0) give unrelated streams, which
    ``manual_seed(seed + k)`` would not promise.
    """
    state = int(np.random.SeedSequence(list(key)).generate_state(1, dtype=np.uint64)[0])
    return torch.Generator().manual_seed(state & ((1 << 63) - 1))
