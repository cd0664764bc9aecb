"""pytorch-fid's FID InceptionV3, loaded from a verified local file instead of its download.

The network is pytorch-fid's own ``InceptionV3([block], resize_input=True, normalize_input=True,
use_fid_inception=True)``: bilinear resize to 299x299 inside the network (``align_corners=False``),
then ``2 * x - 1``. Its ``fid_inception_v3()`` fetches the weights with ``load_state_dict_from_url``;
we hand it the state dict of the file :func:`resolve_inception_weights` found instead.

The weights come from ``msgan_eval.weights.resolve_weights`` (explicit file, hub cache, offline
conversion, download). The offline conversion (``converted_inception_weights``) lives in
:mod:`msgan_eval.features.inception_convert`.

The fast path is :class:`~msgan_eval.features.inception_fast.FastFIDInception`: the same network
rewritten (BatchNorm folded, channels_last, less memory traffic) and built from the state dict
without importing torchvision; it is tested against pytorch-fid's module.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Dict, Mapping, Optional

import torch
from torch import nn

from msgan_eval import weights as weights_mod
from msgan_eval.errors import short_reason
from msgan_eval.fileio import file_identity
from msgan_eval.weights import INCEPTION, ResolvedWeights

# BLOCK_INDEX_BY_DIM is pytorch-fid's InceptionV3.BLOCK_INDEX_BY_DIM: 64 -> first max pool,
# 192 -> second max pool, 768 -> pre-aux-classifier, 2048 -> final average pool (pool3).
from .inception_fast import BLOCK_INDEX_BY_DIM, CONVS, FastFIDInception, state_dict_shapes

_PATCH_LOCK = threading.Lock()


def fid_inception_skeleton() -> nn.Module:
    """pytorch-fid's ``fid_inception_v3()`` structure, without weights, on the meta device.

    Same lines as pytorch-fid's function minus its ``load_state_dict_from_url`` call. Built on the
    meta device so no time goes into random initialisation that the loaded weights replace.
    """
    with torch.device("meta"):
        return fid_inception_structure()


def fid_inception_structure() -> nn.Module:
    """pytorch-fid's ``fid_inception_v3()`` body up to (not including) its weight download."""
    from pytorch_fid import inception as pf

    net = pf._inception_v3(num_classes=1008, aux_logits=False, weights=None)
    net.Mixed_5b = pf.FIDInceptionA(192, pool_features=32)
    net.Mixed_5c = pf.FIDInceptionA(256, pool_features=64)
    net.Mixed_5d = pf.FIDInceptionA(288, pool_features=64)
    net.Mixed_6b = pf.FIDInceptionC(768, channels_7x7=128)
    net.Mixed_6c = pf.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6d = pf.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6e = pf.FIDInceptionC(768, channels_7x7=192)
    net.Mixed_7b = pf.FIDInceptionE_1(1280)
    net.Mixed_7c = pf.FIDInceptionE_2(2048)
    return net.eval()


def expected_state_dict_shapes() -> Dict[str, tuple]:
    """Key -> shape of the state dict pytorch-fid's ``fid_inception_v3`` loads (strictly)."""
    return state_dict_shapes()


def basic_conv_names() -> list:
    """Names of the 94 ``BasicConv2d`` (conv + BatchNorm + ReLU) in registration order."""
    return list(CONVS)


def _optional_key(key: str) -> bool:
    # BatchNorm's num_batches_tracked is filled in by load_state_dict when absent (pytorch-fid's
    # own file predates it), so a file may or may not carry it.
    return key.endswith("num_batches_tracked")


def check_inception_state_dict(state: Mapping[str, torch.Tensor]) -> None:
    """ValueError naming the first problem if ``state`` is not pytorch-fid's FID Inception format."""
    if not isinstance(state, Mapping):
        raise ValueError(f"it holds a {type(state).__name__}, not a state dict (name -> tensor)")
    expected = expected_state_dict_shapes()
    missing = [k for k in expected if k not in state and not _optional_key(k)]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing keys (e.g. {', '.join(missing[:3])})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys (e.g. {', '.join(map(str, unexpected[:3]))})")
        raise ValueError("not pytorch-fid's FID InceptionV3 state dict: " + "; ".join(parts))
    for key, tensor in state.items():
        if not isinstance(tensor, torch.Tensor):
            raise ValueError(f"{key} is a {type(tensor).__name__}, not a tensor")
        if tuple(tensor.shape) != expected[key]:
            raise ValueError(f"{key} has shape {tuple(tensor.shape)}, expected {expected[key]}")
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise ValueError(f"{key} contains NaN or infinity")


_LAST_READ: Dict[tuple, Dict[str, torch.Tensor]] = {}


