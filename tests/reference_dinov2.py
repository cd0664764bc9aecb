"""A written-out transcription of the official DINOv2 backbone, for parity tests and benchmarks only.

Source: facebookresearch/dinov2 at commit b8931f7bf91576930313be2c6d6af376033b35f0 (Apache License
2.0, Copyright (c) Meta Platforms, Inc. and affiliates), the code ``torch.hub.load(
"facebookresearch/dinov2", "dinov2_vits14")`` runs (dgm-eval's ``DINOv2Encoder`` calls it):

- ``dinov2/hub/backbones.py`` ``_make_dinov2_model`` (lines 19-60): ``img_size=518``,
  ``patch_size=14``, ``init_values=1.0``, ``ffn_layer="mlp"`` (g/14: ``"swiglufused"``),
  ``block_chunks=0``, ``interpolate_antialias=False``, ``interpolate_offset=0.1``;
- ``dinov2/models/vision_transformer.py`` ``DinoVisionTransformer.__init__`` (norm eps 1e-6),
  ``interpolate_pos_encoding`` (lines 180-212), ``prepare_tokens_with_masks``,
  ``forward_features`` / ``forward`` (``x_norm_clstoken``);
- ``dinov2/layers/``: ``patch_embed.py`` ``PatchEmbed``, ``attention.py`` ``Attention.forward``
  (``scaled_dot_product_attention``; ``MemEffAttention`` falls back to it without xFormers),
  ``block.py`` ``Block.forward`` (eval branch), ``layer_scale.py``, ``mlp.py``, ``swiglu_ffn.py``
  ``SwiGLUFFN`` / ``SwiGLUFFNFused`` hidden size.

Transcribed for inference only: dropout, drop-path, masks, register tokens, chunked blocks and
weight initialisation are left out (all inactive in the hub backbones at eval). Module and
parameter names are the official ones, so ``state_dict()`` is the hub checkpoint's layout.
"""
import math

import torch
import torch.nn.functional as F
from torch import nn


class PatchEmbed(nn.Module):
    def __init__(self, patch_size, embed_dim):
        super().__init__()
        self.patch_size = (patch_size, patch_size)
        self.proj = nn.Conv2d(3, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x):
        x = self.proj(x)
        return x.flatten(2).transpose(1, 2)


class Attention(nn.Module):
    def __init__(self, dim, num_heads):
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, dim * 3, bias=True)
        self.proj = nn.Linear(dim, dim, bias=True)

    def forward(self, x):
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, C // self.num_heads)
        q, k, v = torch.unbind(qkv, 2)
        q, k, v = [t.transpose(1, 2) for t in [q, k, v]]
        x = F.scaled_dot_product_attention(q, k, v, attn_mask=None, dropout_p=0, is_causal=False)
        x = x.transpose(1, 2).contiguous().view(B, N, C)
        return self.proj(x)


class LayerScale(nn.Module):
    def __init__(self, dim, init_values=1.0):
        super().__init__()
        self.gamma = nn.Parameter(init_values * torch.ones(dim))

    def forward(self, x):
        return x * self.gamma


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class SwiGLUFFNFused(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        hidden = (int(hidden * 2 / 3) + 7) // 8 * 8
        self.w12 = nn.Linear(dim, 2 * hidden)
        self.w3 = nn.Linear(hidden, dim)

    def forward(self, x):
        x1, x2 = self.w12(x).chunk(2, dim=-1)
        return self.w3(F.silu(x1) * x2)


class Block(nn.Module):
    def __init__(self, dim, num_heads, swiglu=False):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, num_heads)
        self.ls1 = LayerScale(dim)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = (SwiGLUFFNFused if swiglu else Mlp)(dim, int(dim * 4.0))
        self.ls2 = LayerScale(dim)

    def forward(self, x):
        x = x + self.ls1(self.attn(self.norm1(x)))
        x = x + self.ls2(self.mlp(self.norm2(x)))
        return x


class DinoVisionTransformer(nn.Module):
    def __init__(self, embed_dim, depth, num_heads, img_size=518, patch_size=14, swiglu=False,
                 interpolate_offset=0.1, interpolate_antialias=False):
        super().__init__()
        self.patch_size = patch_size
        self.interpolate_offset = interpolate_offset
        self.interpolate_antialias = interpolate_antialias
        self.patch_embed = PatchEmbed(patch_size, embed_dim)
        num_patches = (img_size // patch_size) ** 2
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, num_patches + 1, embed_dim))
        self.blocks = nn.ModuleList([Block(embed_dim, num_heads, swiglu) for _ in range(depth)])
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6)
        self.mask_token = nn.Parameter(torch.zeros(1, embed_dim))

    def interpolate_pos_encoding(self, x, w, h):
        previous_dtype = x.dtype
        npatch = x.shape[1] - 1
        N = self.pos_embed.shape[1] - 1
        if npatch == N and w == h:
            return self.pos_embed
        pos_embed = self.pos_embed.float()
        class_pos_embed = pos_embed[:, 0]
        patch_pos_embed = pos_embed[:, 1:]
        dim = x.shape[-1]
        w0 = w // self.patch_size
        h0 = h // self.patch_size
        M = int(math.sqrt(N))
        assert N == M * M
        kwargs = {}
        if self.interpolate_offset:
            sx = float(w0 + self.interpolate_offset) / M
            sy = float(h0 + self.interpolate_offset) / M
            kwargs["scale_factor"] = (sx, sy)
        else:
            kwargs["size"] = (w0, h0)
        patch_pos_embed = F.interpolate(
            patch_pos_embed.reshape(1, M, M, dim).permute(0, 3, 1, 2),
            mode="bicubic", antialias=self.interpolate_antialias, **kwargs)
        assert (w0, h0) == patch_pos_embed.shape[-2:]
        patch_pos_embed = patch_pos_embed.permute(0, 2, 3, 1).view(1, -1, dim)
        return torch.cat((class_pos_embed.unsqueeze(0), patch_pos_embed), dim=1).to(previous_dtype)

    def prepare_tokens(self, x):
        B, nc, w, h = x.shape
        x = self.patch_embed(x)
        x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1)
        return x + self.interpolate_pos_encoding(x, w, h)

    def forward(self, x):
        x = self.prepare_tokens(x)
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x)[:, 0]           # forward_features' x_norm_clstoken; head = Identity


ARCHS = {"vits14": (384, 12, 6, False), "vitb14": (768, 12, 12, False),
         "vitl14": (1024, 24, 16, False), "vitg14": (1536, 40, 24, True)}


def dinov2_hub_model(arch="vits14"):
    """``dinov2_<arch>(pretrained=False)`` of the hub, in eval mode."""
    dim, depth, heads, swiglu = ARCHS[arch]
    return DinoVisionTransformer(dim, depth, heads, swiglu=swiglu).eval()


def seeded_hub_checkpoint(arch="vits14", seed=0):
    """A state dict in the hub checkpoint's layout, seeded random values of trained-like scales
    (LayerScale gammas ~0.1, position embeddings ~0.02), so every path of the forward matters."""
    gen = torch.Generator().manual_seed(seed)
    model = dinov2_hub_model(arch)
    state = {}
    for key, value in model.state_dict().items():
        scale = 0.1 if key.endswith("gamma") else 0.02 if "pos_embed" in key or "token" in key else \
            (1.0 / math.sqrt(value.shape[-1]) if value.ndim >= 2 else 0.02)
        noise = torch.randn(value.shape, generator=gen, dtype=torch.float32) * scale
        state[key] = noise + (1.0 if key.endswith(".weight") and value.ndim == 1 else 0.0)
    return state
