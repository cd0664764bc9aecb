"""FID presets: the named roads from decoded pixels to the Inception's input, one per FID tool.

The same images and the same TF 2015-12-05 Inception weights give different FIDs in pytorch-fid,
torch-fidelity and clean-fid because each resizes differently (clean-fid's ``resize.py`` names its
modes for that reason). Each preset below spells out one tool's pipeline; ``--preset NAME``
reproduces that tool's number.

Every preset starts from our one image road (:mod:`msgan_eval.images`): PIL decode, ``convert("RGB")``
for 8-bit modes (all three tools do the same), uint8 (H, W, 3). Then, per preset:

``pytorch-fid`` (the default; pytorch-fid ``fid_score.py`` + ``inception.py``)
    dtype: ``ToTensor``, float32 in [0, 1] (``uint8 / 255``). Resize: inside the network,
    ``F.interpolate(bilinear, align_corners=False)`` to 299x299, no antialiasing. Quantisation:
    none. Normalisation: ``2 * x - 1``.
``torch-fidelity`` (``feature_extractor_inceptionv3.py``)
    dtype: uint8 tensor cast to float32, values in [0, 255]. Resize: inside the network, its
    TensorFlow-1.x bilinear (``interpolate_bilinear_2d_like_tensorflow1x``, ``align_corners=False``:
    output pixel ``i`` samples input ``i * in / out``, no half-pixel offset, edge clamped).
    Quantisation: none. Normalisation: ``(x - 128) / 128``.
``clean-fid`` (``cleanfid`` ``mode="clean"``, ``resize.py`` ``make_resizer("PIL", False, "bicubic")``)
    dtype: each channel to a float32 PIL image (mode ``F``). Resize: before the network, in the
    loader, PIL bicubic to 299x299 (PIL's filter widens with the scale when shrinking: antialiased),
    then clipped to [0, 255]. Quantisation: none (float32 kept). Normalisation: ``(x - 128) / 128``
    (``InceptionV3W.forward``).
``clean-fid-legacy-tensorflow`` (``cleanfid`` ``mode="legacy_tensorflow"``)
    dtype: uint8 to float32 in [0, 255]. Resize: inside the network, NVIDIA's TorchScript
    Inception's ``affine_grid`` + ``grid_sample(bilinear, border, align_corners=False)`` with the
    grid shifted by ``1/size - 1/299``: the same TensorFlow-1.x bilinear as torch-fidelity's.
    Quantisation: none. Normalisation: ``(x - 128) / 128``.

The convolutions after the normalisation are the same FID Inception in every tool, so every preset
keeps the fast network (:class:`~msgan_eval.features.inception_fast.FastFIDInception`): the
normalisation ``scale * x + shift`` is folded into its first convolution.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

INCEPTION_SIZE = 299

# One batch: (positions in the batch, float images N x 3 x H x W) per distinct size.
Batch = List[Tuple[List[int], torch.Tensor]]


@dataclass(frozen=True)
class Preset:
    """One tool's preprocessing, by stage (see the module docstring for each preset)."""

    name: str
    reproduces: str            # the peer call this preset equals
    pixel_scale: float         # float pixel = uint8 * pixel_scale (1/255: ToTensor; 1: [0, 255])
    loader_resize: Optional[str]   # resize in the loader, before batching (None: no resize there)
    network_resize: Optional[str]  # resize at the network's input (None: already 299x299)
    norm_scale: float          # network input = norm_scale * pixel + norm_shift
    norm_shift: float
    weights_file: str          # where the peer looks for its copy of the weights

    def to_dict(self) -> dict:
        return {"name": self.name, "reproduces": self.reproduces,
                "loader_resize": self.loader_resize, "network_resize": self.network_resize,
                "pixel_range": "[0, 1]" if self.pixel_scale != 1 else "[0, 255]",
                "normalisation": f"{self.norm_scale:g} * x + {self.norm_shift:g}"}


