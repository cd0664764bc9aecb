"""pix2pix with noise, as in the official MSGAN code (HelenMao/MSGAN ``Pix2Pix-Mode-Seeking``,
whose ``networks.py`` is BicycleGAN's): the U-Net generator with the latent code added at every
layer (``netG=unet_*``, ``where_add=all``: ``G_Unet_add_all`` / ``UnetBlock_with_z``), instance
norm, ReLU up / LeakyReLU(0.2) down, and the multi-scale PatchGAN ``D_NLayersMulti``
(``num_Ds=2``, no sigmoid: LSGAN) on (input, output) pairs.

Scaled to small images:
- the U-Net has ``log2(image_size)`` levels (5 at 32x32: 32 -> 1 at the bottleneck); level ``i``
  has ``ngf * min(2**i, 8)`` channels, the rule behind the official ``unet_128`` / ``unet_256``
  (for 64 px and up the blocks are exactly the official ones);
- the discriminator has ``n_layers=2`` below 64 px (the official ``basic_128_multi``; with 3 layers
  its half-scale copy would shrink a 16x16 input to nothing) and 3 from 64 px (``basic_256_multi``);
- ``width`` scales ``ngf`` and ``ndf`` (1.0 = the official 64);
- ``upsample`` is the official ``--upsample`` option: 'basic' (transposed convolution, the default
  of MSGAN's ``base_options.py`` l.46) or 'bilinear' (resize then convolution).
"""
from __future__ import annotations

from typing import List, Optional

import torch
from torch import nn

from msgan_eval import defaults

BASE_FILTERS = 64         # official --ngf / --ndf
MAX_MULT = 8              # official max_nchn: channels stop doubling at ngf * 8
INIT_GAIN = 0.02          # official --init_type xavier with BicycleGAN's gain 0.02


def filters(width: float) -> int:
    """ngf (= ndf) for a ``width`` multiplier, at least 1."""
    return max(1, int(round(BASE_FILTERS * width)))


def unet_levels(image_size: int) -> int:
    """Down-samplings from ``image_size`` to the 1x1 bottleneck (``num_downs`` of the official)."""
    levels = int(image_size).bit_length() - 1
    if image_size < 32 or 2 ** levels != image_size:
        raise ValueError(f"image size {image_size}: the U-Net needs a power of two >= 32")
    return levels


def discriminator_layers(image_size: int) -> int:
    return 2 if image_size < 64 else 3


def _norm(channels: int) -> nn.Module:
    # Official get_norm_layer('instance'): InstanceNorm2d(affine=False), no running statistics.
    return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)


UPSAMPLE_MODES = ("basic", "bilinear")   # official --upsample choices


def _up(cin: int, cout: int, upsample: str = "basic") -> List[nn.Module]:
    """Official ``upsampleLayer`` (networks.py l.429-441): 'basic' is a 4x4 stride-2 transposed
    convolution (checkerboard-prone), 'bilinear' a bilinear x2 resize, reflection pad, 3x3 conv."""
    if upsample == "basic":
        return [nn.ConvTranspose2d(cin, cout, kernel_size=4, stride=2, padding=1)]
    if upsample == "bilinear":
        return [nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
                nn.ReflectionPad2d(1), nn.Conv2d(cin, cout, kernel_size=3, stride=1, padding=0)]
    raise ValueError(f"upsample {upsample!r}: use one of {', '.join(UPSAMPLE_MODES)}")


