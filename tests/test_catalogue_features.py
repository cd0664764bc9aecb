"""The bad-input catalogue of #25 (feature spaces, their weights, CMMD), through the CLI: the
documented exit code, one line on stderr naming the option or file and what to do, no traceback,
nothing written. Plus the weight readers' refusals (no arbitrary object is ever unpickled).
"""
import io
import pickle
import zipfile

import numpy as np
import pytest
import torch
from _vit_fixtures import write_dinov2
from click.testing import CliRunner
from test_catalogue import assert_refused, listing

import msgan_eval
from msgan_eval.cli import main
from msgan_eval.errors import ParameterError
from msgan_eval.features.networks import NETWORKS

from conftest import write_random_pngs

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture
def sets(tmp_path):
    return {name: write_random_pngs(tmp_path / name / "c", 3, size=(28, 28), seed=i).parent
            for i, name in enumerate(("a", "b"))}


@pytest.fixture(scope="module")
def dino_s14(tmp_path_factory):
    path = tmp_path_factory.mktemp("w") / "dinov2_vits14_pretrain.pth"
    return path, write_dinov2(path, "dinov2-vit-s14", seed=1)


def test_unknown_feature_name_lists_the_valid_ones(sets):
    result = run("fid", sets["a"], sets["b"], "--features", "dinov3-vit-l14")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "dinov2-vit-l14" in result.stderr and "clip-vit-l14-336" in result.stderr
    with pytest.raises(ParameterError, match="dinov2-vit-s14, dinov2-vit-b14.*clip-vit-b32"):
        msgan_eval.fid(str(sets["a"]), str(sets["b"]), features="dinov3")


def test_a_preset_of_another_feature_space_is_refused(sets):
    assert_refused(run("fid", sets["a"], sets["b"], "--features", "dinov2-vit-s14", "--preset",
                       "pytorch-fid"), "--preset pytorch-fid", "--features dinov2-vit-s14",
                   "dgm-eval, torch-fidelity")
    assert_refused(run("kid", sets["a"], sets["b"], "--features", "clip-vit-b32", "--preset",
                       "dgm-eval"), "openai-clip, cmmd, torch-fidelity")


def test_dims_do_not_apply_to_a_network_of_fixed_size(sets):
    assert_refused(run("fid", sets["a"], sets["b"], "--features", "dinov2-vit-s14", "--dims", 64),
                   "--dims 64", "384-d")


@pytest.mark.parametrize("name", ["clip-vit-b32", "dinov2-vit-l14", "clip-vit-l14-336"])
def test_missing_weights_offline_name_the_file_its_sha256_and_where_to_get_it(sets, tmp_path, name):
    net = NETWORKS[name]
    out = tmp_path / "out.npz"
    result = run("stats", sets["a"], "-o", out, "--features", name)
    sha = net.spec.sha256_prefix or "no published SHA-256"
    assert_refused(result, net.spec.filename, sha, net.spec.url, "--feature-weights", code=3)
    assert not out.exists()


def test_cmmd_and_compare_name_the_missing_clip_file(sets, tmp_path):
    assert_refused(run("cmmd", sets["a"], sets["b"]), "ViT-L-14-336px.pt", code=3)
    report = msgan_eval.compare(str(sets["a"]), str(sets["b"]), str(sets["a"]), metrics=("cmmd",),
                                bootstrap=10)
    assert "ViT-L-14-336px.pt" in report.skipped["cmmd"]


def test_weights_of_another_architecture_name_the_expected_one(sets, dino_s14):
    path, _ = dino_s14
    assert_refused(run("fid", sets["a"], sets["b"], "--features", "clip-vit-b32",
                       "--feature-weights", path),
                   "DINOv2 ViT-S/14 checkpoint (--features dinov2-vit-s14)", "needs CLIP ViT-B/32",
                   "ViT-B-32.pt", code=3)
    assert_refused(run("prdc", sets["a"], sets["b"], "--features", "dinov2-vit-b14",
                       "--feature-weights", path), "needs DINOv2 ViT-B/14", code=3)


def test_a_state_dict_with_missing_and_unexpected_keys_names_the_first_few(sets, dino_s14, tmp_path):
    _, state = dino_s14
    broken = {k: v for k, v in state.items() if k not in ("norm.weight", "blocks.3.ls1.gamma")}
    broken["blocks.0.adapter.weight"] = torch.zeros(3)
    path = tmp_path / "edited.pth"
    torch.save(broken, path)
    assert_refused(run("vendi", sets["a"], "--features", "dinov2-vit-s14", "--feature-weights", path),
                   "2 missing keys: blocks.3.ls1.gamma, norm.weight",
                   "1 unexpected keys: blocks.0.adapter.weight", code=3)


