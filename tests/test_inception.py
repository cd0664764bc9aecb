"""FID Inception: parity with pytorch-fid (its own module, its own FID) and with the TorchScript."""
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from pytorch_fid import fid_score
from pytorch_fid.inception import InceptionV3

from msgan_eval import defaults
from msgan_eval.features.extract import cpu_inception_slice, extract_inception_features, image_set_statistics
from msgan_eval.features.inception import check_inception_state_dict, load_inception, read_inception_state_dict
from msgan_eval.images import scan_images
from msgan_eval.metrics.fid import frechet_distance

from _fid_fixtures import install_in_hub_cache, resolved
from conftest import fid_helper_torchscript, write_random_pngs


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("fid-folders")
    # Few images: each costs a full Inception pass, twice (ours and pytorch-fid's), on 2 CPU cores.
    return (write_random_pngs(root / "a", 6, seed=1), write_random_pngs(root / "b", 6, seed=2))


def _put_in_torch_home(weights_file: Path) -> None:
    """pytorch-fid loads the file from $TORCH_HOME's hub cache (load_state_dict_from_url)."""
    install_in_hub_cache(torch.load(weights_file, weights_only=True), Path(os.environ["TORCH_HOME"]))


def _our_fid(a, b, weights_file, dims):
    w = resolved(weights_file)
    sa = image_set_statistics(scan_images(a), weights=w, dims=dims, use_cache=False)
    sb = image_set_statistics(scan_images(b), weights=w, dims=dims, use_cache=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")      # n < dims: rank-deficient, on purpose (speed)
        return frechet_distance(sa.mu, sa.sigma, sb.mu, sb.sigma)


@pytest.mark.parametrize("dims", [64, 192])   # 2048 is covered with the real weights below
def test_fid_equals_pytorch_fid_with_random_weights(folders, random_weights, dims):
    _put_in_torch_home(random_weights)
    expected = fid_score.calculate_fid_given_paths([str(p) for p in folders], 50, "cpu", dims, 0)
    assert _our_fid(*folders, random_weights, dims) == pytest.approx(expected, rel=1e-4)


@pytest.mark.no_avx2_rerun("its network half is the statistics test below, its Fréchet half "
                           "test_fid_math's (ours against the sqrtm route), both rerun under "
                           "AVX2; what is left is 20 of its 23 s in scipy's 2048 x 2048 sqrtm")
def test_fid_equals_pytorch_fid_with_real_converted_weights(folders, converted):
    _put_in_torch_home(converted)
    expected = fid_score.calculate_fid_given_paths([str(p) for p in folders], 50, "cpu", 2048, 0)
    assert expected > 1.0
    # Issue 7: the fast path (folded BatchNorm, channels_last) keeps FID within 1e-5 relative.
    assert _our_fid(*folders, converted, 2048) == pytest.approx(expected, rel=1e-5)


def test_statistics_equal_pytorch_fids_with_real_converted_weights(folders, converted):
    """Each folder's (mu, sigma) against pytorch-fid's own module on the real weights (2048-d):
    the part of the FID above that runs through torch, so the AVX2 rerun checks it cheaply."""
    _put_in_torch_home(converted)
    model = InceptionV3([InceptionV3.BLOCK_INDEX_BY_DIM[2048]])
    w = resolved(converted)
    for folder in folders:
        mu, sigma = fid_score.compute_statistics_of_path(str(folder), model, 50, 2048, "cpu", 0)
        ours = image_set_statistics(scan_images(folder), weights=w, dims=2048, use_cache=False)
        # the features' own tolerance (fast path: 1e-4); measured 2e-6 on AVX-512 and on AVX2
        np.testing.assert_allclose(ours.mu, mu, rtol=0, atol=1e-4)
        np.testing.assert_allclose(ours.sigma, sigma, rtol=0, atol=1e-4)


def test_fast_features_match_pytorch_fid_module(tmp_path, converted, monkeypatch):
    """The fast network vs pytorch-fid's own InceptionV3 and get_activations; 11 images in one
    batch also cover the CPU slicing (8 + 3, slices of 8 whatever this CPU's vector width)."""
    _put_in_torch_home(converted)
    monkeypatch.setattr(defaults, "CPU_INCEPTION_SLICE_BY_CAPABILITY", {})
    folder = write_random_pngs(tmp_path / "imgs", 11, size=(40, 24), seed=4)
    model = InceptionV3([InceptionV3.BLOCK_INDEX_BY_DIM[2048]])
    files = sorted(folder.glob("*.png"))
    assert cpu_inception_slice() == defaults.CPU_INCEPTION_SLICE < len(files) <= defaults.BATCH_SIZE
    expected = fid_score.get_activations(files, model, batch_size=11, dims=2048, num_workers=0)
    w = resolved(converted)
    fast = extract_inception_features(scan_images(folder), weights=w, dims=2048, fast=True)
    exact = extract_inception_features(scan_images(folder), weights=w, dims=2048, fast=False)
    np.testing.assert_allclose(fast, expected, rtol=0, atol=1e-4)
    np.testing.assert_allclose(exact, expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("onednn", [True, False], ids=["onednn-fused", "plain"])
@pytest.mark.parametrize("dims", [64, 192, 768, 2048])
def test_fast_network_matches_pytorch_fid_module_with_random_batchnorm(random_weights, dims,
                                                                       onednn, monkeypatch):
    """Every output block of the rewritten network, with random BatchNorm scales and statistics
    (the real weights have gamma = 1), against pytorch-fid's own module; on a CPU both roads:
    convolutions with oneDNN's fused ReLU, and PyTorch's ordinary convolution then ReLU."""
    from msgan_eval.features import inception_fast

    if onednn and not inception_fast.ONEDNN_FUSION:
        pytest.skip("this torch has no oneDNN fused convolution")
    monkeypatch.setattr(inception_fast.FoldedConv, "onednn", onednn)
    w = resolved(random_weights)
    gen = torch.Generator().manual_seed(3)
    x = torch.rand(2, 3, 47, 31, generator=gen)
    with torch.inference_mode():
        exact = load_inception(w, dims, fast=False)(x)[0]
        fast = load_inception(w, dims, fast=True)(x.contiguous(memory_format=torch.channels_last))[0]
    assert fast.shape == exact.shape
    assert float((fast - exact).abs().max()) <= 1e-4 * max(1.0, float(exact.abs().max()))


def test_architecture_table_is_pytorch_fids_network():
    """CONVS (what the fast network, the state-dict check and the conversion use) against the
    BasicConv2d modules of pytorch-fid's fid_inception_v3 structure: names, order and shapes."""
    from torchvision.models.inception import BasicConv2d

    from msgan_eval.features.inception import fid_inception_skeleton
    from msgan_eval.features.inception_fast import CONVS, state_dict_shapes

    net = fid_inception_skeleton()
    basics = [(name, m.conv) for name, m in net.named_modules() if isinstance(m, BasicConv2d)]
    assert [name for name, _ in basics] == list(CONVS)
    for name, conv in basics:
        assert CONVS[name] == (conv.in_channels, conv.out_channels, conv.kernel_size,
                               conv.stride[0], conv.padding), name
    assert state_dict_shapes() == {k: tuple(v.shape) for k, v in net.state_dict().items()}


def test_fast_features_need_no_torchvision(random_weights):
    """The fast path builds and runs without importing torchvision (about a second per process)."""
    script = ("import sys, torch; from msgan_eval.features.inception import load_inception; "
              "from msgan_eval.weights import INCEPTION, ResolvedWeights; "
              f"w = ResolvedWeights(INCEPTION, {str(random_weights)!r}, 'explicit', 'x'); "
              "load_inception(w, 2048, fast=True)(torch.rand(1, 3, 32, 32)); "
              "assert 'torchvision' not in sys.modules, 'torchvision was imported'")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]


def test_mixed_sizes_match_pytorch_fid_one_image_at_a_time(tmp_path, random_weights):
    _put_in_torch_home(random_weights)
    folder = tmp_path / "mixed"
    write_random_pngs(folder, 2, size=(32, 32), seed=5)
    write_random_pngs(tmp_path / "tmp", 2, size=(20, 36), seed=6)
    for i, f in enumerate(sorted((tmp_path / "tmp").glob("*.png"))):
        f.rename(folder / f"z{i}.png")
    files = sorted(folder.glob("*.png"))
    model = InceptionV3([InceptionV3.BLOCK_INDEX_BY_DIM[192]])
    expected = fid_score.get_activations(files, model, batch_size=1, dims=192, num_workers=0)
    got = extract_inception_features(scan_images(folder), weights=resolved(random_weights), dims=192,
                                     batch_size=4)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4)


