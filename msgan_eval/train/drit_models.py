"""DRIT's networks, ``--concat 1`` (the official default, used for Yosemite), transcribed from
HelenMao/MSGAN ``DRIT-Mode-Seeking/networks.py`` (byte-identical to HsinYingLee/DRIT
``src/networks.py``); line numbers below are that file's.

Module and parameter names are the official ones, so at ``width=1`` a state dict loads into the
official classes unchanged. Scaled to small images:
- ``width`` multiplies every channel count (1.0 = the official 64 / 256);
- the multi-scale domain discriminators have ``min(4, log2(size) - 2)`` layers (the official 4 on
  216-pixel crops; 3 at 32 pixels, where a fourth stride-2 layer on the third scale's 8x8 input
  would have nothing left to pad);
- the content discriminator keeps the official 7x7 kernels when the content map is at least 54
  pixels wide (216-pixel crops: 54); below that, three 3x3 stride-2 layers and a last layer whose
  kernel covers what is left (1x1 at 32 pixels), so it still sees the whole map.
"""
from __future__ import annotations

from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

NZ = 8                    # model.py:12 ``self.nz = 8``: the attribute code's size
OFFICIAL_CONTENT = 54     # the content map of the official 216-pixel crops (216 / 4)


def channels(n: int, width: float) -> int:
    """``n`` official channels at ``width``, at least 1."""
    return max(1, int(round(n * width)))


def image_levels(image_size: int) -> int:
    levels = int(image_size).bit_length() - 1
    if image_size < 32 or 2 ** levels != image_size:
        raise ValueError(f"image size {image_size}: DRIT needs a power of two >= 32")
    return levels


def gaussian_weights_init(m: nn.Module) -> None:
    """networks.py:454-457: every Conv*/ConvTranspose* weight ~ N(0, 0.02); biases and Linear
    layers keep PyTorch's defaults."""
    if type(m).__name__.startswith("Conv"):
        m.weight.data.normal_(0.0, 0.02)


class LeakyReLUConv2d(nn.Module):
    """networks.py:498-514. Its ``if 'norm' == 'Instance'`` compares two string literals, so the
    official layer never normalises, whatever ``norm`` says: transcribed as such."""

    def __init__(self, n_in: int, n_out: int, kernel_size: int, stride: int, padding: int = 0):
        super().__init__()
        self.model = nn.Sequential(
            nn.ReflectionPad2d(padding),
            nn.Conv2d(n_in, n_out, kernel_size=kernel_size, stride=stride, padding=0, bias=True),
            nn.LeakyReLU(inplace=True))     # default slope 0.01

    def forward(self, x):
        return self.model(x)


class ReLUINSConv2d(nn.Module):
    """networks.py:516-527."""

    def __init__(self, n_in: int, n_out: int, kernel_size: int, stride: int, padding: int = 0):
        super().__init__()
        self.model = nn.Sequential(
            nn.ReflectionPad2d(padding),
            nn.Conv2d(n_in, n_out, kernel_size=kernel_size, stride=stride, padding=0, bias=True),
            nn.InstanceNorm2d(n_out, affine=False), nn.ReLU(inplace=True))

    def forward(self, x):
        return self.model(x)


class INSResBlock(nn.Module):
    """networks.py:529-548: two reflection-padded 3x3 convolutions with instance norm, plus x."""

    def __init__(self, inplanes: int, planes: int):
        super().__init__()
        self.model = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(inplanes, planes, kernel_size=3, stride=1),
            nn.InstanceNorm2d(planes), nn.ReLU(inplace=True),
            nn.ReflectionPad2d(1), nn.Conv2d(planes, planes, kernel_size=3, stride=1),
            nn.InstanceNorm2d(planes))

    def forward(self, x):
        return self.model(x) + x


class LayerNorm(nn.Module):
    """networks.py:464-478 (from MUNIT): normalise over (C, H, W), one scale and shift per channel."""

    def __init__(self, n_out: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n_out, 1, 1))
        self.bias = nn.Parameter(torch.zeros(n_out, 1, 1))

    def forward(self, x):
        shape = x.size()[1:]
        return F.layer_norm(x, shape, self.weight.expand(shape), self.bias.expand(shape))


class ReLUINSConvTranspose2d(nn.Module):
    """networks.py:601-611 (layer norm, despite the name)."""

    def __init__(self, n_in: int, n_out: int):
        super().__init__()
        self.model = nn.Sequential(
            nn.ConvTranspose2d(n_in, n_out, kernel_size=3, stride=2, padding=1, output_padding=1,
                               bias=True),
            LayerNorm(n_out), nn.ReLU(inplace=True))

    def forward(self, x):
        return self.model(x)


def _conv3x3(n_in: int, n_out: int) -> List[nn.Module]:
    return [nn.ReflectionPad2d(1), nn.Conv2d(n_in, n_out, kernel_size=3, stride=1, padding=0)]


