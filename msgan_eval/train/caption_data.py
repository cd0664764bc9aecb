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

import re
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


def article(text: str) -> str:
    """"a ankle boot" -> "an ankle boot" (the word "a" only: "a magenta ankle boot" stays)."""
    return re.sub(r"\ba ankle\b", "an ankle", text)


def item_captions(i: int, label: int, hue: int, k_max: int = CAPTIONS_PER_ITEM) -> List[Caption]:
    """The ``k_max`` captions of item ``i`` (class ``label``, tinted ``hue``); every fourth
    (k = 3) names no colour."""
    out = []
    for k in range(k_max):
        j = i + 7 * k
        noun = NOUNS[label][j % len(NOUNS[label])]
        if k % 4 == 3:
            template = PLAIN_TEMPLATES[(j // 2) % len(PLAIN_TEMPLATES)]
            out.append(Caption(article(template.format(noun=noun)), label, NO_COLOUR))
            continue
        colour = COLOUR_WORDS[hue][(j // 2) % 2]
        template = COLOUR_TEMPLATES[(j // 4) % len(COLOUR_TEMPLATES)]
        out.append(Caption(article(template.format(colour=colour, noun=noun)), label, hue))
    return out


def canonical_captions() -> List[Caption]:
    """The sampled conditions: "a {noun}" for each class, then "a {colour} {noun}"."""
    plain = [Caption(article(f"a {n[0]}"), c, NO_COLOUR) for c, n in enumerate(NOUNS)]
    coloured = [Caption(article(f"a {col[0]} {n[0]}"), c, h)
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


def describe(caption: Caption) -> Tuple[str, Optional[str]]:
    """(class name, colour name or None) of a caption."""
    from .unpaired_data import TINT_PALETTE

    return (FASHION_MNIST_CLASSES[caption.noun],
            None if caption.colour == NO_COLOUR else TINT_PALETTE[caption.colour][0])


# --- the data the trainer reads -----------------------------------------------------------------

@dataclass
class CaptionedData:
    """Images with caption embeddings; ``stages[i]`` holds the images at stage ``i``'s size."""

    stages: List[np.ndarray]          # uint8 (N, 3, s_i, s_i), smallest first
    embeddings: np.ndarray            # float32 (M, T): every distinct caption's embedding
    caption_ids: np.ndarray           # int (N, K): rows of ``embeddings``, K captions per image
    class_ids: np.ndarray             # (N,) images of one id never serve as each other's "wrong"
    labels: Optional[np.ndarray] = None   # Fashion-MNIST classes (balanced subsets)

    def __len__(self) -> int:
        return len(self.class_ids)

    @property
    def image_size(self) -> int:
        return int(self.stages[-1].shape[-1])

    def subset(self, idx: np.ndarray) -> "CaptionedData":
        return CaptionedData([s[idx] for s in self.stages], self.embeddings, self.caption_ids[idx],
                             self.class_ids[idx], None if self.labels is None else self.labels[idx])

    def batch(self, idx: np.ndarray, rng: np.random.Generator):
        """(real images per stage, wrong images per stage, one embedding per image): the wrong
        image is drawn at random and drawn once more if it shares the image's id; the embedding is
        one of the image's captions at random (StackGAN's datasets.py:299-321)."""
        n = len(self)
        wrong = rng.integers(0, n, size=len(idx))
        again = self.class_ids[wrong] == self.class_ids[idx]
        wrong[again] = rng.integers(0, n, size=int(again.sum()))
        which = rng.integers(0, self.caption_ids.shape[1], size=len(idx))
        return ([s[idx] for s in self.stages], [s[wrong] for s in self.stages],
                self.embeddings[self.caption_ids[idx, which]])


def stage_images(images: np.ndarray, sizes: Tuple[int, ...]) -> List[np.ndarray]:
    """uint8 (N, 3, S, S) -> one array per stage size: the last is the images themselves, the
    others PIL bilinear resizes (``transforms.Resize``, datasets.py:57-63)."""
    from PIL import Image

    out = []
    for size in sizes:
        if size == images.shape[-1]:
            out.append(images)
            continue
        resized = [np.asarray(Image.fromarray(img.transpose(1, 2, 0)).resize((size, size),
                                                                            Image.BILINEAR))
                   for img in images]
        out.append(np.ascontiguousarray(np.stack(resized).transpose(0, 3, 1, 2)))
    return out


def fashion_mnist_captions(images: np.ndarray, labels: np.ndarray, sizes: Tuple[int, ...],
                           encoder, index: Optional[np.ndarray] = None) -> CaptionedData:
    """Items tinted ``i % 6`` with ``CAPTIONS_PER_ITEM`` captions each, embedded by ``encoder``;
    ``index`` holds each item's position in its split (default: 0, 1, ...), which fixes its hue
    and captions, so a subset gets the same ones as the whole split."""
    from .data import to_training_layout
    from .unpaired_data import tint

    labels = np.asarray(labels, dtype=np.int64)
    index = np.arange(len(labels)) if index is None else np.asarray(index)
    hues = index % len(COLOUR_WORDS)
    captions = [item_captions(int(i), int(c), int(h)) for i, c, h in zip(index, labels, hues)]
    distinct = sorted({c.text for caps in captions for c in caps})
    row = {text: i for i, text in enumerate(distinct)}
    ids = np.array([[row[c.text] for c in caps] for caps in captions], dtype=np.int64)
    tinted = to_training_layout(tint(images, hues))
    return CaptionedData(stage_images(tinted, sizes), encoder.encode(distinct), ids,
                         labels * len(COLOUR_WORDS) + hues, labels)
