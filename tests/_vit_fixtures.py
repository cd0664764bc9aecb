"""Seeded random DINOv2 / CLIP weights in the official file layouts, and the official forward passes
on them, for the parity tests (no pretrained weights exist offline).

- DINOv2: ``torch.save`` of a hub-layout state dict (``dinov2_vits14_pretrain.pth``), the model of
  ``tests/reference_dinov2.py`` (a transcription of facebookresearch/dinov2).
- CLIP: OpenAI's ``model.state_dict()`` key names, with the tensors ``convert_weights`` stores in
  float16 (``clip/model.py`` lines 375-396: Conv/Linear/MultiheadAttention weights, ``proj``) in
  float16, as the released archives hold them; saved either as a plain state dict or as a
  TorchScript archive like OpenAI's ``ViT-B-32.pt`` (``torch.jit.trace`` + ``torch.jit.save`` of a
  module tree with OpenAI's attribute names). The reference forward is torch-fidelity 0.4's copy
  of OpenAI's ``clip/model.py`` (``feature_extractor_clip.build_model``; MIT licence, its header
  cites openai/CLIP d50d76d), which ``clip.load`` runs as ``build_model(state_dict).float()``.
"""
from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import torch
from reference_dinov2 import dinov2_hub_model, seeded_hub_checkpoint

from msgan_eval.features.networks import NETWORKS, expected_shapes

DINOV2_ARCH = {"dinov2-vit-s14": "vits14", "dinov2-vit-b14": "vitb14", "dinov2-vit-l14": "vitl14",
               "dinov2-vit-g14": "vitg14"}


def write_dinov2(path: Path, name: str = "dinov2-vit-s14", seed: int = 0) -> dict:
    state = seeded_hub_checkpoint(DINOV2_ARCH[name], seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return state


def dinov2_reference(state: dict, name: str = "dinov2-vit-s14"):
    model = dinov2_hub_model(DINOV2_ARCH[name])
    model.load_state_dict(state)
    return model


def _half(key: str) -> bool:
    """The tensors OpenAI's convert_weights turns to float16 (visual tower)."""
    return (key.endswith("conv1.weight") or key == "visual.proj"
            or (".attn." in key) or (".mlp.c_" in key))


def clip_state(name: str = "clip-vit-b32", seed: int = 0) -> dict:
    """OpenAI-layout CLIP weights: the visual tower seeded at trained-like scales, and the text
    keys ``build_model`` reads (``text_projection``) or deletes."""
    net = NETWORKS[name]
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in expected_shapes(net).items():
        if key.endswith(("ln_1.weight", "ln_2.weight", "ln_pre.weight", "ln_post.weight")):
            value = 1.0 + 0.1 * torch.randn(shape, generator=gen)
        elif len(shape) >= 2:
            value = torch.randn(shape, generator=gen) / math.sqrt(shape[-1] if key != "visual.proj"
                                                                  else shape[0])
        else:
            value = 0.05 * torch.randn(shape, generator=gen)
        state[key] = value.half() if _half(key) else value
    state["text_projection"] = (0.05 * torch.randn(32, net.dims, generator=gen)).half()
    state["logit_scale"] = torch.tensor(4.6052)
    return state


def clip_reference(state: dict):
    """torch-fidelity's ``build_model`` (OpenAI's model.py) on these weights, float32, eval."""
    from torch_fidelity.feature_extractor_clip import build_model

    return build_model({k: v.clone() for k, v in state.items()}, torch.float32).visual.eval()


class _OpenAIClip(torch.nn.Module):
    """A module tree with OpenAI's attribute names (``visual``, ``text_projection``, ...)."""

    def __init__(self, state: dict):
        super().__init__()
        self.visual = clip_reference(state)
        self.text_projection = torch.nn.Parameter(state["text_projection"].clone())
        self.logit_scale = torch.nn.Parameter(state["logit_scale"].clone())

    def forward(self, x):
        return x * 1.0


def write_clip_archive(path: Path, state: dict) -> None:
    """A TorchScript archive like OpenAI's release (``<name>/data.pkl``, ``code/``, ``data/N``),
    float16 where the release is. The archive keeps every parameter of the tree, whatever the
    traced forward touches."""
    module = _OpenAIClip(state).eval().requires_grad_(False)
    for key, param in module.named_parameters():
        if state[key].dtype == torch.float16:
            param.data = param.data.half()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(module, torch.zeros(1), check_trace=False)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.jit.save(traced, str(path))


def images(n: int, size=(40, 40), seed: int = 0, mode: str = "RGB") -> np.ndarray:
    """Smooth random uint8 images (a resize of them is not all rounding noise)."""
    rng = np.random.default_rng(seed)
    h, w = size
    base = rng.integers(0, 256, size=(n, (h + 3) // 4, (w + 3) // 4, 3)).astype(np.float32)
    big = np.repeat(np.repeat(base, 4, axis=1), 4, axis=2)[:, :h, :w]
    noise = rng.normal(0, 12, size=big.shape)
    return np.clip(big + noise, 0, 255).astype(np.uint8)
