"""VGG16 fc2 features (the precision/recall papers' embedding) from a full torchvision VGG16 file.

Kynkaanniemi et al. 2019 and Naeem et al. 2020 embed images with ImageNet VGG16's second fully
connected layer. torchvision's ``vgg16-397923af.pth`` holds it, but cannot be fetched offline and
no conversion exists (the LPIPS backbone conversion has only the convolutional trunk), so this
extractor runs only where a user provides the file (``vgg16_weights`` / ``--vgg16-weights``,
``$MSGAN_EVAL_VGG16_WEIGHTS``, or torchvision's hub cache), resolved by
:func:`msgan_eval.weights.resolve_weights`.

The forward pass is torch-fidelity's ``FeatureExtractorVGG16`` with ``fc2_relu`` (its default layer
for precision/recall): images resized to 224 x 224 (bilinear; torch-fidelity uses its TF1-style
bilinear, so values differ slightly), ImageNet mean/std normalisation, the convolutional trunk,
adaptive average pooling to 7 x 7, then Linear-ReLU-Dropout-Linear-ReLU (4096-d, dropout off).
"""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F

from msgan_eval import defaults
from msgan_eval.device import resolve_device
from msgan_eval.features.state_dict import read_state_dict
from msgan_eval.images import ImageSet
from msgan_eval.weights import ResolvedWeights, WeightSpec, resolve_weights

VGG16 = WeightSpec("vgg16-fc2", "vgg16-397923af.pth",
                   "https://download.pytorch.org/models/vgg16-397923af.pth",
                   "MSGAN_EVAL_VGG16_WEIGHTS", "--vgg16-weights",
                   "VGG16 ImageNet classifier for precision/recall fc2 features (torchvision's file)",
                   "397923af",
                   ways="(3) copy torchvision's cached vgg16-397923af.pth from another machine "
                        "(no offline source exists; use --features inception-pool3 instead); ")
INPUT_SIZE = 224
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
FC2_DIMS = 4096


def validate_vgg16(path: Path) -> None:
    """A full torchvision VGG16 state dict: every key and shape of ``torchvision.models.vgg16()``."""
    import torchvision

    state = read_state_dict(path)
    with torch.device("meta"):
        expected = torchvision.models.vgg16().state_dict()
    for key, value in expected.items():
        if key not in state:
            raise ValueError(f"key {key} missing: not a full torchvision VGG16 (the classifier "
                             "holds fc2; an LPIPS trunk-only file is not enough)")
        if tuple(state[key].shape) != tuple(value.shape):
            raise ValueError(f"{key} has shape {tuple(state[key].shape)}, torchvision's VGG16 "
                             f"has {tuple(value.shape)}")


def resolve_vgg16_weights(explicit=None) -> ResolvedWeights:
    """The VGG16 file (explicit / env / hub cache with hash check / download), or
    WeightsUnavailable (exit 3) offline without one."""
    return resolve_weights(VGG16, explicit, validate=validate_vgg16)


class Vgg16Fc2(torch.nn.Module):
    """fc2 (after ReLU) of torchvision's VGG16 for images in [0, 1], as a one-element list of
    (N, 4096, 1, 1) maps, the shape the Inception feature loop reads."""

    def __init__(self, state: dict):
        import torchvision

        super().__init__()
        net = torchvision.models.vgg16()
        net.load_state_dict(state)
        self.features, self.avgpool = net.features, net.avgpool
        self.fc = torch.nn.Sequential(*list(net.classifier.children())[:5])   # up to fc2's ReLU
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.eval().requires_grad_(False)

    def forward(self, x: torch.Tensor):
        x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
        x = self.avgpool(self.features((x - self.mean) / self.std))
        return [self.fc(torch.flatten(x, 1))[:, :, None, None]]


@functools.lru_cache(maxsize=1)
def _cached_model(path: str, sha256: str, device: str) -> Vgg16Fc2:
    return Vgg16Fc2(read_state_dict(Path(path))).to(device)


def vgg16_fc2_features(image_set: ImageSet, *, weights: ResolvedWeights,
                       device: str = defaults.DEVICE, batch_size: int = defaults.BATCH_SIZE,
                       num_workers: int = defaults.NUM_WORKERS, quiet: bool = True,
                       model: Optional[torch.nn.Module] = None) -> np.ndarray:
    """(N, 4096) float64 fc2 features of ``image_set`` in order (one process)."""
    from .extract import iter_feature_batches

    dev = resolve_device(device)
    model = model or _cached_model(str(weights.path), weights.sha256, str(dev))
    batches = list(iter_feature_batches(image_set, model, device=dev, batch_size=batch_size,
                                        num_workers=num_workers, fast=False, quiet=quiet,
                                        desc=f"vgg16 {image_set.source.name}"))
    return np.concatenate(batches, axis=0) if batches else np.empty((0, FC2_DIMS))
