"""The peers' own copies of the FID Inception weights, derived offline from our converted file, and
small real image sets for the preset parity tests (tests/test_presets.py).

- torch-fidelity loads ``weights-inception-2015-12-05-6726825d.pth``, a state dict of its
  ``FeatureExtractorInceptionV3``. Its parameter names are torchvision's Inception3 names, as
  pytorch-fid's: the name map is the identity, checked key by key and shape by shape against the
  module's own ``state_dict()``.
- clean-fid loads NVIDIA's TorchScript ``inception-2015-12-05.pt`` (StyleGAN2-ADA's metrics
  network), which cannot be had offline. :func:`nvidia_inception_standin` builds a TorchScript with
  its calling convention from our converted weights: ``forward(img, return_features=True)`` on
  [0, 255] float NCHW of any size, and a ``layers`` sub-module on [-1, 1] 299x299 input that
  clean-fid's ``clean`` mode calls directly. What the NVIDIA network does to its input is
  transcribed from its TorchScript code: ``affine_grid`` of an identity shifted by
  ``1/size - 1/299``, ``grid_sample(bilinear, border, align_corners=False)``, ``(x - 128) / 128``
  (``x * 0.0078125`` in the graph), ``layers``, reshape to (N, 2048). So clean-fid parity here is
  against clean-fid's own preprocessing and feature code with this transcribed wrapper, not
  against the NVIDIA file itself.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

TORCH_FIDELITY_FILE = "weights-inception-2015-12-05-6726825d.pth"
NVIDIA_FILE = "inception-2015-12-05.pt"


def write_torch_fidelity_weights(converted: Path, folder: Path) -> Path:
    """torch-fidelity's weights file from our pytorch-fid-format conversion (identity name map).

    The map is checked by torch-fidelity itself: its module loads the file with a strict
    ``load_state_dict`` (every key present, no extra key, every shape equal).
    """
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    state = torch.load(converted, map_location="cpu", weights_only=True)
    target = Path(folder) / TORCH_FIDELITY_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, target)
    module = FeatureExtractorInceptionV3("inception-v3-compat", ["2048"],
                                         feature_extractor_weights_path=str(target))
    loaded = module.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in state.items() if k in loaded)
    return target


class _Layers(nn.Module):
    """pytorch-fid's FID Inception convolutions on [-1, 1] 299x299 input, pool3 (N, 2048, 1, 1)."""

    def __init__(self, net: nn.Module):
        super().__init__()
        net.resize_input, net.normalize_input = False, False
        self.net = net

    def forward(self, x):
        return self.net(x)[0]


class _NvidiaStandIn(nn.Module):
    """NVIDIA's ``inception-2015-12-05.pt`` calling convention, its input handling transcribed."""

    def __init__(self, layers: torch.jit.ScriptModule):
        super().__init__()
        self.layers = layers

    def forward(self, img: torch.Tensor, return_features: bool = False) -> torch.Tensor:
        batch_size, channels, height, width = img.shape
        assert channels == 3
        x = img.to(torch.float32)
        theta = torch.eye(2, 3, device=x.device)
        theta[0, 2] += theta[0, 0] / width - theta[0, 0] / 299
        theta[1, 2] += theta[1, 1] / height - theta[1, 1] / 299
        theta = theta.to(x.dtype).unsqueeze(0).repeat([batch_size, 1, 1])
        grid = torch.nn.functional.affine_grid(theta, [batch_size, channels, 299, 299],
                                               align_corners=False)
        x = torch.nn.functional.grid_sample(x, grid, mode="bilinear", padding_mode="border",
                                            align_corners=False)
        x = x - 128
        x = x * 0.0078125
        return self.layers.forward(x).reshape(-1, 2048)


def nvidia_inception_standin(converted: Path, folder: Path) -> Path:
    """Write the stand-in TorchScript as ``folder/inception-2015-12-05.pt`` (clean-fid's name)."""
    from msgan_eval.features.inception import pytorch_fid_inception

    state = torch.load(converted, map_location="cpu", weights_only=True)
    layers = _Layers(pytorch_fid_inception(state, 2048)).eval()
    target = Path(folder) / NVIDIA_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)      # torch.jit is deprecated upstream
        traced = torch.jit.trace(layers, torch.zeros(1, 3, 299, 299), check_trace=False)
        torch.jit.save(torch.jit.script(_NvidiaStandIn(traced).eval()), str(target))
    return target


def use_standin_in_cleanfid(monkeypatch, folder: Path) -> None:
    """Make clean-fid load ``folder/inception-2015-12-05.pt`` and never download.

    clean-fid's ``feature_extractor`` hard-codes ``/tmp`` (``./`` on Windows) as the folder and
    calls ``check_download_inception``; we keep its ``InceptionV3W`` code (the ``clean`` mode's
    ``(x - 128) / 128`` and ``self.layers`` call, the legacy mode's ``self.base(x,
    return_features=True)``) and change only the folder.
    """
    import cleanfid.features as cf
    from cleanfid.inception_torchscript import InceptionV3W

    class LocalInceptionV3W(InceptionV3W):
        def __init__(self, path, download=True, resize_inside=False):
            super().__init__(str(folder), download=False, resize_inside=resize_inside)

    monkeypatch.setattr(cf, "InceptionV3W", LocalInceptionV3W)


def write_pngs(folder: Path, images: np.ndarray, mode: str = "RGB", prefix: str = "") -> Path:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for i, img in enumerate(images):
        Image.fromarray(img).convert(mode).save(folder / f"{prefix}{i:04d}.png")
    return folder


def sample_crops(index: int, n: int, size, seed: int) -> np.ndarray:
    """``n`` seeded (h, w) crops of scikit-learn's bundled photo ``index`` (china, flower: 427x640)."""
    from sklearn.datasets import load_sample_images

    photo = load_sample_images().images[index]
    h, w = size
    rng = np.random.default_rng(seed)
    ys = rng.integers(0, photo.shape[0] - h + 1, n)
    xs = rng.integers(0, photo.shape[1] - w + 1, n)
    return np.stack([photo[y:y + h, x:x + w] for y, x in zip(ys, xs)])


KINDS = {"fmnist28": None, "rgb32": (32, 32), "rgb304x320": (304, 320)}


def real_images(kind: str, n: int, second: bool) -> np.ndarray:
    """``n`` real images of one kind: 28x28 Fashion-MNIST (grayscale), or crops of the photos.

    304x320 is larger than 299 on both sides (clean-fid's PIL bicubic then antialiases) and not
    square (a swapped axis would show).
    """
    if kind == "fmnist28":
        from msgan_eval.datasets import load_fashion_mnist

        fm, _ = load_fashion_mnist("test")
        return fm[n:2 * n] if second else fm[:n]
    return sample_crops(int(second), n, KINDS[kind], seed=1 + int(second))


def real_sets(root: Path, n: int = 4) -> tuple:
    """Two flat folders A, B, each with ``n`` images of every kind (three sizes in one folder).

    The peers stack a batch with torch's default collate, so they are called with batch size 1;
    mixing the sizes in one folder lets one FID (one 2048x2048 matrix square root, about a minute
    on a loaded CPU) cover every size.
    """
    folders = []
    for second, name in ((False, "a"), (True, "b")):
        folder = root / name
        for kind in KINDS:
            images = real_images(kind, n, second)
            mode = "L" if kind == "fmnist28" else "RGB"
            write_pngs(folder, images, mode, prefix=kind)
        folders.append(folder)
    return tuple(folders)