class BasicBlock(nn.Module):
    """networks.py:480-496 with ``norm_layer=None`` and LeakyReLU(0.2) (model.py:31-32)."""

    def __init__(self, inplanes: int, outplanes: int):
        super().__init__()
        self.conv = nn.Sequential(
            nn.LeakyReLU(0.2), *_conv3x3(inplanes, inplanes), nn.LeakyReLU(0.2),
            nn.Sequential(*_conv3x3(inplanes, outplanes), nn.AvgPool2d(2, 2)))   # convMeanpool
        self.shortcut = nn.Sequential(nn.AvgPool2d(2, 2),                      # meanpoolConv
                                      nn.Conv2d(inplanes, outplanes, 1, 1, 0))

    def forward(self, x):
        return self.conv(x) + self.shortcut(x)


# --- encoders ----------------------------------------------------------------------------------

def _content_branch(input_dim: int, ch: int) -> nn.Sequential:
    layers: List[nn.Module] = [LeakyReLUConv2d(input_dim, ch, kernel_size=7, stride=1, padding=3)]
    for _ in range(2):
        layers.append(ReLUINSConv2d(ch, ch * 2, kernel_size=3, stride=2, padding=1))
        ch *= 2
    return nn.Sequential(*layers, *(INSResBlock(ch, ch) for _ in range(3)))


class EContent(nn.Module):
    """``E_content`` (networks.py:93-138): a branch per domain down to size / 4 with 4 * 64
    channels, then a shared residual block and, while training, unit Gaussian noise
    (``GaussianNoiseLayer``, networks.py:592-599), drawn here from ``generator``."""

    def __init__(self, input_dim_a: int, input_dim_b: int, width: float = 1.0):
        super().__init__()
        ch = channels(64, width)
        self.out_channels = ch * 4
        self.convA = _content_branch(input_dim_a, ch)
        self.convB = _content_branch(input_dim_b, ch)
        self.conv_share = nn.Sequential(INSResBlock(ch * 4, ch * 4))

    def _share(self, x, generator: Optional[torch.Generator]):
        out = self.conv_share(x)
        if not self.training:
            return out
        return out + torch.randn(out.size(), generator=generator, device="cpu").to(out.device)

    def forward(self, xa, xb, generator: Optional[torch.Generator] = None):
        a, b = self.convA(xa), self.convB(xb)     # both branches before the noise, as :123-128
        return self._share(a, generator), self._share(b, generator)

    def forward_a(self, xa, generator: Optional[torch.Generator] = None):
        return self._share(self.convA(xa), generator)

    def forward_b(self, xb, generator: Optional[torch.Generator] = None):
        return self._share(self.convB(xb), generator)


def _attr_branch(input_dim: int, ndf: int) -> nn.Sequential:
    layers: List[nn.Module] = [nn.ReflectionPad2d(1),
                               nn.Conv2d(input_dim, ndf, kernel_size=4, stride=2, padding=0)]
    for n in range(1, 4):                       # n_blocks = 4, max_ndf = 4 (networks.py:204-212)
        layers.append(BasicBlock(ndf * min(4, n), ndf * min(4, n + 1)))
    return nn.Sequential(*layers, nn.LeakyReLU(0.2), nn.AdaptiveAvgPool2d(1))


class EAttrConcat(nn.Module):
    """``E_attr_concat`` (networks.py:199-252): per domain, the mean and log-variance of the
    attribute code."""

    def __init__(self, input_dim_a: int, input_dim_b: int, output_nc: int = NZ, width: float = 1.0):
        super().__init__()
        ndf = channels(64, width)
        self.conv_A = _attr_branch(input_dim_a, ndf)
        self.fc_A = nn.Sequential(nn.Linear(ndf * 4, output_nc))
        self.fcVar_A = nn.Sequential(nn.Linear(ndf * 4, output_nc))
        self.conv_B = _attr_branch(input_dim_b, ndf)
        self.fc_B = nn.Sequential(nn.Linear(ndf * 4, output_nc))
        self.fcVar_B = nn.Sequential(nn.Linear(ndf * 4, output_nc))

    def forward_a(self, xa) -> Tuple[torch.Tensor, torch.Tensor]:
        flat = self.conv_A(xa).view(xa.size(0), -1)
        return self.fc_A(flat), self.fcVar_A(flat)

    def forward_b(self, xb) -> Tuple[torch.Tensor, torch.Tensor]:
        flat = self.conv_B(xb).view(xb.size(0), -1)
        return self.fc_B(flat), self.fcVar_B(flat)

    def forward(self, xa, xb):
        return (*self.forward_a(xa), *self.forward_b(xb))


# --- generator ---------------------------------------------------------------------------------

