"""Named evaluation protocols: ``msgan`` is what the MSGAN authors ran, so "MSGAN protocol" means
one thing. Our defaults stay the reference code's; a protocol is asked for by name.

``msgan`` (Mao et al. 2019, "Mode Seeking GANs"):
- NDB with per-dimension whitening on and K = 100 bins: the MSGAN author states in
  HelenMao/MSGAN issue #18 that their NDB numbers used whitening (the gans-n-gmms reference code's
  default is off).
- LPIPS diversity on 50 samples per condition and 50 random pairs of them, per the paper's
  appendix. A condition with more than 50 images is cut to a seeded random 50 (the seed is the
  run's seed; the indices are sorted, so the choice is reproducible and recorded).

A setting given explicitly that contradicts the protocol is refused with one line.
"""
from __future__ import annotations

import zlib
from typing import Dict, Mapping, Optional

import numpy as np

from msgan_eval.errors import ParameterError
from msgan_eval.images import ImageSet
from msgan_eval.metrics.lpips import name_bytes

PROTOCOLS = ("msgan",)
MSGAN_NDB = {"k": 100, "whiten": True}
MSGAN_LPIPS = {"pairs": "random", "num_pairs": 50, "samples": 50}
SOURCES = {"msgan": ["HelenMao/MSGAN issue #18 (NDB whitening on, K = 100)",
                     "Mao et al. 2019, appendix (LPIPS: 50 samples, 50 random pairs per condition)"]}


def check_protocol(protocol: Optional[str]) -> None:
    if protocol is not None and protocol not in PROTOCOLS:
        raise ParameterError(f"{{protocol}} {protocol}: use one of {', '.join(PROTOCOLS)}",
                             "protocol")


def settle(protocol: Optional[str], settings: Mapping[str, object],
           given: Mapping[str, object]) -> Dict[str, object]:
    """The protocol's ``settings`` (parameter -> value), refusing a ``given`` one that differs.

    ``given`` holds the parameters the caller set explicitly (None values count as not given).
    """
    check_protocol(protocol)
    for name, value in given.items():
        if value is not None and name in settings and value != settings[name]:
            raise ParameterError(f"{{protocol}} {protocol} sets {{{name}}} {settings[name]!r}; "
                                 f"{{{name}}} {value!r} contradicts it: drop one of the two",
                                 "protocol", name)
    return dict(settings)


def record(protocol: Optional[str], **settings) -> Optional[dict]:
    """What a report records: the protocol's name, what it set, and where that comes from."""
    if protocol is None:
        return None
    return {"name": protocol, "settings": settings, "sources": SOURCES[protocol]}


def lpips_samples(images: ImageSet, *, per_condition: int, seed: int) -> ImageSet:
    """At most ``per_condition`` images of each condition: a seeded random choice, sorted."""
    keep = []
    for cond, idx in images.groups().items():
        if len(idx) <= per_condition:
            keep.extend(idx)
            continue
        # keyed by the condition's name, like the LPIPS pairs; the extra 1 keeps it off their stream
        rng = np.random.default_rng([seed, zlib.crc32(name_bytes(cond)), 1])
        keep.extend(sorted(np.asarray(idx)[rng.choice(len(idx), per_condition, replace=False)].tolist()))
    return images.subset(sorted(keep))