def test_converted_weights_reproduce_the_torchscript_on_preprocessed_images(tmp_path, converted):
    """fid-helper's TorchScript fed pytorch-fid's preprocessing gives our pool3 features."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)   # torch.jit.load deprecation
        script = torch.jit.load(str(fid_helper_torchscript()), map_location="cpu").eval()
    folder = write_random_pngs(tmp_path / "one", 1, size=(64, 48), seed=9)
    img = scan_images(folder)[0]
    x = torch.from_numpy(img.copy()).permute(2, 0, 1)[None].float() / 255
    x = torch.nn.functional.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
    with torch.inference_mode():
        expected = script(2 * x - 1).numpy()
    got = extract_inception_features(scan_images(folder), weights=resolved(converted), dims=2048)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4)


def test_converted_file_has_pytorch_fids_exact_format(converted):
    """pytorch-fid's own loader (strict load_state_dict from the hub cache) accepts the file."""
    _put_in_torch_home(converted)
    model = InceptionV3([InceptionV3.BLOCK_INDEX_BY_DIM[64]])
    loaded = model.blocks[0][0].conv.weight
    expected = torch.load(converted, weights_only=True)["Conv2d_1a_3x3.conv.weight"]
    assert torch.equal(loaded, expected)


def test_validator_names_the_problem(tmp_path, random_weights):
    good = torch.load(random_weights, weights_only=True)
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(random_weights.read_bytes()[: 1 << 20])
    with pytest.raises(ValueError, match="truncated"):
        read_inception_state_dict(truncated)

    missing = dict(good)
    missing.pop("Mixed_7c.branch_pool.conv.weight")
    with pytest.raises(ValueError, match="missing keys.*Mixed_7c.branch_pool.conv.weight"):
        check_inception_state_dict(missing)

    reshaped = dict(good)
    reshaped["Conv2d_1a_3x3.conv.weight"] = torch.zeros(32, 3, 5, 5)
    with pytest.raises(ValueError, match="Conv2d_1a_3x3.conv.weight has shape"):
        check_inception_state_dict(reshaped)

    extra = dict(good)
    extra["AuxLogits.fc.weight"] = torch.zeros(3)
    with pytest.raises(ValueError, match="unexpected keys"):
        check_inception_state_dict(extra)

    with pytest.raises(ValueError, match="not a state dict"):
        check_inception_state_dict([1, 2])

    nan = dict(good)
    nan["fc.bias"] = torch.full_like(good["fc.bias"], float("nan"))
    with pytest.raises(ValueError, match="NaN"):
        check_inception_state_dict(nan)


