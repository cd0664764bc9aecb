"""DINOv2 and CLIP features, FD, KID and CMMD through the public road against the reference code on
the same seeded random weights (official layouts) and the same image files.

References: dgm-eval's DINOv2 transform + the official DINOv2 forward (tests/reference_dinov2.py);
OpenAI's ``_transform`` (torchvision, as clip/clip.py lines 79-87) + OpenAI's model (torch-fidelity's
copy of clip/model.py); torch-fidelity's own ``FeatureExtractorCLIP`` on the TorchScript archive;
cmmd-pytorch's ``io_util.py`` / ``embedding.py`` / ``distance.py`` transcribed below (Apache 2.0,
Google Research; its model is HF's port of OpenAI's weights, here OpenAI's own code). Features must
agree to 1e-5, FD / KID / CMMD to 1e-4 relative (the issue's bar).
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision.transforms as TF
from _vit_fixtures import (
    clip_reference,
    clip_state,
    dinov2_reference,
    images,
    write_clip_archive,
    write_dinov2,
)
from PIL import Image

import msgan_eval
from msgan_eval.errors import ParameterError

IMAGENET_MEAN, IMAGENET_STD = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
FEATURE_TOL = 1e-5
METRIC_RTOL = 1e-4


def _folder(root, name, arrays, mode=None):
    folder = root / name
    folder.mkdir(parents=True)
    for i, arr in enumerate(arrays):
        im = Image.fromarray(arr)
        if mode == "L":
            im = im.convert("L")
        elif mode == "RGBA":       # translucent: alpha matters to OpenAI's resize
            alpha = Image.fromarray((np.arange(arr.shape[0] * arr.shape[1]) * 7 % 256)
                                    .astype(np.uint8).reshape(arr.shape[:2]))
            im.putalpha(alpha)
        im.save(folder / f"{i:03d}.png")
    return folder


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Two folders of odd sizes and modes (28x28 grey + 33x47 RGBA; 40x40 RGB + 29x52 grey)."""
    root = tmp_path_factory.mktemp("vit")
    a = _folder(root, "a/grey", images(4, (28, 28), seed=1), "L")
    _folder(root, "a/rgba", images(4, (33, 47), seed=2), "RGBA")
    _folder(root, "b/rgb", images(5, (40, 40), seed=3))
    _folder(root, "b/grey", images(3, (29, 52), seed=4), "L")
    return {"root": root, "a": a.parent, "b": root / "b"}


def _files(folder):
    return sorted(p for p in folder.rglob("*.png"))


@pytest.fixture(scope="module")
def dinov2_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("dino") / "dinov2_vits14_pretrain.pth"
    return path, write_dinov2(path, "dinov2-vit-s14", seed=7)


@pytest.fixture(scope="module")
def clip_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("clip")
    state = clip_state("clip-vit-b32", seed=11)
    write_clip_archive(root / "ViT-B-32.pt", state)
    torch.save(state, root / "clip-b32-state-dict.pt")
    return root / "ViT-B-32.pt", root / "clip-b32-state-dict.pt", state


@torch.no_grad()
def _dgm_eval_features(model, files):
    """dgm-eval: Image.open(p).convert('RGB'), TF.Resize((224, 224), BICUBIC), ToTensor,
    Normalize(ImageNet) (dgm_eval/models/dinov2.py transform; dataloaders.py ImagePathDataset)."""
    to_tensor = TF.Compose([TF.Resize((224, 224), TF.InterpolationMode.BICUBIC), TF.ToTensor()])
    x = torch.stack([TF.Normalize(IMAGENET_MEAN, IMAGENET_STD)(to_tensor(Image.open(p).convert("RGB")))
                     for p in files])
    return model(x).double().numpy()


@torch.no_grad()
def _openai_features(visual, files, n_px=224):
    """OpenAI's preprocess = clip.clip._transform(n_px) on Image.open(p), then model.visual."""
    transform = TF.Compose([TF.Resize(n_px, interpolation=TF.InterpolationMode.BICUBIC),
                            TF.CenterCrop(n_px), lambda im: im.convert("RGB"), TF.ToTensor(),
                            TF.Normalize(CLIP_MEAN, CLIP_STD)])
    return visual(torch.stack([transform(Image.open(p)) for p in files])).double().numpy()


