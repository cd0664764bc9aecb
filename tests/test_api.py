"""The Python API (``msgan_eval.fid / statistics / lpips_diversity / ndb / compare``): each function
against the CLI on the same inputs, against the references (pytorch-fid, lpips, the NDB
transcription) through the Python road, and every input kind against the same images in a folder.
"""
import json
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import msgan_eval
from msgan_eval.cli import main
from msgan_eval.errors import ParameterError, ParameterTypeError
from msgan_eval.evaluate.inputs import as_image_set
from msgan_eval.images import scan_images, write_image_folder
from msgan_eval.metrics.registry import OVERALL_VERDICTS

from _fid_fixtures import install_in_hub_cache

pytestmark = [pytest.mark.filterwarnings("ignore:The `disp` argument:DeprecationWarning"),
              pytest.mark.filterwarnings("ignore:Matrix is singular")]


def images(n, size=(32, 32), seed=0, grey=False):
    rng = np.random.default_rng(seed)
    h, w = size
    ramp = np.linspace(0, 160, w)[None, :, None] + np.linspace(0, 60, h)[:, None, None]
    out = np.stack([np.clip(ramp * rng.uniform(0.2, 1.0) + rng.integers(0, 96, (h, w, 3)), 0, 255)
                    for _ in range(n)]).astype(np.uint8)
    return out[..., 0] if grey else out


def as_folder(root: Path, by_condition: dict) -> Path:
    """The same images as PNG files, one sub-folder per condition (the folder convention)."""
    names = sorted(by_condition)
    arrays = [by_condition[c] for c in names]
    write_image_folder(root, np.concatenate(arrays), [k for k, a in enumerate(arrays) for _ in a], names)
    return root