def test_conversion_is_byte_reproducible(tmp_path, converted):
    """Two conversions give the same bytes, so stats files made elsewhere keep their weights hash."""
    from msgan_eval.features.inception_convert import convert_fid_helper
    from msgan_eval.weights import file_sha256

    again = convert_fid_helper(fid_helper_torchscript(), tmp_path / "other-name.pth")
    assert again.read_bytes() == converted.read_bytes()
    assert file_sha256(again) == file_sha256(converted)


def test_cpu_slice_follows_the_vector_width(monkeypatch):
    """The slice size is picked at run time from ATen's dispatch level; unknown levels get the default."""
    from msgan_eval.features import extract

    for capability, expected in [*defaults.CPU_INCEPTION_SLICE_BY_CAPABILITY.items(),
                                 ("DEFAULT", defaults.CPU_INCEPTION_SLICE)]:
        monkeypatch.setattr(extract.torch.backends.cpu, "get_cpu_capability", lambda c=capability: c)
        assert extract.cpu_inception_slice() == expected


@pytest.mark.no_avx2_rerun("it runs its own child process under AVX2 already")
def test_fast_features_under_avx2_kernels_match_pytorch_fid(tmp_path, converted):
    """With ATen and oneDNN held to AVX2 (what users' AVX2-only CPUs run: the slice of 16 and
    oneDNN's AVX2 kernels), 18 images (16 + 2) against pytorch-fid's module in the same process."""
    folder = write_random_pngs(tmp_path / "imgs", 18, size=(32, 32), seed=7)
    script = f"""
import sys, numpy as np, torch
sys.path.insert(0, {str(Path(__file__).parent)!r})
from _fid_fixtures import resolved
from msgan_eval.features.extract import cpu_inception_slice, extract_inception_features
from msgan_eval.images import scan_images
assert torch.backends.cpu.get_cpu_capability() == "AVX2" and cpu_inception_slice() == 16
w, images = resolved({str(converted)!r}), scan_images({str(folder)!r})
fast = extract_inception_features(images, weights=w, dims=2048, fast=True)
exact = extract_inception_features(images, weights=w, dims=2048, fast=False)
print(float(np.abs(fast - exact).max()))
"""
    env = {**os.environ, "ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2",
           "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env,
                          timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert float(done.stdout.strip().splitlines()[-1]) <= 1e-4