def _decoder_stages(tch: int, nz: int, output_dim: int) -> List[nn.Sequential]:
    """One domain's four stages of ``G_concat`` (networks.py:337-352); each takes the attribute
    code concatenated to its input."""
    tch += nz
    stage1 = nn.Sequential(*(INSResBlock(tch, tch) for _ in range(3)))
    tch += nz
    stage2 = nn.Sequential(ReLUINSConvTranspose2d(tch, tch // 2))
    tch = tch // 2 + nz
    stage3 = nn.Sequential(ReLUINSConvTranspose2d(tch, tch // 2))
    tch = tch // 2 + nz
    stage4 = nn.Sequential(nn.ConvTranspose2d(tch, output_dim, kernel_size=1, stride=1, padding=0),
                           nn.Tanh())
    return [stage1, stage2, stage3, stage4]


class GConcat(nn.Module):
    """``G_concat`` (networks.py:329-401): a shared residual block, then the domain's four
    stages, the attribute code broadcast over the map and concatenated before each."""

    def __init__(self, output_dim_a: int, output_dim_b: int, nz: int = NZ, width: float = 1.0):
        super().__init__()
        self.nz = nz
        tch = 4 * channels(64, width)      # the content code's channels (256 at width 1)
        self.dec_share = nn.Sequential(INSResBlock(tch, tch))
        self.decA1, self.decA2, self.decA3, self.decA4 = _decoder_stages(tch, nz, output_dim_a)
        self.decB1, self.decB2, self.decB3, self.decB4 = _decoder_stages(tch, nz, output_dim_b)

    @staticmethod
    def _decode(x, z, stages) -> torch.Tensor:
        for stage in stages:
            z_img = z.view(z.size(0), z.size(1), 1, 1).expand(z.size(0), z.size(1), x.size(2),
                                                               x.size(3))
            x = stage(torch.cat([x, z_img], 1))
        return x

    def forward_a(self, x, z):
        return self._decode(self.dec_share(x), z, (self.decA1, self.decA2, self.decA3, self.decA4))

    def forward_b(self, x, z):
        return self._decode(self.dec_share(x), z, (self.decB1, self.decB2, self.decB3, self.decB4))


# --- discriminators ----------------------------------------------------------------------------

def dis_layers(image_size: int) -> int:
    """Layers of each scale of the domain discriminators (official: 4, on 216-pixel crops)."""
    return min(4, image_levels(image_size) - 2)


class MultiScaleDis(nn.Module):
    """networks.py:29-56 (``--dis_scale 3``, ``--dis_norm None``, no spectral norm): one PatchGAN
    per scale, each scale average-pooled by 2 from the previous one; returns the score maps."""

    def __init__(self, input_dim: int, n_layer: int, n_scale: int = 3, width: float = 1.0):
        super().__init__()
        ch = channels(64, width)
        self.downsample = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)
        self.Diss = nn.ModuleList(self._make_net(ch, input_dim, n_layer) for _ in range(n_scale))

    @staticmethod
    def _make_net(ch: int, input_dim: int, n_layer: int) -> nn.Sequential:
        layers: List[nn.Module] = [LeakyReLUConv2d(input_dim, ch, 4, 2, 1)]
        for _ in range(1, n_layer):
            layers.append(LeakyReLUConv2d(ch, ch * 2, 4, 2, 1))
            ch *= 2
        return nn.Sequential(*layers, nn.Conv2d(ch, 1, 1, 1, 0))

    def forward(self, x) -> List[torch.Tensor]:
        outs = []
        for dis in self.Diss:
            outs.append(dis(x))
            x = self.downsample(x)
        return outs


def content_dis_kernels(size: int) -> Tuple[int, int, int]:
    """(kernel, padding, last kernel) of the content discriminator for a ``size``-wide content
    map: the official (7, 1, 4) from 54 up; else 3x3 layers and a last kernel covering the rest."""
    if size >= OFFICIAL_CONTENT:
        return 7, 1, 4
    left = size
    for _ in range(3):
        left = (left + 1) // 2
    return 3, 1, left


class DisContent(nn.Module):
    """``Dis_content`` (networks.py:11-27): is a content code from domain A or B? Flattened scores,
    in a one-element list as the official returns them."""

    def __init__(self, content_channels: int, content_size: int):
        super().__init__()
        k, p, last = content_dis_kernels(content_size)
        c = content_channels
        self.model = nn.Sequential(
            *(LeakyReLUConv2d(c, c, kernel_size=k, stride=2, padding=p) for _ in range(3)),
            LeakyReLUConv2d(c, c, kernel_size=last, stride=1, padding=0),
            nn.Conv2d(c, 1, kernel_size=1, stride=1, padding=0))

    def forward(self, x) -> List[torch.Tensor]:
        return [self.model(x).view(-1)]
