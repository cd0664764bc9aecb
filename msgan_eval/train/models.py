"""The conditional DCGAN of the official MSGAN code (``DCGAN-Mode-Seeking/networks.py``).

``width`` scales every channel count (1.0 = the paper's 512/256/128) so CPU runs stay short.
"""
from __future__ import annotations

import torch
from torch import nn

from msgan_eval import defaults

IMAGE_SIZE = 32
BASE_CHANNELS = 128   # ``d=128`` in the official generator and discriminator


def base_channels(width: float) -> int:
    """Channels of the widest-resolution layer for a ``width`` multiplier (at least 1)."""
    return max(1, int(round(BASE_CHANNELS * width)))


def one_hot(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(B, num_classes, 1, 1) float one-hot codes, the official ``onehot_encoding`` layout."""
    out = torch.zeros(labels.shape[0], num_classes, 1, 1, device=labels.device)
    return out.scatter_(1, labels.view(-1, 1, 1, 1), 1.0)


class Generator(nn.Module):
    """z (z_dim) ++ one-hot label as a 1x1 map -> 4x4x4d -> 8x8x2d -> 16x16xd -> 32x32xchannels."""

    def __init__(self, num_classes: int, channels: int, width: float = 1.0,
                 z_dim: int = defaults.Z_DIM):
        super().__init__()
        d = base_channels(width)
        self.z_dim, self.num_classes = z_dim, num_classes
        self.deconv1 = _up(z_dim + num_classes, d * 4, stride=1, padding=0)
        self.deconv2 = _up(d * 4, d * 2)
        self.deconv3 = _up(d * 2, d)
        self.deconv4 = nn.Sequential(nn.ConvTranspose2d(d, channels, 4, 2, 1), nn.Tanh())

    def forward(self, z: torch.Tensor, onehot: torch.Tensor) -> torch.Tensor:
        x = torch.cat([z[:, :, None, None], onehot], 1)
        return self.deconv4(self.deconv3(self.deconv2(self.deconv1(x))))


class Discriminator(nn.Module):
    """image ++ label broadcast as channels -> d (no BN) -> 2d -> 4d -> 1 (4x4 valid) -> sigmoid."""

    def __init__(self, num_classes: int, channels: int, width: float = 1.0):
        super().__init__()
        d = base_channels(width)
        self.conv1 = nn.Sequential(nn.Conv2d(channels + num_classes, d, 4, 2, 1), nn.LeakyReLU(0.2))
        self.conv2 = _down(d, d * 2)
        self.conv3 = _down(d * 2, d * 4)
        self.conv4 = nn.Sequential(nn.Conv2d(d * 4, 1, 4, 1, 0), nn.Sigmoid())

    def forward(self, image: torch.Tensor, onehot: torch.Tensor) -> torch.Tensor:
        label = onehot.expand(-1, -1, image.shape[2], image.shape[3])
        x = torch.cat([image, label], 1)
        return self.conv4(self.conv3(self.conv2(self.conv1(x))))


def _up(cin: int, cout: int, stride: int = 2, padding: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.ConvTranspose2d(cin, cout, 4, stride, padding), nn.BatchNorm2d(cout),
                         nn.ReLU())


def _down(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 4, 2, 1), nn.BatchNorm2d(cout), nn.LeakyReLU(0.2))


def init_weights(model: nn.Module) -> None:
    """Conv and transposed-conv weights ~ N(0, 0.02), biases and batch norm left at PyTorch's.

    This is what the official ``gaussian_weights_init`` means to do. (Applied there to the
    top-level ``nn.Sequential`` blocks, whose class name does not start with "Conv", it leaves
    PyTorch's default initialisation in place; we follow the stated intent, as the paper does.)
    """
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
