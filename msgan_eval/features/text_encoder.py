"""A small text encoder bundled with the package: caption -> the text embedding StackGAN is
conditioned on, for the offline ``fashion-mnist-captions`` task.

It stands where the StackGAN authors' char-CNN-RNN encoder stands for CUB (1024-dimensional
embeddings, ``TEXT.DIMENSION``): a bag of word embeddings (mean of 32-dimensional vectors) and
one linear layer to ``T_DIM`` (64) dimensions, trained by ``scripts/train_text_encoder.py``
(fixed seed, one thread, full batch) to tell every caption of the grammar its class and its
colour (or none) through two linear heads that are not shipped. Synonyms thus land close
together, and word order does not matter ("a red sneaker" = "a sneaker in red"). The file
(a few kB) ships as package data (``msgan_eval/data/``), hash-checked, read with
``torch.load(weights_only=True)``; its vocabulary travels in it, unknown words map to ``<unk>``.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import numpy as np
import torch
from torch import nn

from msgan_eval.errors import WeightsUnavailable

FILE_FORMAT = "msgan-eval/text-encoder/1"
T_DIM = 64
WORD_DIM = 32
UNKNOWN = "<unk>"
DATA_DIR = Path(__file__).resolve().parents[1] / "data"
# The shipped file and its SHA-256 (scripts/train_text_encoder.py prints both).
BUNDLED = {"fashion-mnist-captions": ("text-encoder-fashion-captions.pt",
                                      "804037af544d1aee164c82610e753fa065a20a5fa34ee85247f0573b4409657c")}


def tokenize(text: str) -> List[str]:
    """Lower-case words; a hyphenated word ("t-shirt") stays one token."""
    return re.findall(r"[a-z]+(?:-[a-z]+)*", text.lower())


class BagOfWords(nn.Module):
    """Mean of the word vectors, then one linear layer."""

    def __init__(self, vocab_size: int, word_dim: int = WORD_DIM, t_dim: int = T_DIM):
        super().__init__()
        self.embedding = nn.EmbeddingBag(vocab_size, word_dim, mode="mean")
        self.proj = nn.Linear(word_dim, t_dim)

    def forward(self, ids: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        return self.proj(self.embedding(ids, offsets))


@dataclass
class TextEncoder:
    """A loaded encoder; ``encode`` maps captions to float32 (N, T_DIM) embeddings."""

    net: BagOfWords
    vocab: Tuple[str, ...]          # index 0 is <unk>
    info: Dict[str, object] = field(default_factory=dict)

    def token_ids(self, texts: Sequence[str]) -> Tuple[torch.Tensor, torch.Tensor]:
        index = {w: i for i, w in enumerate(self.vocab)}
        ids, offsets = [], []
        for text in texts:
            offsets.append(len(ids))
            ids.extend(index.get(w, 0) for w in tokenize(text) or [UNKNOWN])
        return torch.tensor(ids, dtype=torch.int64), torch.tensor(offsets, dtype=torch.int64)

    @torch.no_grad()
    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Example: ``load_text_encoder().encode(["a red sneaker"]).shape == (1, 64)``."""
        ids, offsets = self.token_ids(texts)
        return self.net.eval()(ids, offsets).numpy().astype(np.float32)


def build_text_encoder(vocab: Sequence[str]) -> TextEncoder:
    """An untrained encoder over ``<unk>`` + ``vocab`` (the training script's starting point)."""
    words = (UNKNOWN, *vocab)
    return TextEncoder(BagOfWords(len(words)), words)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_text_encoder(path: "str | Path | None" = None) -> TextEncoder:
    """The bundled encoder (hash-checked), or a file written by the training script."""
    name, expected = BUNDLED["fashion-mnist-captions"]
    path, expected = (DATA_DIR / name, expected) if path is None else (Path(path), None)
    if not path.is_file():
        raise WeightsUnavailable(f"{path}: the text encoder is missing; reinstall msgan-eval or run "
                                 f"scripts/train_text_encoder.py --out {path}")
    digest = _sha256(path)
    if expected is not None and digest != expected:
        raise WeightsUnavailable(f"{path}: SHA-256 {digest[:12]}... is not the bundled file's "
                                 f"{expected[:12]}...; reinstall msgan-eval")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        assert isinstance(blob, dict) and blob.get("format") == FILE_FORMAT
        encoder = build_text_encoder(tuple(blob["vocab"])[1:])
        encoder.net.load_state_dict(blob["state_dict"])
    except Exception as exc:     # a damaged or foreign file
        raise WeightsUnavailable(f"{path}: not a msgan-eval text encoder file ({FILE_FORMAT}: "
                                 f"{type(exc).__name__}); run scripts/train_text_encoder.py") from None
    encoder.info = {"path": str(path), "sha256": digest, "accuracy": blob.get("accuracy"),
                    "status": "verified" if expected else "unverified"}
    return encoder