def to_tensor(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(a).permute(0, 3, 1, 2).contiguous()


# Every input kind, made from the same uint8 images of two conditions.
KINDS = {
    "folder": lambda d, root: as_folder(root, d),
    "folder-str": lambda d, root: str(as_folder(root, d)),
    "imageset": lambda d, root: scan_images(as_folder(root, d)),
    "array-mapping": lambda d, root: d,
    "uint8-tensor-mapping": lambda d, root: {c: to_tensor(a) for c, a in d.items()},
    "float-tensor-mapping": lambda d, root: {c: to_tensor(a).float() / 255 for c, a in d.items()},
}


def run_cli(*args):
    """The command's --json object without ``threads``: run context the CLI adds to every output
    (the API's results describe the computation; the thread count is the process's). The tests
    using it take ``one_torch_thread``, which gives the command one thread too: the float sums then
    run in the same order, so the two can be compared exactly whatever the machine's load."""
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert isinstance(out.pop("threads"), int)
    return out


def jsonable(d: dict) -> dict:
    from msgan_eval.cli.options import _jsonable

    return json.loads(json.dumps(d, default=_jsonable))


# ---- inputs ----------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_every_input_kind_gives_the_folders_pixels(tmp_path, kind):
    data = {"a": images(3, seed=1), "b": images(2, seed=2)}
    folder = scan_images(as_folder(tmp_path / "ref", data))
    got = as_image_set(KINDS[kind](data, tmp_path / "in"), param="x")
    assert len(got) == len(folder) and got.groups() == folder.groups()
    for i in range(len(folder)):
        np.testing.assert_array_equal(got[i], folder[i])     # uint8 exact


def test_unconditioned_array_grey_and_channels(tmp_path):
    grey = images(4, seed=3, grey=True)
    write_image_folder(tmp_path / "g", grey, [0] * 4, ["x"])
    folder = scan_images(tmp_path / "g")
    for x in (grey, grey[..., None], torch.from_numpy(grey)[:, None]):
        got = as_image_set(x, param="x")
        assert got.conditions == ["."] and len(got) == 4
        for i in range(4):
            np.testing.assert_array_equal(got[i], folder[i])
    rgba = np.concatenate([images(2), np.zeros((2, 32, 32, 1), np.uint8)], axis=3)
    np.testing.assert_array_equal(as_image_set(rgba, param="x")[1], images(2)[1])


def test_float_rounding_convention():
    levels = np.arange(256, dtype=np.uint8).reshape(1, 16, 16)
    back = as_image_set(torch.from_numpy(levels).float() / 255, param="x")[0][..., 0]
    np.testing.assert_array_equal(back, levels[0])                  # x / 255 comes back exactly
    x = np.array([0.0, 0.4, 0.6, 1.4, 254.6, 255.0]).reshape(1, 1, 6) / 255
    got = as_image_set(x, param="x")[0][0, :, 0]
    np.testing.assert_array_equal(got, [0, 0, 1, 1, 255, 255])      # round to nearest


@pytest.mark.parametrize("bad,error,needle", [
    (np.full((2, 8, 8, 3), 1.5, np.float32), ParameterError, "must lie in [0, 1]"),
    (torch.full((2, 3, 8, 8), -0.1), ParameterError, "must lie in [0, 1]"),
    (np.full((2, 8, 8), np.nan), ParameterError, "NaN"),
    (np.zeros((8, 8), np.uint8), ParameterError, "2-d input"),
    (np.zeros((2, 8, 8, 5), np.uint8), ParameterError, "channels last"),
    (torch.zeros((2, 8, 8, 3), dtype=torch.uint8), ParameterError, "(N, C, H, W)"),
    (np.zeros((0, 8, 8), np.uint8), ParameterError, "empty"),
    (np.zeros((2, 8, 8), np.int64), ParameterTypeError, "dtype int64"),
    ([np.zeros((8, 8, 3), np.uint8)], ParameterTypeError, "list is not an image input"),
    ({}, ParameterError, "no conditions"),
])
def test_bad_inputs_name_the_parameter(bad, error, needle):
    with pytest.raises(error) as caught:
        msgan_eval.lpips_diversity(bad)
    assert str(caught.value).startswith("x") and needle in str(caught.value)
    assert isinstance(caught.value, ValueError)
    with pytest.raises(error, match=r"^train"):
        msgan_eval.ndb(images(2), train=bad)


# ---- FID ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def fid_sets():
    return {"a": {"c0": images(6, seed=11), "c1": images(6, seed=12)},
            "b": {"c0": images(6, seed=13), "c1": images(6, seed=14)}}


@pytest.fixture
def pytorch_fid_home(random_weights):
    install_in_hub_cache(torch.load(random_weights, weights_only=True), Path(os.environ["TORCH_HOME"]))


def reference_fid(folders):
    from pytorch_fid import fid_score

    return fid_score.calculate_fid_given_paths([str(p) for p in folders], 50, "cpu", 64, 0)


@pytest.mark.parametrize("kind", ["folder", "imageset", "array-mapping", "float-tensor-mapping"])
def test_fid_of_every_input_kind_equals_pytorch_fid(tmp_path, fid_sets, random_weights,
                                                    pytorch_fid_home, one_torch_thread, kind):
    # pytorch-fid reads the files of one flat folder
    folders = [as_folder(tmp_path / f"flat-{k}", {".": np.concatenate(list(fid_sets[k].values()))})
               for k in "ab"]
    a, b = (KINDS[kind](fid_sets[k], tmp_path / f"in-{k}") for k in "ab")
    result = msgan_eval.fid(a, b, dims=64, inception_weights=random_weights, use_cache=False)
    assert result.fid == pytest.approx(reference_fid(folders), rel=1e-4)
    assert result.n == [12, 12] and result.dims == 64


def test_fid_and_statistics_equal_the_cli(tmp_path, fid_sets, random_weights, one_torch_thread):
    a, b = (as_folder(tmp_path / k, fid_sets[k]) for k in "ab")
    api = msgan_eval.fid(a, b, dims=64, inception_weights=random_weights, use_cache=False)
    cli = run_cli("fid", a, b, "--dims", 64, "--inception-weights", random_weights, "--no-cache",
                  "--json", "--quiet")
    assert jsonable(api.to_dict()) == cli
    tensors = {k: torch.cat([to_tensor(x) for x in fid_sets[k].values()]) for k in "ab"}
    assert msgan_eval.fid(tensors["a"], tensors["b"], dims=64, inception_weights=random_weights,
                          use_cache=False).fid == pytest.approx(api.fid, rel=1e-9)

    stats = msgan_eval.statistics(a, out=tmp_path / "api.npz", dims=64,
                                  inception_weights=random_weights, use_cache=False)
    cli = run_cli("stats", a, "-o", tmp_path / "api.npz", "--dims", 64, "--inception-weights",
                  random_weights, "--no-cache", "--json", "--quiet")
    assert jsonable(stats.to_dict()) == cli
    from_file = msgan_eval.fid(tmp_path / "api.npz", b, dims=64, inception_weights=random_weights)
    assert from_file.fid == pytest.approx(api.fid, rel=1e-9)


def test_statistics_of_other_weights_are_refused_alike(tmp_path, fid_sets, random_weights):
    from msgan_eval.features.stats_cache import FidStats, save_fid_stats
    from msgan_eval.weights import file_sha256

    other = "f" * 64
    save_fid_stats(tmp_path / "other.npz", FidStats(np.zeros(64), np.eye(64), 10, 64, other))
    folder = as_folder(tmp_path / "b", fid_sets["b"])
    ours = file_sha256(random_weights)
    with pytest.raises(ParameterError) as caught:
        msgan_eval.fid(tmp_path / "other.npz", folder, dims=64, inception_weights=random_weights)
    assert other in str(caught.value) and ours in str(caught.value)
    assert str(caught.value).startswith("a ") and "inception_weights" in str(caught.value)
    for argv in (["fid", tmp_path / "other.npz", folder, "--dims", 64],
                 ["compare", "--baseline", folder, "--candidate", folder, "--ref",
                  tmp_path / "other.npz", "--metrics", "fid", "--dims", 64]):
        result = CliRunner().invoke(main, [str(a) for a in argv]
                                    + ["--inception-weights", str(random_weights), "--quiet"])
        assert result.exit_code == 2 and "Traceback" not in result.output
        assert other in result.output and ours in result.output, result.output
        assert "--inception-weights" in result.output
        assert ("error: A " in result.output) if argv[0] == "fid" else ("error: --ref " in result.output)
    save_fid_stats(tmp_path / "mine.npz", FidStats(np.zeros(64), np.eye(64), 10, 64, ours))
    with pytest.raises(ParameterError, match="different Inception weights"):
        msgan_eval.fid(tmp_path / "mine.npz", tmp_path / "other.npz", dims=64)



def test_fid_looks_at_each_argument_once(tmp_path, monkeypatch):
    """Issue #27 item 7: ``fid`` classified each argument three times (the statistics check, the
    weights step, the dispatch), opening every ``.npz`` each time; now once, in ``take_inputs``."""
    from msgan_eval.evaluate import inputs
    from msgan_eval.features.stats_cache import FidStats, save_fid_stats

    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        x = rng.normal(size=(200, 64))
        save_fid_stats(tmp_path / f"{name}.npz", FidStats(x.mean(0), np.cov(x, rowvar=False), 200, 64, None))
    opened = []

    def counted(path):
        opened.append(Path(path).name)
        return inputs_is_stats_file(path)

    inputs_is_stats_file = inputs.is_stats_file
    monkeypatch.setattr(inputs, "is_stats_file", counted)
    result = msgan_eval.fid(tmp_path / "a.npz", tmp_path / "b.npz", dims=64)
    assert opened == ["a.npz", "b.npz"]
    assert result.inputs == [str(tmp_path / "a.npz"), str(tmp_path / "b.npz")] and result.fid > 0


def test_fid_checks_each_covariance_once(tmp_path, fid_sets, random_weights, monkeypatch):
    """A covariance is checked (symmetric, positive semi-definite: a Cholesky-sized step, two of the
    four of a 2048-d FID) where it enters: when a statistics file is read or written; not again in
    the Fréchet distance of statistics the tools computed or read."""
    from msgan_eval.features import stats_cache
    from msgan_eval.metrics import fid as fid_maths

    checked = []

    def counted(sigma):
        checked.append(sigma.shape)
        return covariance_problem(sigma)

    covariance_problem = fid_maths.covariance_problem
    monkeypatch.setattr(fid_maths, "covariance_problem", counted)
    monkeypatch.setattr(stats_cache, "covariance_problem", counted)
    a, b = (as_folder(tmp_path / k, fid_sets[k]) for k in "ab")
    kw = dict(dims=64, inception_weights=random_weights)
    computed = msgan_eval.fid(a, b, use_cache=False, **kw).fid
    assert checked == []                                  # computed from features: nothing to check
    msgan_eval.statistics(a, out=tmp_path / "a.npz", use_cache=False, **kw)
    assert checked == [(64, 64)]                          # written: checked once
    assert msgan_eval.fid(tmp_path / "a.npz", b, use_cache=False, **kw).fid == \
        pytest.approx(computed, rel=1e-9)
    assert checked == [(64, 64)] * 2                      # read: checked once, not again in the FID


# ---- LPIPS -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def alex(tmp_path_factory):
    """A seeded random AlexNet backbone, and lpips.LPIPS loading the same file (see test_lpips)."""
    from msgan_eval.features.lpips_net import write_random_backbone
    from msgan_eval.weights import LPIPS_BACKBONES

    home = tmp_path_factory.mktemp("torch-alex")
    path = write_random_backbone("alex", home / "hub" / "checkpoints" / LPIPS_BACKBONES["alex"].filename,
                                 seed=5)
    with pytest.MonkeyPatch.context() as mp, warnings.catch_warnings():
        mp.setenv("TORCH_HOME", str(home))
        warnings.simplefilter("ignore")
        import lpips

        model = lpips.LPIPS(net="alex", version="0.1", verbose=False)
    return path, model


def reference_lpips(model, by_condition: dict) -> dict:
    """lpips.LPIPS on every pair of each condition, pair by pair (the reference)."""
    import itertools

    import lpips

    out = {}
    with torch.no_grad():
        for c, imgs in by_condition.items():
            out[c] = np.mean([model(lpips.im2tensor(imgs[i]), lpips.im2tensor(imgs[j])).item()
                              for i, j in itertools.combinations(range(len(imgs)), 2)])
    return out


@pytest.mark.parametrize("kind", ["folder", "array-mapping", "uint8-tensor-mapping",
                                  "float-tensor-mapping"])
def test_lpips_of_every_input_kind_equals_lpips(tmp_path, alex, one_torch_thread, kind):
    path, model = alex
    data = {"cat": images(3, seed=21), "dog": images(4, seed=22)}
    result = msgan_eval.lpips_diversity(KINDS[kind](data, tmp_path / "in"), pairs="all",
                                        backbone_weights=path)
    want = reference_lpips(model, data)
    assert result.groups == pytest.approx(want, abs=1e-5)
    assert result.lpips == pytest.approx(np.mean(list(want.values())), abs=1e-5)


def test_lpips_equals_the_cli(tmp_path, alex, one_torch_thread):
    folder = as_folder(tmp_path / "f", {"a": images(4, seed=31), "b": images(5, seed=32)})
    api = msgan_eval.lpips_diversity(folder, num_pairs=4, seed=3, backbone_weights=alex[0])
    cli = run_cli("lpips", folder, "--num-pairs", 4, "--seed", 3, "--lpips-backbone", alex[0],
                  "--json", "--quiet")
    assert jsonable(api.to_dict()) == cli


def test_library_errors_name_parameters_and_the_cli_names_flags(tmp_path, alex):
    small = {"a": images(2, size=(16, 16))}
    with pytest.raises(ParameterError, match=r"^resize 8: .* use resize 31 or more"):
        msgan_eval.lpips_diversity(small, resize=8, backbone_weights=alex[0])
    folder = as_folder(tmp_path / "small", small)
    result = CliRunner().invoke(main, ["lpips", str(folder), "--resize", "8", "--lpips-backbone",
                                       str(alex[0])])
    assert result.exit_code == 2 and "--resize 8: " in result.output and "use --resize 31" in result.output
    result = CliRunner().invoke(main, ["compare", "--baseline", str(folder), "--candidate", str(folder),
                                       "--ref", str(folder), "--metrics", "lpips", "--lpips-resize",
                                       "8", "--lpips-backbone", str(alex[0]), "--quiet"])
    assert result.exit_code == 2 and "--lpips-resize 8: " in result.output, result.output
    with pytest.raises(ParameterError, match=r"^lpips_resize 8: "):
        msgan_eval.compare(small, small, small, metrics=("lpips",), lpips_resize=8,
                           lpips_backbone=alex[0])


# ---- NDB ---------------------------------------------------------------------------------------

def test_ndb_equals_the_reference_and_the_cli(tmp_path, one_torch_thread):
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from reference_ndb import ReferenceNDB

    train = {"c0": images(20, size=(8, 8), seed=41), "c1": images(20, size=(8, 8), seed=42)}
    gen = {"c0": images(15, size=(8, 8), seed=43)}
    tf, gf = as_folder(tmp_path / "train", train), as_folder(tmp_path / "gen", gen)
    api = msgan_eval.ndb(gen, train=train, k=4, seed=2, kmeans="exact",
                         save_bins=tmp_path / "bins.npz")
    np.random.seed(2)
    ref = ReferenceNDB(np.concatenate([train["c0"], train["c1"]]).reshape(40, -1) / 255.0,
                       number_of_bins=4)
    want = ref.evaluate(gen["c0"].reshape(15, -1) / 255.0)
    assert api.ndb == want["NDB"] and api.jsd == pytest.approx(want["JS"], rel=1e-12, abs=1e-15)

    cli = run_cli("ndb", gf, "--train", tf, "--bins", 4, "--seed", 2, "--kmeans", "exact", "--json",
                  "--quiet")
    from_folders = msgan_eval.ndb(gf, train=tf, k=4, seed=2, kmeans="exact")
    assert jsonable(from_folders.to_dict()) == cli
    assert (from_folders.ndb, from_folders.jsd) == (api.ndb, api.jsd)

    saved = msgan_eval.ndb(torch.from_numpy(gen["c0"]).permute(0, 3, 1, 2), bins=tmp_path / "bins.npz")
    cli = run_cli("ndb", gf, "--bins-file", tmp_path / "bins.npz", "--json", "--quiet")
    assert (saved.ndb, saved.jsd, saved.k) == (cli["ndb"], cli["jsd"], 4) == (api.ndb, api.jsd, 4)
    with pytest.raises(ParameterError, match=r"^bins .*it was fitted with k 4, not 5"):
        msgan_eval.ndb(gen, train=train, bins=tmp_path / "bins.npz", k=5)


# ---- compare -----------------------------------------------------------------------------------

def test_compare_equals_the_cli(tmp_path, random_weights, alex, one_torch_thread):
    sets = {"base": {"a": images(6, seed=51), "b": images(6, seed=52)},
            "cand": {"a": images(6, seed=53), "b": images(6, seed=54)},
            "ref": {"a": images(8, seed=55), "b": images(8, seed=56)}}
    folders = {k: as_folder(tmp_path / k, v) for k, v in sets.items()}
    args = dict(metrics=("fid", "lpips", "ndb"), dims=64, inception_weights=str(random_weights),
                lpips_backbone=str(alex[0]), ndb_bins=3, bootstrap=20)
    api = msgan_eval.compare(folders["base"], folders["cand"], folders["ref"], **args)
    cli = run_cli("compare", "--baseline", folders["base"], "--candidate", folders["cand"],
                  "--ref", folders["ref"], "--metrics", "fid,lpips,ndb", "--dims", 64,
                  "--inception-weights", random_weights, "--lpips-backbone", alex[0],
                  "--ndb-bins", 3, "--bootstrap", 20,
                  "--json", "--quiet")
    got = jsonable(api.to_dict())
    for key in ("metrics", "runs", "deltas", "verdicts", "overall", "skipped", "inputs", "bootstrap",
                "details"):
        if key == "details":
            got[key].pop("seconds"), cli[key].pop("seconds")
        assert got[key] == cli[key], key
    assert api.verdicts == cli["verdicts"] and set(api.runs["baseline"]) == {"fid", "lpips", "ndb", "jsd"}
    assert api.overall == cli["overall"] and api.overall["verdict"] in OVERALL_VERDICTS
    in_memory = msgan_eval.compare(sets["base"], sets["cand"], sets["ref"], **args)
    assert in_memory.runs == api.runs and in_memory.verdicts == api.verdicts


def test_package_import_stays_light():
    import subprocess
    import sys

    code = ("import sys, msgan_eval, msgan_eval.cli; assert callable(msgan_eval.fid); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    assert out.stdout.strip() == "False"


def test_docstring_examples_run():
    import doctest

    import msgan_eval.evaluate.inputs as inputs

    assert doctest.testmod(inputs, raise_on_error=True).attempted >= 1
