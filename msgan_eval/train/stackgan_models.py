"""StackGAN++'s networks for text-to-image (``GAN.B_CONDITION: True``), transcribed from
HelenMao/MSGAN ``StackGAN++-Mode-Seeking/model.py`` (the same networks as hanzhanggit/StackGAN-v2
``code/model.py``); line numbers below are the MSGAN file's.

Module and parameter names are the official ones, so with ``width=1`` and a 64-pixel first
stage a state dict loads into the official classes unchanged. Scaled to small images:
- the first stage starts from 4x4 and doubles ``log2(base_size / 4)`` times (the official 4 for
  its 64-pixel first stage; 2 for our 16-pixel one), its input width chosen so that it ends at
  ``gf_dim`` channels as the official's does; each later stage doubles the size once;
- a stage's discriminator downsamples by ``min(16, size / 4)`` in its first block
  (``encode_image_by_16times`` cut short below 64 pixels: 2 layers at 16 pixels, 3 at 32), then
  the official ``D_NET128`` / ``D_NET256`` blocks above 64 pixels, down to 4x4;
- ``width`` multiplies ``GF_DIM`` and ``DF_DIM`` (64).
"""
from __future__ import annotations

from typing import List, Optional, Tuple

import torch
from torch import nn

GF_DIM = DF_DIM = 64      # cfg.GAN.GF_DIM / DF_DIM
EMBEDDING_DIM = 128       # cfg.GAN.EMBEDDING_DIM: the conditioning code c
Z_DIM = 100               # cfg.GAN.Z_DIM
R_NUM = 2                 # cfg.GAN.R_NUM: residual blocks per later stage
STAGE_SIZES = (16, 32, 64, 128, 256)


def levels(size: int) -> int:
    n = int(size).bit_length() - 1
    if size not in STAGE_SIZES:
        raise ValueError(f"stage size {size}: StackGAN stages are {', '.join(map(str, STAGE_SIZES))}")
    return n - 2      # doublings from 4x4


class GLU(nn.Module):
    """model.py:47-55: the first half of the channels gated by the sigmoid of the second."""

    def forward(self, x):
        nc = x.size(1) // 2
        return x[:, :nc] * torch.sigmoid(x[:, nc:])


def conv3x3(in_planes: int, out_planes: int) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=1, padding=1, bias=False)


def up_block(in_planes: int, out_planes: int) -> nn.Sequential:
    """``upBlock`` (model.py:66-73): nearest x2, 3x3 convolution, batch norm, GLU."""
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"),
                         conv3x3(in_planes, out_planes * 2), nn.BatchNorm2d(out_planes * 2), GLU())


def block3x3_relu(in_planes: int, out_planes: int) -> nn.Sequential:
    """``Block3x3_relu`` (model.py:77-83)."""
    return nn.Sequential(conv3x3(in_planes, out_planes * 2), nn.BatchNorm2d(out_planes * 2), GLU())


class ResBlock(nn.Module):
    """model.py:86-102."""

    def __init__(self, channel_num: int):
        super().__init__()
        self.block = nn.Sequential(
            conv3x3(channel_num, channel_num * 2), nn.BatchNorm2d(channel_num * 2), GLU(),
            conv3x3(channel_num, channel_num), nn.BatchNorm2d(channel_num))

    def forward(self, x):
        return self.block(x) + x


class CANet(nn.Module):
    """Conditioning augmentation (``CA_NET``, model.py:105-133): the text embedding's mean and
    log-variance (one linear layer and GLU), and a code drawn from them."""

    def __init__(self, t_dim: int, ef_dim: int = EMBEDDING_DIM):
        super().__init__()
        self.ef_dim = ef_dim
        self.fc = nn.Linear(t_dim, ef_dim * 4, bias=True)
        self.relu = GLU()

    def encode(self, text_embedding) -> Tuple[torch.Tensor, torch.Tensor]:
        x = self.relu(self.fc(text_embedding))
        return x[:, :self.ef_dim], x[:, self.ef_dim:]

    def forward(self, text_embedding, generator: Optional[torch.Generator] = None):
        mu, logvar = self.encode(text_embedding)
        std = logvar.mul(0.5).exp()
        eps = torch.randn(std.size(), generator=generator, device="cpu").to(std.device)
        return eps.mul(std).add(mu), mu, logvar