def read_inception_state_dict(path: Path) -> Dict[str, torch.Tensor]:
    """Load a state dict with ``weights_only=True`` (no pickled code runs), or say why not.

    The last file read is remembered (keyed by ``fileio.file_identity``), so validating the weights
    and then building the network reads and checks the 95 MB file once.
    """
    key = file_identity(path)
    if key not in _LAST_READ:
        state = _read_and_check(path)
        _LAST_READ.clear()
        _LAST_READ[key] = state
    return _LAST_READ[key]


def _read_and_check(path: Path) -> Dict[str, torch.Tensor]:
    try:
        state = torch.load(Path(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated zip, pickle errors, non-tensor objects
        raise ValueError(f"torch.load failed ({short_reason(exc)}); the file is truncated or "
                         "not a PyTorch state dict") from None
    check_inception_state_dict(state)
    return state


def validate_inception_weights(path: Path) -> None:
    """The validator handed to ``resolve_weights``: ValueError if ``path`` is not usable."""
    read_inception_state_dict(path)


def resolve_inception_weights(explicit: "str | Path | None" = None) -> ResolvedWeights:
    """Find verified FID Inception weights (see ``msgan_eval.weights``), or WeightsUnavailable."""
    # The offline conversion is registered on INCEPTION (weights.py), not imported here: the
    # converter imports this module, never the other way round.
    return weights_mod.resolve_weights(INCEPTION, explicit, validate=validate_inception_weights)


def pytorch_fid_inception(state: Mapping[str, torch.Tensor], dims: int = 2048) -> nn.Module:
    """pytorch-fid's own ``InceptionV3`` for ``dims``, built on ``state`` instead of its download."""
    from pytorch_fid import inception as pf

    if dims not in BLOCK_INDEX_BY_DIM:
        raise ValueError(f"dims must be one of {sorted(BLOCK_INDEX_BY_DIM)}, got {dims}")
    net = fid_inception_skeleton()
    # assign=True swaps the meta tensors for the loaded ones; BatchNorm fills in a missing
    # num_batches_tracked itself.
    # Clones: the network must never share tensors with the remembered state dict.
    net.load_state_dict({k: v.clone() for k, v in state.items()}, strict=True, assign=True)
    # InceptionV3.__init__ calls the module-level fid_inception_v3(), which would download: point
    # it at the network just loaded for the duration of the constructor.
    with _PATCH_LOCK:
        original = pf.fid_inception_v3
        pf.fid_inception_v3 = lambda: net
        try:
            model = pf.InceptionV3([BLOCK_INDEX_BY_DIM[dims]], resize_input=True,
                                   normalize_input=True, use_fid_inception=True)
        finally:
            pf.fid_inception_v3 = original
    return model.eval()


class PresetInception(nn.Module):
    """pytorch-fid's module without its own resize and ``2x - 1``, behind a preset's instead.

    The reference-path network of the presets other than ``pytorch-fid``: the preset's network
    resize and normalisation (:mod:`msgan_eval.features.preprocess`), then the same convolutions.
    """

    def __init__(self, net: nn.Module, preset: str):
        super().__init__()
        from .preprocess import get_preset

        net.resize_input, net.normalize_input = False, False
        self.net, self.preset = net, get_preset(preset)

    def forward(self, x: torch.Tensor):
        from .preprocess import network_resize, normalise

        return self.net(normalise(self.preset, network_resize(self.preset, x)))


def load_inception(weights: ResolvedWeights, dims: int = 2048, device: "str | torch.device" = "cpu",
                   fast: bool = True, preset: str = "pytorch-fid") -> nn.Module:
    """The FID Inception for ``dims`` on ``device``, in eval mode, without gradients.

    ``fast=True`` is :class:`FastFIDInception` with channels_last weights (feed it channels_last
    batches); ``fast=False`` is pytorch-fid's module exactly (for other presets: behind the
    preset's resize and normalisation, :class:`PresetInception`).
    """
    state = read_inception_state_dict(weights.path)
    if fast:
        model = FastFIDInception(state, dims, preset=preset).to(memory_format=torch.channels_last)
    elif preset == "pytorch-fid":
        model = pytorch_fid_inception(state, dims)
    else:
        model = PresetInception(pytorch_fid_inception(state, dims), preset)
    for param in model.parameters():
        param.requires_grad_(False)
    return model.to(device).eval()


def inception_weights_status(explicit: Optional[str] = None) -> weights_mod.WeightStatus:
    """Where the FID Inception weights would come from now (no conversion, no download)."""
    return weights_mod.inspect_weights(INCEPTION, explicit, validate=validate_inception_weights)