def _cmmd_pytorch_embeddings(visual, files, size=224):
    """cmmd-pytorch: CMMDDataset._read_image (centre crop + PIL bicubic, float32, grey tiled),
    / 255, _resize_bicubic (same size), CLIPImageProcessor's normalize, the image embedding,
    embs /= norm (io_util.py lines 52-70, 100-104; embedding.py lines 20-25, 49-76)."""
    batch = []
    for p in files:
        im = Image.open(p)
        w, h = im.size
        side = min(w, h)
        top, left = (h - side) // 2, (w - side) // 2
        im = im.crop((left, top, left + side, top + side)).resize((size, size), Image.BICUBIC)
        x = np.asarray(im).astype(np.float32)
        batch.append(np.tile(x[..., None], (1, 1, 3)) if x.ndim == 2 else x)
    x = np.stack(batch) / 255.0
    t = torch.nn.functional.interpolate(torch.from_numpy(x.transpose(0, 3, 1, 2)), size=(size, size),
                                        mode="bicubic").permute(0, 2, 3, 1).numpy()
    t = (t - np.array(CLIP_MEAN, dtype=t.dtype)) / np.array(CLIP_STD, dtype=t.dtype)
    with torch.no_grad():
        embs = visual(torch.from_numpy(np.ascontiguousarray(t.transpose(0, 3, 1, 2))))
    return (embs / torch.linalg.norm(embs, axis=-1, keepdims=True)).numpy()


def _cmmd_pytorch_mmd(x, y, sigma=10, scale=1000):
    """distance.py ``mmd`` (lines 27-62), on float64 embeddings."""
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    x_sq, y_sq = torch.diag(x @ x.T), torch.diag(y @ y.T)
    gamma = 1 / (2 * sigma ** 2)
    k_xx = torch.mean(torch.exp(-gamma * (-2 * x @ x.T + x_sq[:, None] + x_sq[None, :])))
    k_xy = torch.mean(torch.exp(-gamma * (-2 * x @ y.T + x_sq[:, None] + y_sq[None, :])))
    k_yy = torch.mean(torch.exp(-gamma * (-2 * y @ y.T + y_sq[:, None] + y_sq[None, :])))
    return float(scale * (k_xx + k_yy - 2 * k_xy))


def _ours(features, folder, weights, preset=None):
    from msgan_eval.evaluate.features import feature_source
    from msgan_eval.evaluate.inputs import as_image_set

    source = feature_source(features, preset=preset, feature_weights=weights, device="cpu",
                            batch_size=4)
    return source.of(as_image_set(str(folder), param="x"))


def _frechet(a, b):
    from pytorch_fid.fid_score import calculate_frechet_distance

    return calculate_frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mean(0),
                                      np.cov(b, rowvar=False))


@pytest.mark.numerics
def test_dinov2_features_and_fd_equal_dgm_eval_on_the_official_model(data, dinov2_file):
    path, state = dinov2_file
    model = dinov2_reference(state, "dinov2-vit-s14")
    for side in ("a", "b"):
        ref = _dgm_eval_features(model, _files(data[side]))
        ours = _ours("dinov2-vit-s14", data[side], path)
        assert ours.shape == ref.shape == (len(ref), 384)
        assert np.abs(ours - ref).max() <= FEATURE_TOL
    result = msgan_eval.fid(str(data["a"]), str(data["b"]), features="dinov2-vit-s14",
                            feature_weights=path, device="cpu")
    ref_fd = _frechet(_dgm_eval_features(model, _files(data["a"])),
                      _dgm_eval_features(model, _files(data["b"])))
    assert result.fid == pytest.approx(ref_fd, rel=METRIC_RTOL)
    assert (result.features, result.preset, result.dims) == ("dinov2-vit-s14", "dgm-eval", 384)
    assert result.weights["status"] == "unverified"      # Meta publishes no SHA-256


@pytest.mark.numerics
@pytest.mark.parametrize("layout", ["torchscript-archive", "state-dict"])
def test_clip_features_equal_openai_transform_and_model(data, clip_files, layout):
    archive, state_file, state = clip_files
    visual = clip_reference(state)
    weights = archive if layout == "torchscript-archive" else state_file
    for side in ("a", "b"):
        ref = _openai_features(visual, _files(data[side]))
        ours = _ours("clip-vit-b32", data[side], weights)
        assert ours.shape == ref.shape == (len(ref), 512)
        assert np.abs(ours - ref).max() <= FEATURE_TOL