class _Evil:
    def __reduce__(self):
        import os

        return (os.system, ("echo pwned",))


def test_no_arbitrary_object_is_unpickled(sets, tmp_path):
    """A torch.save'd object and a TorchScript-like archive whose data.pkl calls os.system."""
    saved = tmp_path / "object.pt"
    torch.save({"visual.proj": _Evil()}, saved)
    assert_refused(run("fid", sets["a"], sets["b"], "--features", "clip-vit-b32",
                       "--feature-weights", saved), "not a loadable torch state dict", code=3)
    archive = tmp_path / "ViT-B-32.pt"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("ViT-B-32/data.pkl", pickle.dumps(_Evil(), protocol=2))
        zf.writestr("ViT-B-32/constants.pkl", pickle.dumps((), protocol=2))
    assert_refused(run("fid", sets["a"], sets["b"], "--features", "clip-vit-b32",
                       "--feature-weights", archive), "refused to load", "system", code=3)


def _stats_file(path, features, dims, seed=0):
    from msgan_eval.features.stats_cache import FidStats, save_fid_stats

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(dims + 5, dims))
    save_fid_stats(path, FidStats(x.mean(0), np.cov(x, rowvar=False), len(x), dims, "ab" * 32,
                                  str(path), preset="dgm-eval" if features else "pytorch-fid",
                                  features=features))
    return path


def test_statistics_of_two_feature_spaces_are_not_compared(sets, tmp_path):
    dino = _stats_file(tmp_path / "dino.npz", "dinov2-vit-s14", 384)
    inception = _stats_file(tmp_path / "inception.npz", None, 64)
    before = listing(tmp_path)
    assert_refused(run("fid", dino, inception, "--dims", 64), "A", "statistics of dinov2-vit-s14",
                   "this run uses inception")
    assert_refused(run("fid", dino, sets["b"]), "statistics of dinov2-vit-s14 features",
                   "this run uses inception", "--features dinov2-vit-s14")
    assert listing(tmp_path) == before


def test_statistics_record_their_feature_space(tmp_path):
    from msgan_eval.features.stats_cache import load_fid_stats

    stats = load_fid_stats(_stats_file(tmp_path / "s.npz", "clip-vit-b32", 512))
    assert (stats.features, stats.dims, stats.preset) == ("clip-vit-b32", 512, "dgm-eval")
    with pytest.raises(Exception, match="clip-vit-b32 features have 512"):
        _stats_file(tmp_path / "bad.npz", "clip-vit-b32", 64)


def test_cmmd_needs_images_not_statistics(sets, tmp_path):
    stats = _stats_file(tmp_path / "s.npz", None, 64)
    assert_refused(run("cmmd", stats, sets["b"]), "CMMD needs the images")


def test_weights_lists_every_feature_network(tmp_path, dino_s14, monkeypatch):
    import json

    path, _ = dino_s14
    monkeypatch.setenv(NETWORKS["dinov2-vit-s14"].spec.env_var, str(path))
    rows = {w["key"]: w for w in json.loads(run("weights", "--json").stdout)["weights"]}
    assert set(NETWORKS) <= set(rows)
    assert rows["dinov2-vit-s14"]["status"] == "ok"
    assert rows["dinov2-vit-s14"]["verification"] == "unverified"
    assert rows["clip-vit-l14-336"]["status"] == "missing"
    assert rows["clip-vit-l14-336"]["file"] == "ViT-L-14-336px.pt"


def test_script_archive_reader_equals_torch_jit_load(tmp_path):
    """The arrays-only reader gives the tensors torch.jit.load's state_dict() does (which runs
    the archive's code; here only as the reference)."""
    from msgan_eval.features.checkpoints import read_weights

    class Tiny(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.visual = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.LayerNorm(4))
            self.proj = torch.nn.Parameter(torch.randn(4, 2).half())

        def forward(self, x):
            return x

    path = tmp_path / "tiny.pt"
    torch.jit.save(torch.jit.trace(Tiny(), torch.zeros(1)), str(path))
    ours = read_weights(path)
    ref = torch.jit.load(str(path)).state_dict()
    assert set(ours) == set(ref)
    assert all(torch.equal(ours[k], ref[k].float()) for k in ref)
    assert ours["proj"].dtype == torch.float32
    buf = io.BytesIO()
    torch.save({"a": torch.zeros(2)}, buf)