PRESETS: Dict[str, Preset] = {p.name: p for p in (
    Preset("pytorch-fid", "pytorch_fid.fid_score.calculate_fid_given_paths", 1 / 255, None,
           "torch-bilinear", 2.0, -1.0,
           "$TORCH_HOME/hub/checkpoints/pt_inception-2015-12-05-6726825d.pth"),
    Preset("torch-fidelity", "torch_fidelity.calculate_metrics(fid=True)", 1.0, None,
           "tf1-bilinear", 1 / 128, -1.0,
           "$TORCH_HOME/hub/checkpoints/weights-inception-2015-12-05-6726825d.pth "
           "(or feature_extractor_weights_path=)"),
    Preset("clean-fid", 'cleanfid.fid.compute_fid(mode="clean")', 1.0, "pil-bicubic-float32",
           None, 1 / 128, -1.0, "/tmp/inception-2015-12-05.pt (NVIDIA's TorchScript)"),
    Preset("clean-fid-legacy-tensorflow", 'cleanfid.fid.compute_fid(mode="legacy_tensorflow")',
           1.0, None, "tf1-bilinear", 1 / 128, -1.0,
           "/tmp/inception-2015-12-05.pt (NVIDIA's TorchScript)"),
)}
PRESET_NAMES = tuple(PRESETS)


def get_preset(name: str) -> Preset:
    """The preset called ``name``; ValueError listing the names otherwise."""
    if name not in PRESETS:
        raise ValueError(f"unknown FID preset {name!r}; choose one of {', '.join(PRESET_NAMES)}")
    return PRESETS[name]


def pil_bicubic_float32(image: np.ndarray, size: int = INCEPTION_SIZE) -> np.ndarray:
    """clean-fid's ``clean`` resize of one uint8 (H, W, 3) image: float32 (size, size, 3).

    As ``make_resizer("PIL", quantize_after=False, "bicubic")``: each channel becomes a float32
    PIL image (mode ``F``), is resized with PIL's bicubic (antialiased when shrinking) and clipped
    to [0, 255]; nothing is rounded back to 8 bits.
    """
    from PIL import Image

    out = np.empty((size, size, 3), dtype=np.float32)
    for c in range(3):
        channel = Image.fromarray(image[:, :, c].astype(np.float32), mode="F")
        out[:, :, c] = np.asarray(channel.resize((size, size), resample=Image.BICUBIC)).clip(0, 255)
    return out


def _tf1_axis(n_in: int, n_out: int, device) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Source indices (lo, hi) and weights of TF 1.x's bilinear along one axis.

    TF 1.x (``align_corners=False``, no half-pixel centres) samples output ``i`` at ``i * in/out``;
    the scale is a float32 as in torch-fidelity's ``resample_manually``.
    """
    pos = torch.arange(n_out, dtype=torch.float32, device=device) * torch.tensor(
        n_in / n_out, dtype=torch.float32)
    lo = pos.long()
    hi = (lo + 1).clamp_max(n_in - 1)
    return lo, hi, pos - lo.float()


def tf1_bilinear(x: torch.Tensor, size: int = INCEPTION_SIZE) -> torch.Tensor:
    """TensorFlow 1.x bilinear resize of float NCHW ``x`` to ``size`` x ``size``.

    The resize of torch-fidelity (``interpolate_bilinear_2d_like_tensorflow1x``) and of NVIDIA's
    TorchScript Inception (``grid_sample`` on a grid shifted to sample ``i * in / out``, border
    padding): the same interpolation, written as rows then columns (each a lerp of two gathers).
    """
    ylo, yhi, dy = _tf1_axis(x.shape[2], size, x.device)
    xlo, xhi, dx = _tf1_axis(x.shape[3], size, x.device)
    rows_lo, rows_hi = x[:, :, ylo, :], x[:, :, yhi, :]
    rows = rows_lo + (rows_hi - rows_lo) * dy.view(1, 1, size, 1).to(x.dtype)
    cols_lo, cols_hi = rows[:, :, :, xlo], rows[:, :, :, xhi]
    return cols_lo + (cols_hi - cols_lo) * dx.view(1, 1, 1, size).to(x.dtype)


def torch_bilinear(x: torch.Tensor, size: int = INCEPTION_SIZE) -> torch.Tensor:
    """pytorch-fid's resize inside ``InceptionV3.forward``: bilinear, ``align_corners=False``."""
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)


NETWORK_RESIZES: Dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "torch-bilinear": torch_bilinear, "tf1-bilinear": tf1_bilinear}