@pytest.mark.numerics
def test_clip_torch_fidelity_preset_equals_its_extractor(data, clip_files):
    from torch_fidelity.feature_extractor_clip import FeatureExtractorCLIP

    archive, _, _ = clip_files
    extractor = FeatureExtractorCLIP("clip-vit-b-32", ["clip"], feature_extractor_weights_path=str(archive))
    files = _files(data["b"] / "rgb")
    with torch.no_grad():
        x = torch.stack([torch.from_numpy(np.asarray(Image.open(p).convert("RGB"))).permute(2, 0, 1)
                         for p in files])
        ref = extractor(x)[0].double().numpy()
    ours = _ours("clip-vit-b32", data["b"] / "rgb", archive, preset="torch-fidelity")
    assert np.abs(ours - ref).max() <= FEATURE_TOL


@pytest.mark.numerics
def test_dinov2_torch_fidelity_preset_equals_its_forward(data, dinov2_file):
    """torch-fidelity's FeatureExtractorDinoV2.forward (uint8 -> float, TF1 bilinear to 224,
    normalize x 255) on the official model (its own loader needs torch.hub online)."""
    from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x

    path, state = dinov2_file
    model = dinov2_reference(state, "dinov2-vit-s14")
    files = _files(data["b"] / "rgb")
    x = torch.stack([torch.from_numpy(np.asarray(Image.open(p).convert("RGB"))).permute(2, 0, 1)
                     for p in files]).float()
    x = interpolate_bilinear_2d_like_tensorflow1x(x, size=(224, 224), align_corners=False)
    x = TF.functional.normalize(x, tuple(255 * m for m in IMAGENET_MEAN),
                                tuple(255 * s for s in IMAGENET_STD))
    with torch.no_grad():
        ref = model(x).double().numpy()
    ours = _ours("dinov2-vit-s14", data["b"] / "rgb", path, preset="torch-fidelity")
    assert np.abs(ours - ref).max() <= FEATURE_TOL


@pytest.mark.numerics
def test_kid_on_clip_features_equals_torch_fidelity(data, clip_files):
    from torch_fidelity.metric_kid import kid_features_to_metric

    archive, _, state = clip_files
    visual = clip_reference(state)
    fa, fb = (_openai_features(visual, _files(data[s])) for s in ("a", "b"))
    ref = kid_features_to_metric(torch.from_numpy(fa), torch.from_numpy(fb), kid_subsets=10,
                                 kid_subset_size=6, kid_degree=3, kid_gamma=None, kid_coef0=1,
                                 rng_seed=3, verbose=False)
    ours = msgan_eval.kid(str(data["a"]), str(data["b"]), subsets=10, subset_size=6, seed=3,
                          features="clip-vit-b32", feature_weights=archive, device="cpu")
    assert ours.kid == pytest.approx(ref["kernel_inception_distance_mean"], rel=METRIC_RTOL)
    assert ours.features == "clip-vit-b32" and ours.preset == "openai-clip"


@pytest.mark.numerics
def test_cmmd_equals_cmmd_pytorch(tmp_path, clip_files):
    """RGB and grey files of several sizes (cmmd-pytorch cannot read RGBA: 4 channels)."""
    archive, _, state = clip_files
    ref_dir = _folder(tmp_path, "ref", images(5, (36, 50), seed=5))
    _folder(tmp_path, "ref2", images(2, (28, 28), seed=6), "L")
    eval_dir = _folder(tmp_path, "eval", images(6, (45, 31), seed=8))
    visual = clip_reference(state)
    ref_files = _files(ref_dir) + _files(tmp_path / "ref2")
    x = _cmmd_pytorch_embeddings(visual, ref_files).astype(np.float64)
    y = _cmmd_pytorch_embeddings(visual, _files(eval_dir)).astype(np.float64)
    expected = _cmmd_pytorch_mmd(x, y)
    combined = tmp_path / "refs"
    for i, p in enumerate(ref_files):
        (combined / "c").mkdir(parents=True, exist_ok=True)
        (combined / "c" / f"{i:03d}.png").write_bytes(p.read_bytes())
    ours = msgan_eval.cmmd(str(combined), str(eval_dir), features="clip-vit-b32",
                           feature_weights=archive, bootstrap=20, device="cpu")
    assert ours.cmmd == pytest.approx(expected, rel=METRIC_RTOL)
    assert ours.preset == "cmmd" and ours.low <= ours.cmmd <= ours.high