class InitStageG(nn.Module):
    """``INIT_STAGE_G`` (model.py:136-177): (c, z) -> 4x4 -> ``doublings`` up-blocks."""

    def __init__(self, ngf: int, in_dim: int, doublings: int = 4):
        super().__init__()
        self.gf_dim = ngf
        self.fc = nn.Sequential(nn.Linear(in_dim, ngf * 4 * 4 * 2, bias=False),
                                nn.BatchNorm1d(ngf * 4 * 4 * 2), GLU())
        for i in range(1, doublings + 1):
            self.add_module(f"upsample{i}", up_block(ngf // 2 ** (i - 1), ngf // 2 ** i))
        self.doublings = doublings

    def forward(self, z_code, c_code):
        out = self.fc(torch.cat((c_code, z_code), 1)).view(-1, self.gf_dim, 4, 4)
        for i in range(1, self.doublings + 1):
            out = getattr(self, f"upsample{i}")(out)
        return out


class NextStageG(nn.Module):
    """``NEXT_STAGE_G`` (model.py:180-217): c broadcast and joined, residual blocks, x2."""

    def __init__(self, ngf: int, ef_dim: int = EMBEDDING_DIM, num_residual: int = R_NUM):
        super().__init__()
        self.ef_dim = ef_dim
        self.jointConv = block3x3_relu(ngf + ef_dim, ngf)
        self.residual = nn.Sequential(*(ResBlock(ngf) for _ in range(num_residual)))
        self.upsample = up_block(ngf, ngf // 2)

    def forward(self, h_code, c_code):
        s = h_code.size(2)
        c = c_code.view(-1, self.ef_dim, 1, 1).repeat(1, 1, s, s)
        return self.upsample(self.residual(self.jointConv(torch.cat((c, h_code), 1))))


class GetImageG(nn.Module):
    """``GET_IMAGE_G`` (model.py:220-231): 3x3 convolution to RGB, tanh."""

    def __init__(self, ngf: int):
        super().__init__()
        self.img = nn.Sequential(conv3x3(ngf, 3), nn.Tanh())

    def forward(self, h_code):
        return self.img(h_code)


class GNet(nn.Module):
    """``G_NET`` (model.py:234-284): the tree of stages, each with its image head."""

    def __init__(self, t_dim: int, branch_num: int = 2, base_size: int = 16, width: float = 1.0,
                 ef_dim: int = EMBEDDING_DIM, z_dim: int = Z_DIM, r_num: int = R_NUM):
        super().__init__()
        gf = max(1, int(round(GF_DIM * width)))
        first = levels(base_size)
        self.branch_num, self.z_dim = branch_num, z_dim
        self.ca_net = CANet(t_dim, ef_dim)
        self.h_net1 = InitStageG(gf * 2 ** first, z_dim + ef_dim, first)
        self.img_net1 = GetImageG(gf)
        for i in range(2, branch_num + 1):
            self.add_module(f"h_net{i}", NextStageG(gf // 2 ** (i - 2), ef_dim, r_num))
            self.add_module(f"img_net{i}", GetImageG(gf // 2 ** (i - 1)))

    def forward(self, z_code, text_embedding, generator: Optional[torch.Generator] = None):
        """(images of every stage, mu, logvar)."""
        c_code, mu, logvar = self.ca_net(text_embedding, generator)
        h = self.h_net1(z_code, c_code)
        fakes = [self.img_net1(h)]
        for i in range(2, self.branch_num + 1):
            h = getattr(self, f"h_net{i}")(h, c_code)
            fakes.append(getattr(self, f"img_net{i}")(h))
        return fakes, mu, logvar


# --- discriminators ----------------------------------------------------------------------------

def block3x3_leaky(in_planes: int, out_planes: int) -> nn.Sequential:
    """``Block3x3_leakRelu`` (model.py:288-294)."""
    return nn.Sequential(conv3x3(in_planes, out_planes), nn.BatchNorm2d(out_planes),
                         nn.LeakyReLU(0.2, inplace=True))


def down_block(in_planes: int, out_planes: int) -> nn.Sequential:
    """``downBlock`` (model.py:298-304)."""
    return nn.Sequential(nn.Conv2d(in_planes, out_planes, 4, 2, 1, bias=False),
                         nn.BatchNorm2d(out_planes), nn.LeakyReLU(0.2, inplace=True))


def encode_image(ndf: int, doublings: int) -> nn.Sequential:
    """``encode_image_by_16times`` (model.py:308-326) with ``doublings`` (<= 4) stride-2 layers."""
    layers: List[nn.Module] = [nn.Conv2d(3, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True)]
    for i in range(1, doublings):
        layers += [nn.Conv2d(ndf * 2 ** (i - 1), ndf * 2 ** i, 4, 2, 1, bias=False),
                   nn.BatchNorm2d(ndf * 2 ** i), nn.LeakyReLU(0.2, inplace=True)]
    return nn.Sequential(*layers)


class DNet(nn.Module):
    """``D_NET64`` / ``D_NET128`` / ``D_NET256`` (model.py:330-470) for one stage's size: the
    image down to 4x4, then a conditional score (with c) and an unconditional one, both
    sigmoids, flattened."""

    def __init__(self, size: int, width: float = 1.0, ef_dim: int = EMBEDDING_DIM):
        super().__init__()
        ndf = max(1, int(round(DF_DIM * width)))
        n = levels(size)
        self.ef_dim, self.extra = ef_dim, n - 4
        self.img_code_s16 = encode_image(ndf, min(n, 4))
        code = ndf * 2 ** (min(n, 4) - 1)
        if n == 5:                                   # D_NET128, model.py:385-386
            self.img_code_s32 = down_block(ndf * 8, ndf * 16)
            self.img_code_s32_1 = block3x3_leaky(ndf * 16, ndf * 8)
        elif n == 6:                                 # D_NET256, model.py:429-433
            self.img_code_s32 = down_block(ndf * 8, ndf * 16)
            self.img_code_s64 = down_block(ndf * 16, ndf * 32)
            self.img_code_s64_1 = block3x3_leaky(ndf * 32, ndf * 16)
            self.img_code_s64_2 = block3x3_leaky(ndf * 16, ndf * 8)
        self.logits = nn.Sequential(nn.Conv2d(code, 1, kernel_size=4, stride=4), nn.Sigmoid())
        self.jointConv = block3x3_leaky(code + ef_dim, code)
        self.uncond_logits = nn.Sequential(nn.Conv2d(code, 1, kernel_size=4, stride=4), nn.Sigmoid())

    def _code(self, x):
        x = self.img_code_s16(x)
        names = {1: ("img_code_s32", "img_code_s32_1"),
                 2: ("img_code_s32", "img_code_s64", "img_code_s64_1", "img_code_s64_2")}
        for name in names.get(self.extra, ()):
            x = getattr(self, name)(x)
        return x

    def forward(self, x_var, c_code) -> List[torch.Tensor]:
        x_code = self._code(x_var)
        c = c_code.view(-1, self.ef_dim, 1, 1).repeat(1, 1, 4, 4)
        h_c_code = self.jointConv(torch.cat((c, x_code), 1))
        return [self.logits(h_c_code).view(-1), self.uncond_logits(x_code).view(-1)]


def weights_init(m: nn.Module) -> None:
    """trainer.py:55-65: orthogonal convolutions and linear layers (biases 0), batch norm
    weights ~ N(1, 0.02) and biases 0."""
    name = type(m).__name__
    if "Conv" in name:
        nn.init.orthogonal_(m.weight.data, 1.0)
    elif "BatchNorm" in name:
        m.weight.data.normal_(1.0, 0.02)
        m.bias.data.fill_(0)
    elif "Linear" in name:
        nn.init.orthogonal_(m.weight.data, 1.0)
        if m.bias is not None:
            m.bias.data.fill_(0.0)