def network_resize(preset: Preset, x: torch.Tensor) -> torch.Tensor:
    """``x`` resized to the network's 299x299 the preset's way (unchanged when done by the loader)."""
    if preset.network_resize is None:
        return x
    return NETWORK_RESIZES[preset.network_resize](x)


def normalise(preset: Preset, x: torch.Tensor) -> torch.Tensor:
    """The network input of preset pixels (the fast network folds this into its first conv)."""
    if preset.norm_shift == -1.0 and preset.norm_scale == 1 / 128:
        return (x - 128) / 128          # torch-fidelity's and clean-fid's own expression
    return preset.norm_scale * x + preset.norm_shift


class Collate:
    """The DataLoader ``collate_fn`` of a preset: uint8 (H, W, 3) images to float batches.

    Images are stacked per size (several sizes may share a batch; each size goes through the
    network on its own). The permuted NHWC stack is channels_last in memory, which the fast network
    wants. A picklable class, so DataLoader workers can run it (the loader resize runs there).
    """

    def __init__(self, preset_name: str):
        self.preset = get_preset(preset_name)

    def __call__(self, images: Sequence[np.ndarray]) -> Batch:
        p = self.preset
        if p.loader_resize == "pil-bicubic-float32":
            images = [pil_bicubic_float32(img) for img in images]
        by_size: Dict[tuple, List[int]] = {}
        for pos, img in enumerate(images):
            by_size.setdefault(img.shape, []).append(pos)
        out = []
        for positions in by_size.values():
            stack = torch.from_numpy(np.stack([images[pos] for pos in positions]))
            x = stack.permute(0, 3, 1, 2).float()
            # ToTensor's float() / 255 for pytorch-fid; the others keep [0, 255] floats.
            out.append((positions, x.div(255) if p.pixel_scale != 1 else x))
        return out


# ---- DINOv2 and CLIP (features/networks.py): the presets of the tools that embed with them ----
#
# ``dgm-eval`` (layer6ai-labs/dgm-eval ``dgm_eval/models/dinov2.py`` ``transform``, default
#     ``clean_resize=False``; its loader opens ``Image.open(p).convert("RGB")``): PIL bicubic resize
#     of the 8-bit RGB image to 224 x 224 (PIL rounds back to 8 bits), ToTensor, ImageNet mean/std.
# ``openai-clip`` (openai/CLIP ``clip/clip.py`` ``_transform`` lines 79-86, on ``Image.open(p)``:
#     RGBA and LA files keep their alpha through the resize, premultiplied as PIL resizes them,
#     and lose it at ``convert("RGB")``; clean-fid's ``clip_vit_b_32`` converts to RGB first, the
#     same on opaque images): PIL bicubic resize of the shorter
#     side to the input size (the longer to ``int(size * long / short)``, torchvision's
#     ``_compute_resized_output_size``), centre crop (offset ``int(round((h - size) / 2))``),
#     ToTensor, CLIP mean/std.
# ``cmmd`` (sayakpaul/cmmd-pytorch ``io_util.py`` ``_center_crop_and_resize``): centre crop to a
#     square (offset ``(h - l) // 2``), then PIL bicubic resize to the input size, ``/ 255``, CLIP
#     mean/std (its ``embedding.py`` bicubic re-interpolation to the same size is the identity).
# ``torch-fidelity`` (``feature_extractor_dinov2.py`` / ``_clip.py``): uint8 to float32 in
#     [0, 255], TensorFlow-1.x bilinear to the input size at the network, then mean/std x 255.
#
# The normalisation happens at the network (features/vit.py), on the float pixels built here.


@dataclass(frozen=True)
class EmbedPreset:
    """One tool's preprocessing for a DINOv2 / CLIP tower (see the comment above)."""

    name: str
    reproduces: str
    families: Tuple[str, ...]      # the network families it applies to
    loader_resize: Optional[str]   # square | short-side-crop | crop-square (PIL bicubic, uint8)
    network_resize: Optional[str]  # tf1-bilinear, at the network's input
    pixel_scale: float             # 1/255: ToTensor's [0, 1]; 1: [0, 255]

    def to_dict(self) -> dict:
        return {"name": self.name, "reproduces": self.reproduces,
                "loader_resize": self.loader_resize, "network_resize": self.network_resize,
                "pixel_range": "[0, 1]" if self.pixel_scale != 1 else "[0, 255]"}