def test_timm_towers_of_every_variant_take_the_official_keys():
    """The large variants: the official layouts (our key table, the transcription's modules, OpenAI's
    model) map onto timm's towers key for key and shape for shape, built on the meta device."""
    import timm
    from reference_dinov2 import dinov2_hub_model
    from torch_fidelity.feature_extractor_clip import VisionTransformer

    from msgan_eval.features.networks import NETWORKS, expected_shapes
    from msgan_eval.features.vit import clip_to_timm, dinov2_to_timm

    arch = {"dinov2-vit-s14": "vits14", "dinov2-vit-b14": "vitb14", "dinov2-vit-l14": "vitl14",
            "dinov2-vit-g14": "vitg14"}
    for net in NETWORKS.values():
        shapes = expected_shapes(net)
        with torch.device("meta"):
            if net.family == "dinov2":
                official = dinov2_hub_model(arch[net.name]).state_dict()
                tower = timm.create_model(net.timm_name, pretrained=False, img_size=224,
                                          num_classes=0)
            else:
                official = {f"visual.{k}": v for k, v in VisionTransformer(
                    net.input_size, net.patch, net.width, net.depth, net.heads, net.dims
                ).state_dict().items()}
                tower = timm.create_model(net.timm_name, pretrained=False, num_classes=net.dims)
            state = {k: torch.empty(s) for k, s in shapes.items()}
            mapped = dinov2_to_timm(net, state) if net.family == "dinov2" else clip_to_timm(state)
        assert {k: tuple(v.shape) for k, v in official.items()} == shapes, net.name
        theirs = tower.state_dict()
        assert set(mapped) == set(theirs), net.name
        assert all(tuple(mapped[k].shape) == tuple(theirs[k].shape) for k in theirs), net.name


def test_compare_runs_cmmd_and_the_feature_space_and_check_gates_on_it(tmp_path, clip_files):
    from click.testing import CliRunner

    from msgan_eval.cli import main

    archive, _, _ = clip_files
    ref = _folder(tmp_path, "ref/c", images(6, (30, 30), seed=21)).parent
    base = _folder(tmp_path, "base/c", images(5, (30, 30), seed=22)).parent
    cand = _folder(tmp_path, "cand/c", images(5, (30, 30), seed=21)).parent   # near the reference
    report = msgan_eval.compare(str(base), str(cand), str(ref), metrics=("fid", "kid", "cmmd"),
                                bootstrap=20, kid_subset_size=4, features="clip-vit-b32",
                                feature_weights=archive, cmmd_features="clip-vit-b32",
                                cmmd_weights=archive, device="cpu", out=tmp_path / "report")
    assert report.skipped == {}
    direct = msgan_eval.cmmd(str(ref), str(cand), features="clip-vit-b32", feature_weights=archive,
                             device="cpu", bootstrap=10)
    assert report.runs["candidate"]["cmmd"]["value"] == pytest.approx(direct.cmmd, rel=1e-12)
    assert report.verdicts["cmmd"] in ("candidate-better", "baseline-better",
                                       "no-significant-difference")
    assert report["details"]["cmmd"]["preset"] == "cmmd"
    assert report["parameters"]["features"] == "clip-vit-b32"
    assert report["provenance"]["weights"]["clip-vit-b32"]["status"] == "unverified"
    direct_fd = msgan_eval.fid(str(ref), str(cand), features="clip-vit-b32", feature_weights=archive,
                               device="cpu").fid
    assert report.runs["candidate"]["fid"]["value"] == pytest.approx(direct_fd, rel=1e-9)
    expect = tmp_path / "expect.toml"
    expect.write_text(f"[candidate.cmmd]\nmax = {direct.cmmd * 2}\n")
    result = CliRunner().invoke(main, ["check", str(tmp_path / "report"), "--expect", str(expect)])
    assert result.exit_code == 0, result.output
    expect.write_text(f"[candidate.cmmd]\nmax = {direct.cmmd / 2}\n")
    assert CliRunner().invoke(main, ["check", str(tmp_path / "report"), "--expect",
                                     str(expect)]).exit_code == 1


def test_statistics_files_record_the_feature_space_and_round_trip(tmp_path, data, dinov2_file):
    from msgan_eval.features.stats_cache import load_fid_stats

    path, _ = dinov2_file
    kw = dict(features="dinov2-vit-s14", feature_weights=path, device="cpu")
    out = tmp_path / "a.npz"
    msgan_eval.statistics(str(data["a"]), out=out, **kw)
    stored = load_fid_stats(out)
    assert (stored.features, stored.preset, stored.dims) == ("dinov2-vit-s14", "dgm-eval", 384)
    from_file = msgan_eval.fid(str(out), str(data["b"]), **kw)
    from_images = msgan_eval.fid(str(data["a"]), str(data["b"]), use_cache=False, **kw)
    assert from_file.fid == pytest.approx(from_images.fid, rel=1e-9)
    with pytest.raises(ParameterError, match="statistics of dinov2-vit-s14 features"):
        msgan_eval.fid(str(out), str(data["b"]), features="clip-vit-b32", device="cpu")
