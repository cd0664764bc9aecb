"""DINOv2 and CLIP vision towers, run by timm on the official weights (``pip install msgan-eval[features]``).

timm's ``vit_*_patch14_dinov2`` and ``vit_*_clip_quickgelu_*`` are the official architectures
(LayerNorm eps, exact GELU / QuickGELU, LayerScale, qkv bias); what timm does differently is how
it *loads* a checkpoint, so the keys are mapped here instead of through its
``checkpoint_filter_fn``, which resamples DINOv2's position grid with an antialiased bicubic and
no offset (FD moves by 1e-2: ../docs/feature-spaces.md). The official resampling is done once,
at load time, in float32 exactly as ``DinoVisionTransformer.interpolate_pos_encoding``
(``dinov2/models/vision_transformer.py`` lines 180-212): bicubic, no antialiasing, with the
*scale factor* ``(16 + 0.1) / 37`` (the ``interpolate_offset`` kludge), not ``size=(16, 16)``.
The run-time call in the official forward computes the same tensor for every batch.

``tests/test_vit.py`` measures timm against the official forward passes on seeded random weights
(``tests/reference_dinov2.py``; torch-fidelity's copy of OpenAI's ``clip/model.py``).
"""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Dict

import torch
import torch.nn.functional as F

from msgan_eval.errors import UserError

from .networks import NETWORKS, FeatureNet

INTERPOLATE_OFFSET = 0.1     # dinov2 hub: interpolate_offset=0.1 (hub/backbones.py line 28)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)     # openai/CLIP clip/clip.py _transform
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def _timm():
    try:
        import timm
    except ImportError:
        raise UserError("DINOv2 and CLIP features need timm: pip install 'msgan-eval[features]' "
                        "(or pip install timm)") from None
    return timm


def dinov2_pos_embed(pos_embed: torch.Tensor, grid_in: int, grid_out: int) -> torch.Tensor:
    """The official run-time resampling of DINOv2's position embeddings to ``grid_out`` per side."""
    pos = pos_embed.float()
    cls_pos, patch_pos = pos[:, 0], pos[:, 1:]
    dim = pos.shape[-1]
    scale = float(grid_out + INTERPOLATE_OFFSET) / grid_in
    patch_pos = F.interpolate(patch_pos.reshape(1, grid_in, grid_in, dim).permute(0, 3, 1, 2),
                              mode="bicubic", antialias=False, scale_factor=(scale, scale))
    if tuple(patch_pos.shape[-2:]) != (grid_out, grid_out):
        raise ValueError(f"position grid resampled to {tuple(patch_pos.shape[-2:])}")
    patch_pos = patch_pos.permute(0, 2, 3, 1).reshape(1, -1, dim)
    return torch.cat((cls_pos.unsqueeze(0), patch_pos), dim=1)


def dinov2_to_timm(net: FeatureNet, state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """timm's names for a hub checkpoint: the same except the SwiGLU (w12/w3 -> fc1/fc2), the
    unused mask token dropped, the position grid resampled to the network's input."""
    out = {}
    for key, value in state.items():
        if key == "mask_token":
            continue
        key = key.replace(".mlp.w12.", ".mlp.fc1.").replace(".mlp.w3.", ".mlp.fc2.")
        out[key] = value
    out["pos_embed"] = dinov2_pos_embed(state["pos_embed"], net.grid, net.input_size // net.patch)
    return out


_CLIP_SWAPS = (("transformer.resblocks.", "blocks."), ("conv1.", "patch_embed.proj."),
               ("ln_pre.", "norm_pre."), ("ln_post.", "norm."), (".ln_1.", ".norm1."),
               (".ln_2.", ".norm2."), (".attn.in_proj_", ".attn.qkv."),
               (".attn.out_proj.", ".attn.proj."), (".mlp.c_fc.", ".mlp.fc1."),
               (".mlp.c_proj.", ".mlp.fc2."))


def clip_to_timm(state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """timm's names for OpenAI's ``visual.*`` keys (the text tower is left out). ``proj`` becomes
    the head's weight (transposed) with a zero bias: ``x @ proj`` as a Linear."""
    out = {}
    for key, value in state.items():
        if not key.startswith("visual."):
            continue
        key = key[len("visual."):]
        if key == "proj":
            out["head.weight"] = value.t().contiguous()
            out["head.bias"] = torch.zeros(value.shape[1])
            continue
        if key == "class_embedding":
            out["cls_token"] = value.reshape(1, 1, -1)
            continue
        if key == "positional_embedding":
            out["pos_embed"] = value.unsqueeze(0)
            continue
        for old, new in _CLIP_SWAPS:
            key = key.replace(old, new)
        out[key] = value
    return out


class VitFeatures(torch.nn.Module):
    """Preset pixels (N, 3, S, S) in, features (N, dims) out: the normalisation, then the tower."""

    def __init__(self, net: FeatureNet, model: torch.nn.Module, pixel_scale: float):
        super().__init__()
        mean, std = (IMAGENET_MEAN, IMAGENET_STD) if net.family == "dinov2" else (CLIP_MEAN, CLIP_STD)
        # Normalize((mean), (std)) on ToTensor's [0, 1] pixels; torch-fidelity normalises [0, 255]
        # pixels with 255 * mean and 255 * std (feature_extractor_dinov2.py, _clip.py).
        scale = 1.0 if pixel_scale != 1 else 255.0
        self.register_buffer("mean", torch.tensor([scale * m for m in mean]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([scale * s for s in std]).view(1, 3, 1, 1))
        self.net, self.model = net, model
        self.eval().requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model((x - self.mean) / self.std)


def build_tower(net: FeatureNet, state: Dict[str, torch.Tensor]) -> torch.nn.Module:
    """The timm tower of ``net`` holding ``state`` (official keys), in eval mode, float32."""
    timm = _timm()
    # Built on the meta device: no random initialisation of weights that are replaced at once
    # (seconds for ViT-L); load_state_dict(assign=True) then puts the file's tensors in place.
    with torch.device("meta"):
        if net.family == "dinov2":
            model = timm.create_model(net.timm_name, pretrained=False, img_size=net.input_size,
                                      num_classes=0)
        else:
            model = timm.create_model(net.timm_name, pretrained=False, num_classes=net.dims)
    mapped = dinov2_to_timm(net, state) if net.family == "dinov2" else clip_to_timm(state)
    mapped = {k: v.float().contiguous() for k, v in mapped.items()}
    model.load_state_dict(mapped, strict=True, assign=True)
    stray = [name for name, t in [*model.named_parameters(), *model.named_buffers()] if t.is_meta]
    if stray:
        raise ValueError(f"{net.name}: timm's tower has tensors no checkpoint key fills: {stray[:3]}")
    return model.float().eval().requires_grad_(False)


@functools.lru_cache(maxsize=1)
def _cached(name: str, path: str, sha256: str, device: str, pixel_scale: float) -> VitFeatures:
    from .checkpoints import read_weights_once

    net = NETWORKS[name]
    tower = build_tower(net, read_weights_once(Path(path)))   # the file validation just read
    return VitFeatures(net, tower, pixel_scale).to(device)


def load_vit_features(name: str, weights, device: torch.device, pixel_scale: float) -> VitFeatures:
    """The network for these weights, built once per process (keyed by the file's SHA-256)."""
    return _cached(name, str(weights.path), weights.sha256, str(device), float(pixel_scale))
