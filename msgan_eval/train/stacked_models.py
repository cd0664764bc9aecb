"""The DCGAN of PacGAN's Table 2 (``stacked_MNIST_experiments/VEEGAN_experiment/model.py``
l.287-330, ``ops.py``; carpedm20's DCGAN-tensorflow) in torch.

- G: linear z (100) -> 2 x 2 x 8 gf, BN, ReLU; transposed 5 x 5 stride-2 convolutions to
  4 x 4 x 4 gf, 7 x 7 x 2 gf, 14 x 14 x gf, 28 x 28 x 3 with BN + ReLU between; tanh (gf = 64);
- D: 5 x 5 stride-2 convolutions with 64, 128, 256, 512 (x width) filters on 28 x 28 x 3 m,
  leaky ReLU 0.2, BN on the last three, then linear -> 1 logit;
- BN: ``tf.contrib.layers.batch_norm(decay=0.9, epsilon=1e-5, scale=True)`` (ops.py l.29-43),
  i.e. torch momentum 0.1, eps 1e-5; always in training mode in D (l.291-294);
- init: convolutions truncated N(0, 0.02^2) (ops.py l.57), transposed ones and linears
  N(0, 0.02^2) (l.71, l.98), biases 0.

TF's 'SAME' padding gives these sizes with torch padding 2 (and output_padding 1 where the
size doubles exactly); TF may pad the odd pixel on the other side, a one-pixel shift of where
a kernel lands that matters for weight-level parity only (we claim none with TF).
"""
from __future__ import annotations

import torch
from torch import nn

Z_DIM = 100
ITEM_CHANNELS = 3


def _ch(base: int, width: float) -> int:
    return max(1, int(round(base * width)))


class StackedGenerator(nn.Module):
    def __init__(self, width: float = 1.0, z_dim: int = Z_DIM):
        super().__init__()
        gf = _ch(64, width)
        self.gf, self.z_dim = gf, z_dim
        self.fc = nn.Linear(z_dim, 2 * 2 * gf * 8)
        self.bn0 = nn.BatchNorm2d(gf * 8, eps=1e-5, momentum=0.1)
        ups = []
        # (in, out, output_padding): 2 -> 4 -> 7 -> 14 -> 28
        for cin, cout, pad in ((gf * 8, gf * 4, 1), (gf * 4, gf * 2, 0), (gf * 2, gf, 1)):
            ups += [nn.ConvTranspose2d(cin, cout, 5, 2, 2, output_padding=pad),
                    nn.BatchNorm2d(cout, eps=1e-5, momentum=0.1), nn.ReLU()]
        ups += [nn.ConvTranspose2d(gf, ITEM_CHANNELS, 5, 2, 2, output_padding=1), nn.Tanh()]
        self.up = nn.Sequential(*ups)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.fc(z).view(-1, self.gf * 8, 2, 2)
        return self.up(torch.relu(self.bn0(h)))


class StackedDiscriminator(nn.Module):
    def __init__(self, pack: int = 1, width: float = 1.0):
        super().__init__()
        df = _ch(64, width)
        layers, cin = [], ITEM_CHANNELS * pack
        for i, cout in enumerate((df, df * 2, df * 4, df * 8)):
            layers.append(nn.Conv2d(cin, cout, 5, 2, 2))          # 28 -> 14 -> 7 -> 4 -> 2
            if i > 0:
                layers.append(nn.BatchNorm2d(cout, eps=1e-5, momentum=0.1))
            layers.append(nn.LeakyReLU(0.2))
            cin = cout
        self.features = nn.Sequential(*layers)
        self.out = nn.Linear(df * 8 * 2 * 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.features(x).flatten(1))[:, 0]


def init_stacked(module: nn.Module, generator: torch.Generator) -> None:
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            w = torch.empty_like(m.weight)
            nn.init.trunc_normal_(w, std=0.02, a=-0.04, b=0.04, generator=generator)
            m.weight.data.copy_(w)
        elif isinstance(m, (nn.ConvTranspose2d, nn.Linear)):
            m.weight.data.copy_(torch.randn(m.weight.shape, generator=generator) * 0.02)
        else:
            continue
        nn.init.zeros_(m.bias)