class UnetBlockWithZ(nn.Module):
    """One U-Net level; z (broadcast over the map) is concatenated to this level's input."""

    def __init__(self, input_nc: int, outer_nc: int, inner_nc: int, nz: int,
                 submodule: Optional["UnetBlockWithZ"] = None, outermost: bool = False,
                 innermost: bool = False, upsample: str = "basic"):
        super().__init__()
        self.outermost, self.innermost, self.nz = outermost, innermost, nz
        downconv = nn.Conv2d(input_nc + nz, inner_nc, kernel_size=4, stride=2, padding=1)
        if outermost:
            down = [downconv]
            up = [nn.ReLU(), *_up(inner_nc * 2, outer_nc, upsample), nn.Tanh()]
        elif innermost:
            down = [nn.LeakyReLU(0.2), downconv]
            up = [nn.ReLU(), *_up(inner_nc, outer_nc, upsample), _norm(outer_nc)]
        else:
            down = [nn.LeakyReLU(0.2), downconv, _norm(inner_nc)]
            up = [nn.ReLU(), *_up(inner_nc * 2, outer_nc, upsample), _norm(outer_nc)]
        self.down = nn.Sequential(*down)
        self.submodule = submodule
        self.up = nn.Sequential(*up)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        if self.nz > 0:
            z_img = z.view(z.size(0), z.size(1), 1, 1).expand(-1, -1, x.size(2), x.size(3))
            x_and_z = torch.cat([x, z_img], 1)
        else:
            x_and_z = x
        if self.innermost:
            return torch.cat([self.up(self.down(x_and_z)), x], 1)
        inner = self.submodule(self.down(x_and_z), z)
        if self.outermost:
            return self.up(inner)
        return torch.cat([self.up(inner), x], 1)


class UnetGenerator(nn.Module):
    """``G_Unet_add_all``: G(input image, z) -> output image in [-1, 1]."""

    def __init__(self, input_nc: int, output_nc: int, image_size: int = 32, width: float = 1.0,
                 nz: int = defaults.P2P_NZ, upsample: str = "basic"):
        super().__init__()
        ngf, levels = filters(width), unet_levels(image_size)
        self.nz, self.image_size = nz, image_size
        mult = [min(2 ** i, MAX_MULT) for i in range(levels)]
        block = None
        for i in range(levels - 1, 0, -1):
            block = UnetBlockWithZ(ngf * mult[i - 1], ngf * mult[i - 1], ngf * mult[i], nz, block,
                                   innermost=block is None, upsample=upsample)
        self.model = UnetBlockWithZ(input_nc, output_nc, ngf, nz, block, outermost=True,
                                    upsample=upsample)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.model(x, z)


def _patch_layers(input_nc: int, ndf: int, n_layers: int) -> nn.Sequential:
    """``D_NLayersMulti.get_layers``: a PatchGAN of 4x4 convolutions, one score per patch."""
    seq: List[nn.Module] = [nn.Conv2d(input_nc, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
    mult = 1
    for n in range(1, n_layers):
        prev, mult = mult, min(2 ** n, 8)
        seq += [nn.Conv2d(ndf * prev, ndf * mult, 4, stride=2, padding=1), _norm(ndf * mult),
                nn.LeakyReLU(0.2)]
    prev, mult = mult, min(2 ** n_layers, 8)
    seq += [nn.Conv2d(ndf * prev, ndf * mult, 4, stride=1, padding=1), _norm(ndf * mult),
            nn.LeakyReLU(0.2), nn.Conv2d(ndf * mult, 1, 4, stride=1, padding=1)]
    return nn.Sequential(*seq)


class MultiScaleDiscriminator(nn.Module):
    """``D_NLayersMulti``: scale ``i`` sees the pair average-pooled ``i`` times, with ``ndf / 2**i``
    filters; returns one score map per scale."""

    def __init__(self, input_nc: int, image_size: int = 32, width: float = 1.0,
                 num_d: int = defaults.P2P_NUM_D):
        super().__init__()
        ndf, n_layers = filters(width), discriminator_layers(image_size)
        self.scales = nn.ModuleList(
            [_patch_layers(input_nc, max(1, int(round(ndf / 2 ** i))), n_layers)
             for i in range(num_d)])
        self.down = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        out = []
        for i, scale in enumerate(self.scales):
            out.append(scale(x))
            if i != len(self.scales) - 1:
                x = self.down(x)
        return out


def init_weights(model: nn.Module, gain: float = INIT_GAIN) -> None:
    """BicycleGAN's ``init_net(init_type='xavier')``: conv weights xavier-normal with gain 0.02,
    biases 0 (instance norm has no parameters)."""
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.xavier_normal_(m.weight, gain=gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
