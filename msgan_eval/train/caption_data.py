"""Captioned images for the StackGAN trainer (text-to-image), as arrays in memory.

``fashion-mnist-captions`` (offline, deterministic): every Fashion-MNIST item of the split, tinted
with hue ``i % 6`` of the tints palette (item ``i`` in split order; ``unpaired_data.tint``), with
``CAPTIONS_PER_ITEM`` captions written from a small grammar: a colour word (or none), a noun for
its class, and a template. Caption ``k`` of item ``i`` is combination ``(i + 7k) mod n`` of the
item's (colour word, noun, template) choices in a fixed order, so the same item always gets the
same captions. One caption in four names no colour ("a sneaker"): for those the colour is free,
and the distinct hues among a caption's samples count the generator's diversity (a collapsed
generator shows one hue); for the others the colour is fixed, and the share of samples in the
named hue measures how well the text is followed.

Vocabulary (synonyms of one meaning share a line):

- colours: red/scarlet, yellow/golden, green/emerald, cyan/turquoise, blue/azure, magenta/pink
- nouns: t-shirt/tee, trousers/pants, pullover/sweater, dress/gown, coat/jacket, sandal/slipper,
  shirt/blouse, sneaker/trainer, bag/handbag, ankle boot/boot
- templates: "a {colour} {noun}", "{colour} {noun}", "a {noun} in {colour}", and without a
  colour "a {noun}", "{noun}"

The sampled conditions are the canonical captions (``canonical_captions``): "a {noun}" and
"a {colour} {noun}" with each meaning's first word, 10 + 60 of them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Tuple

import numpy as np

from msgan_eval.datasets import FASHION_MNIST_CLASSES

COLOUR_WORDS: Tuple[Tuple[str, ...], ...] = (
    ("red", "scarlet"), ("yellow", "golden"), ("green", "emerald"), ("cyan", "turquoise"),
    ("blue", "azure"), ("magenta", "pink"))
NOUNS: Tuple[Tuple[str, ...], ...] = (
    ("t-shirt", "tee"), ("trousers", "pants"), ("pullover", "sweater"), ("dress", "gown"),
    ("coat", "jacket"), ("sandal", "slipper"), ("shirt", "blouse"), ("sneaker", "trainer"),
    ("bag", "handbag"), ("ankle boot", "boot"))
COLOUR_TEMPLATES = ("a {colour} {noun}", "{colour} {noun}", "a {noun} in {colour}")
PLAIN_TEMPLATES = ("a {noun}", "{noun}")
CAPTIONS_PER_ITEM = 4
NO_COLOUR = -1


@dataclass(frozen=True)
class Caption:
    text: str
    noun: int                 # Fashion-MNIST class
    colour: int               # palette index, or NO_COLOUR


def _article(text: str) -> str:
    """"a ankle boot" -> "an ankle boot"."""
    return text.replace("a ankle", "an ankle")


def item_captions(i: int, label: int, hue: int, k_max: int = CAPTIONS_PER_ITEM) -> List[Caption]:
    """The ``k_max`` captions of item ``i`` (class ``label``, tinted ``hue``); every fourth
    (k = 3) names no colour."""
    out = []
    for k in range(k_max):
        j = i + 7 * k
        noun = NOUNS[label][j % len(NOUNS[label])]
        if k % 4 == 3:
            template = PLAIN_TEMPLATES[(j // 2) % len(PLAIN_TEMPLATES)]
            out.append(Caption(_article(template.format(noun=noun)), label, NO_COLOUR))
            continue
        colour = COLOUR_WORDS[hue][(j // 2) % 2]
        template = COLOUR_TEMPLATES[(j // 4) % len(COLOUR_TEMPLATES)]
        out.append(Caption(_article(template.format(colour=colour, noun=noun)), label, hue))
    return out


def canonical_captions() -> List[Caption]:
    """The sampled conditions: "a {noun}" for each class, then "a {colour} {noun}"."""
    plain = [Caption(_article(f"a {n[0]}"), c, NO_COLOUR) for c, n in enumerate(NOUNS)]
    coloured = [Caption(_article(f"a {col[0]} {n[0]}"), c, h)
                for c, n in enumerate(NOUNS) for h, col in enumerate(COLOUR_WORDS)]
    return plain + coloured


def vocabulary() -> Tuple[str, ...]:
    """Every word the grammar writes, sorted (the text encoder's vocabulary, after <unk>)."""
    words = {"a", "an", "in"}
    for group in COLOUR_WORDS + NOUNS:
        for w in group:
            words.update(w.split())
    return tuple(sorted(words))


def caption_names(captions: List[Caption]) -> Tuple[str, ...]:
    """Folder names of captions: the text with spaces as '-' ("a-red-sneaker")."""
    return tuple(c.text.replace(" ", "-") for c in captions)


def all_captions(labels: np.ndarray, hues: np.ndarray,
                 k_max: int = CAPTIONS_PER_ITEM) -> List[List[Caption]]:
    return [item_captions(i, int(c), int(h), k_max) for i, (c, h) in enumerate(zip(labels, hues))]


def describe(caption: Caption) -> Tuple[str, Optional[str]]:
    """(class name, colour name or None) of a caption."""
    from .unpaired_data import TINT_PALETTE

    return (FASHION_MNIST_CLASSES[caption.noun],
            None if caption.colour == NO_COLOUR else TINT_PALETTE[caption.colour][0])