EMBED_PRESETS: Dict[str, EmbedPreset] = {p.name: p for p in (
    EmbedPreset("dgm-eval", "dgm_eval DINOv2Encoder.transform (clean_resize=False)", ("dinov2",),
                "square", None, 1 / 255),
    EmbedPreset("openai-clip", "clip.load(...)[1] (_transform) on Image.open(path)",
                ("clip",), "short-side-crop", None, 1 / 255),
    EmbedPreset("cmmd", "cmmd-pytorch CMMDDataset + ClipEmbeddingModel.embed", ("clip",),
                "crop-square", None, 1 / 255),
    EmbedPreset("torch-fidelity", "torch_fidelity feature_extractor_dinov2 / _clip",
                ("dinov2", "clip"), None, "tf1-bilinear", 1.0),
)}


def embed_presets_for(family: str) -> Tuple[str, ...]:
    return tuple(name for name, p in EMBED_PRESETS.items() if family in p.families)


def pil_resize_square(image: np.ndarray, size: int) -> np.ndarray:
    """dgm-eval's ``TF.Resize((size, size), BICUBIC)`` of an RGB uint8 image (PIL, 8-bit out)."""
    from PIL import Image

    if image.shape[:2] == (size, size):
        return image
    return np.asarray(Image.fromarray(image).resize((size, size), resample=Image.BICUBIC))


def short_side_crop(image: np.ndarray, size: int) -> np.ndarray:
    """OpenAI's ``Resize(size, BICUBIC)``, ``CenterCrop(size)`` and ``convert("RGB")``
    (torchvision on a PIL image). An RGBA (H, W, 4) image is resized as PIL resizes RGBA, with
    its colours premultiplied by alpha, before the alpha is dropped, as ``_transform`` does to a
    file opened with ``Image.open``."""
    from PIL import Image

    h, w = image.shape[:2]
    short, long = (w, h) if w <= h else (h, w)
    new_long = int(size * long / short)
    new_w, new_h = (size, new_long) if w <= h else (new_long, size)
    im = Image.fromarray(image)
    if (new_h, new_w) != (h, w):
        im = im.resize((new_w, new_h), resample=Image.BICUBIC)
    top, left = int(round((new_h - size) / 2.0)), int(round((new_w - size) / 2.0))
    return np.asarray(im.crop((left, top, left + size, top + size)).convert("RGB"))


def crop_square_resize(image: np.ndarray, size: int) -> np.ndarray:
    """cmmd-pytorch's ``_center_crop_and_resize``: the centred square, then PIL bicubic."""
    from PIL import Image

    h, w = image.shape[:2]
    side = min(w, h)
    top, left = (h - side) // 2, (w - side) // 2
    im = Image.fromarray(image).crop((left, top, left + side, top + side))
    return np.asarray(im.resize((size, size), resample=Image.BICUBIC))


LOADER_RESIZES = {"square": pil_resize_square, "short-side-crop": short_side_crop,
                  "crop-square": crop_square_resize}


class EmbedCollate:
    """The DataLoader ``collate_fn`` of an embedding preset: uint8 (H, W, 3) images to float
    batches stacked per size (one size after a loader resize), as :class:`Collate`."""

    def __init__(self, preset_name: str, size: int):
        self.preset, self.size = EMBED_PRESETS[preset_name], size

    def __call__(self, images: Sequence[np.ndarray]) -> Batch:
        resize = LOADER_RESIZES.get(self.preset.loader_resize or "")
        if resize is not None:
            images = [resize(img, self.size) for img in images]
        by_size: Dict[tuple, List[int]] = {}
        for pos, img in enumerate(images):
            by_size.setdefault(img.shape, []).append(pos)
        out = []
        for positions in by_size.values():
            x = torch.from_numpy(np.stack([images[p] for p in positions])).permute(0, 3, 1, 2).float()
            out.append((positions, x.div(255) if self.preset.pixel_scale != 1 else x))
        return out


def embed_network_resize(preset: EmbedPreset, x: torch.Tensor, size: int) -> torch.Tensor:
    """``x`` at the network's input size, the preset's way (unchanged when the loader did it)."""
    if preset.network_resize == "tf1-bilinear":
        return tf1_bilinear(x, size)
    return x
