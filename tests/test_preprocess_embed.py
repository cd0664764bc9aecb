"""The DINOv2 / CLIP presets' pixels against the reference tools' own PIL / torchvision pipelines, on
odd sizes and modes (28x28 grayscale, 33x47 translucent RGBA, 47x33 RGB), bit for bit.

dgm-eval: ``Image.open(p).convert("RGB")`` then ``TF.Resize((224, 224), BICUBIC)`` + ``ToTensor``
(dgm_eval/dataloaders.py ImagePathDataset, models/dinov2.py transform). OpenAI: ``_transform``'s
``Resize(n, BICUBIC)``, ``CenterCrop(n)``, ``convert("RGB")``, ``ToTensor`` on ``Image.open(p)``
(clip/clip.py lines 79-87). cmmd-pytorch: ``_center_crop_and_resize`` then ``/ 255``
(io_util.py lines 52-65, 100).
"""
import numpy as np
import pytest
import torch
import torchvision.transforms as TF
from PIL import Image

from msgan_eval.features.embed import _KeepAlpha
from msgan_eval.features.preprocess import EMBED_PRESETS, EmbedCollate, embed_presets_for
from msgan_eval.images import scan_images

BICUBIC = TF.InterpolationMode.BICUBIC


@pytest.fixture(scope="module")
def odd_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("odd")
    rng = np.random.default_rng(0)
    (root / "c").mkdir()
    Image.fromarray(rng.integers(0, 256, (28, 28), dtype=np.uint8), "L").save(root / "c" / "grey.png")
    rgba = rng.integers(0, 256, (47, 33, 4), dtype=np.uint8)       # 33 wide, 47 high
    Image.fromarray(rgba, "RGBA").save(root / "c" / "rgba.png")
    Image.fromarray(rng.integers(0, 256, (33, 47, 3), dtype=np.uint8)).save(root / "c" / "wide.png")
    Image.fromarray(rng.integers(0, 256, (20, 30, 2), dtype=np.uint8), "LA").save(root / "c" / "la.png")
    return root


def _ours(root, preset, size, i):
    images = scan_images(root)
    dataset = _KeepAlpha(images) if EMBED_PRESETS[preset].loader_resize == "short-side-crop" \
        else images
    ((positions, x),) = EmbedCollate(preset, size)([dataset[i]])
    return images.refs[i].path, x[0]


@pytest.mark.parametrize("i", range(4))
def test_dgm_eval_preset_is_its_pil_resize(odd_files, i):
    path, ours = _ours(odd_files, "dgm-eval", 224, i)
    ref = TF.Compose([TF.Resize((224, 224), BICUBIC), TF.ToTensor()])(Image.open(path).convert("RGB"))
    assert torch.equal(ours, ref)


@pytest.mark.parametrize("size", [224, 336])
@pytest.mark.parametrize("i", range(4))
def test_openai_clip_preset_is_transform_on_the_opened_file(odd_files, i, size):
    """RGBA and LA files are resized with their alpha (premultiplied by PIL), as _transform does."""
    path, ours = _ours(odd_files, "openai-clip", size, i)
    ref = TF.Compose([TF.Resize(size, interpolation=BICUBIC), TF.CenterCrop(size),
                      lambda im: im.convert("RGB"), TF.ToTensor()])(Image.open(path))
    assert torch.equal(ours, ref)


def test_the_alpha_matters_to_openais_resize(odd_files):
    """Dropping the alpha first (what dgm-eval and clean-fid do) would give other pixels here."""
    path = sorted(odd_files.rglob("rgba.png"))[0]
    keep = TF.Compose([TF.Resize(224, interpolation=BICUBIC), TF.ToTensor()])(Image.open(path).convert("RGB"))
    premultiplied = TF.Compose([TF.Resize(224, interpolation=BICUBIC), lambda im: im.convert("RGB"),
                                TF.ToTensor()])(Image.open(path))
    assert not torch.equal(keep, premultiplied)


@pytest.mark.parametrize("i", range(4))
def test_cmmd_preset_is_its_crop_and_resize(odd_files, i):
    path, ours = _ours(odd_files, "cmmd", 224, i)
    im = Image.open(path).convert("RGB")
    w, h = im.size
    side = min(w, h)
    top, left = (h - side) // 2, (w - side) // 2
    im = im.crop((left, top, left + side, top + side)).resize((224, 224), resample=Image.BICUBIC)
    ref = torch.from_numpy(np.asarray(im).astype(np.float32) / 255.0).permute(2, 0, 1)
    assert torch.equal(ours, ref)


def test_torch_fidelity_preset_leaves_the_resize_to_the_network(odd_files):
    path, ours = _ours(odd_files, "torch-fidelity", 224, 2)
    assert torch.equal(ours, torch.from_numpy(np.array(Image.open(path).convert("RGB"))).permute(2, 0, 1).float())


def test_presets_per_family():
    assert embed_presets_for("dinov2") == ("dgm-eval", "torch-fidelity")
    assert embed_presets_for("clip") == ("openai-clip", "cmmd", "torch-fidelity")
