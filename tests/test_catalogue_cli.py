"""The catalogue of issue 16, second half: the command-level cases (fid, stats, lpips, ndb,
compare, demo), each through the CLI. Same promises as tests/test_catalogue.py: the documented exit
code, one line on stderr naming the option or file, no traceback, no new file in the output place.
"""
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from test_catalogue import assert_refused, listing

from msgan_eval.cli import main
from msgan_eval.features.lpips_net import write_random_backbone

from conftest import write_random_pngs

pytestmark = pytest.mark.usefixtures("one_torch_thread", "small_inception")


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture
def sets(tmp_path):
    """ref: 6 images in 2 classes; base/cand: 4 + 4; all 32x32."""
    out = {}
    for name, n, seed in (("ref", 6, 1), ("base", 4, 20), ("cand", 4, 40)):
        for c in ("a", "b"):
            write_random_pngs(tmp_path / name / c, n, size=(32, 32), seed=seed + ord(c))
        out[name] = tmp_path / name
    return out


@pytest.fixture(scope="module")
def alex_file(tmp_path_factory):
    return write_random_backbone("alex", tmp_path_factory.mktemp("bb") / "random-alexnet.pth", seed=3)


def mixed_sizes(root: Path) -> Path:
    write_random_pngs(root / "a", 2, size=(32, 32), seed=5)
    write_random_pngs(root / "big", 1, size=(40, 48), seed=6)
    (root / "big" / "0000.png").rename(root / "a" / "big.png")
    (root / "big").rmdir()
    return root


def compare(sets, *extra):
    return run("compare", "--baseline", sets["base"], "--candidate", sets["cand"], "--ref",
               sets["ref"], "--ndb-bins", 2, "--bootstrap", 10, "--quiet", *extra)


# --- float options: NaN and infinity are refused ------------------------------------------------

@pytest.mark.parametrize("args", [("ndb", "G", "--train", "T", "--alpha", "nan"),
                                  ("ndb", "G", "--train", "T", "--z-threshold", "inf"),
                                  ("compare", "--baseline", "G", "--candidate", "G", "--ref", "T",
                                   "--ndb-alpha", "nan"),
                                  ("demo", "--width", "nan")])
def test_nan_float_options_are_refused(tmp_path, args):
    result = run(*args, "--json")
    assert_refused(result, args[-2], "finite", json_out=True)
    assert_refused(run(*args), args[-2], "finite", f"{args[0]} --help")   # one line too
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args, needle", [(("ndb",), "Missing argument 'GEN'"),
                                          (("ndb", "G", "--nope"), "--nope"),
                                          (("nocmd",), "nocmd")])
def test_usage_errors_are_one_line(args, needle):
    assert_refused(run(*args), needle, "--help")


# --- outputs checked before any work ---------------------------------------------------------

@pytest.mark.parametrize("which", ["stats -o", "compare --out", "ndb --save-bins", "ndb --plot"])
def test_unwritable_outputs_are_refused_before_work(tmp_path, sets, which, monkeypatch):
    def no_work(*args, **kwargs):
        raise AssertionError("work started before the output was checked")

    monkeypatch.setattr("msgan_eval.evaluate.ndb.fit_or_load_bins", no_work)
    monkeypatch.setattr("msgan_eval.evaluate.fid.resolve_weights_for", no_work)
    monkeypatch.setattr("msgan_eval.evaluate.compare.compare_runs", no_work)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    before = listing(tmp_path)
    command, option = which.split()
    target = blocker / ("out.npz" if command == "stats" else "out.png" if option == "--plot" else "o")
    args = {"stats": ("stats", sets["ref"], "-o", target),
            "compare": ("compare", "--baseline", sets["base"], "--candidate", sets["cand"], "--ref",
                        sets["ref"], "--out", target),
            "ndb": ("ndb", sets["base"], "--train", sets["ref"], "--bins", 2, option, target)}[command]
    result = run(*args, "--quiet")
    assert_refused(result, "--out" if option == "-o" else option, "is a file")
    assert listing(tmp_path) == before


def test_compare_refuses_an_out_folder_holding_other_files(tmp_path, sets):
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    assert_refused(compare(sets, "--metrics", "ndb", "--out", other), "--out", "notes.txt")
    assert listing(other) == ["notes.txt"]


# --- the report folder: replaced as one unit, threads recorded ---------------------------------

def test_report_folder_survives_a_failure_mid_write(tmp_path, sets, monkeypatch):
    import errno

    out = tmp_path / "report"
    result = compare(sets, "--metrics", "ndb", "--out", out)
    assert result.exit_code == 0, result.output
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert sorted(before) == ["report.html", "report.json", "report.md"]
    assert isinstance(json.loads(before["report.json"])["parameters"]["threads"], int)

    real_write_text = Path.write_text

    def full_disk_on_html(self, *args, **kwargs):
        if self.name == "report.html":
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return real_write_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", full_disk_on_html)
    result = compare(sets, "--metrics", "ndb", "--out", out, "--seed", 7)
    assert_refused(result, "No space left")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before      # old folder intact
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["report", *sets])  # no leftovers


def test_compare_reuses_cached_bins_and_marks_them_used(tmp_path, sets, monkeypatch):
    touched = []
    monkeypatch.setattr("msgan_eval.cache.touch", lambda path: touched.append(Path(path)))
    assert compare(sets, "--metrics", "ndb").exit_code == 0
    assert touched == []
    assert compare(sets, "--metrics", "ndb").exit_code == 0
    assert len(touched) == 1 and touched[0].parent.name == "ndb-bins" and touched[0].is_file()


# --- the statistics cache holds reference sets only, unless asked -------------------------------

def test_fid_caches_the_reference_only_unless_asked(tmp_path, sets, random_weights):
    from msgan_eval.paths import cache_dir

    def cached():
        folder = cache_dir() / "fid-stats"
        return sorted(folder.glob("*.npz")) if folder.exists() else []

    common = ("--inception-weights", random_weights, "--dims", 64, "--quiet", "--json")
    result = run("fid", sets["ref"], sets["base"], *common)
    assert result.exit_code == 0, result.output
    assert len(cached()) == 1
    assert json.loads(run("fid", sets["ref"], sets["base"], *common).stdout)["cached"] == [True, False]
    assert run("fid", sets["ref"], sets["base"], *common, "--cache-generated").exit_code == 0
    assert len(cached()) == 2


# --- LPIPS ---------------------------------------------------------------------------------------

def test_nan_backbone_is_refused_naming_the_file(tmp_path, sets, alex_file):
    state = torch.load(alex_file)
    first = next(k for k in state if k.endswith("weight"))
    state[first] = torch.full_like(state[first], float("nan"))
    bad = tmp_path / "nan-alexnet.pth"
    torch.save(state, bad)
    result = run("lpips", sets["base"], "--lpips-backbone", bad, "--quiet", "--json")
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    warning, error = result.stderr.splitlines()       # the unverified-file warning, then the error
    assert "unverified" in warning and error.startswith("msgan-eval: error: ")
    assert str(bad) in error and "non-finite" in error
    assert json.loads(result.stdout)["exit_code"] == 2


def test_lpips_resize_on_mixed_sizes_works_as_documented(tmp_path, alex_file):
    import torch.nn.functional as F

    from msgan_eval.evaluate.lpips import images_to_tensor

    root = mixed_sizes(tmp_path / "mixed")
    refused = run("lpips", root, "--lpips-backbone", alex_file, "--quiet")
    assert_refused(refused, "--resize N", "mixes image sizes")
    result = run("lpips", root, "--resize", 32, "--pairs", "all", "--lpips-backbone", alex_file,
                 "--quiet", "--json")
    assert result.exit_code == 0, result.output
    assert np.isfinite(json.loads(result.stdout)["lpips"])
    # Each image is resized on its own, exactly as the documented interpolate call does.
    rng = np.random.default_rng(0)
    small, big = (rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in ((32, 32), (40, 48)))
    x = images_to_tensor([small, big], 32)
    expect = F.interpolate(torch.from_numpy((big / 127.5 - 1).astype(np.float32)).permute(2, 0, 1)[None],
                           size=(32, 32), mode="bilinear", align_corners=False, antialias=True)
    assert x.shape == (2, 3, 32, 32) and torch.equal(x[1:], expect)


def test_compare_lpips_resize_on_mixed_sizes_works(tmp_path, sets, alex_file):
    base = mixed_sizes(tmp_path / "mixed")
    result = run("compare", "--baseline", base, "--candidate", sets["cand"], "--ref", sets["ref"],
                 "--metrics", "lpips", "--lpips-resize", 32, "--lpips-backbone", alex_file,
                 "--bootstrap", 10, "--quiet", "--json")
    assert result.exit_code == 0, result.output
    assert "lpips" in json.loads(result.stdout)["verdicts"]


@pytest.mark.parametrize("args, needle", [
    (("lpips", "{base}", "--resize", 30000), "--resize"),
    (("lpips", "{base}", "--num-pairs", 10 ** 12), "--num-pairs"),
    (("compare", "--baseline", "{base}", "--candidate", "{base}", "--ref", "{ref}",
      "--bootstrap", 10 ** 8), "--bootstrap"),
    (("compare", "--baseline", "{base}", "--candidate", "{base}", "--ref", "{ref}",
      "--lpips-resize", 30000), "--lpips-resize"),
    (("demo", "--per-class", 10 ** 8), "--per-class"),
    (("demo", "--bootstrap", 10 ** 8), "--bootstrap"),
])
def test_options_that_would_exhaust_memory_are_refused_up_front(tmp_path, sets, args, needle):
    args = [str(a).format(**sets) for a in args]
    assert_refused(run(*args, "--json"), needle, json_out=True)
    assert not (Path.cwd() / "msgan-eval-demo").exists()


def test_all_pairs_beyond_the_memory_bound_are_refused(sets, monkeypatch):
    monkeypatch.setattr("msgan_eval.defaults.LPIPS_MAX_PAIRS", 5)
    assert_refused(run("lpips", sets["base"], "--pairs", "all", "--num-pairs", 2, "--quiet"), "--pairs all",
                   "6 pairs", "--num-pairs")


def test_bootstrap_draws_beyond_the_memory_bound_are_refused(sets, monkeypatch):
    monkeypatch.setattr("msgan_eval.defaults.MAX_BOOTSTRAP_CELLS", 50)
    assert_refused(compare(sets, "--metrics", "ndb"), "--bootstrap 10", "8 images")


# --- compare validates everything before any extraction ---------------------------------------

@pytest.fixture
def no_extraction(monkeypatch):
    def no_work(*args, **kwargs):
        raise AssertionError("extraction started before every input was checked")

    for target in ("msgan_eval.evaluate.features.inception_features",
                   "msgan_eval.features.extract.image_set_statistics",
                   "msgan_eval.evaluate.ndb.fit_or_load_bins",
                   "msgan_eval.evaluate.lpips.sharded_pair_distances",
                   "msgan_eval.evaluate.inspect.inspect",
                   "msgan_eval.evaluate.gate.realism_gate_of"):
        monkeypatch.setattr(target, no_work)


def test_compare_with_a_one_image_run_is_one_line(tmp_path, sets, no_extraction, random_weights):
    one = write_random_pngs(tmp_path / "one" / "a", 1, size=(32, 32)).parent
    result = run("compare", "--baseline", one, "--candidate", sets["cand"], "--ref", sets["ref"],
                 "--metrics", "fid", "--inception-weights", random_weights, "--quiet")
    assert_refused(result, "--baseline", "at least 2 images")


def test_compare_checks_lpips_sizes_before_fid(tmp_path, sets, no_extraction, random_weights,
                                               alex_file):
    base = mixed_sizes(tmp_path / "mixed")
    result = run("compare", "--baseline", base, "--candidate", sets["cand"], "--ref", sets["ref"],
                 "--metrics", "fid,lpips", "--inception-weights", random_weights,
                 "--lpips-backbone", alex_file, "--quiet", "--out", tmp_path / "rep")
    assert_refused(result, "--lpips-resize N", "mixes image sizes")
    assert not (tmp_path / "rep").exists()


def test_compare_checks_gated_lpips_sizes_before_any_work(tmp_path, sets, no_extraction, alex_file):
    base = mixed_sizes(tmp_path / "mixed")
    ref = write_random_pngs(tmp_path / "bigref" / "a", 60, size=(32, 32), seed=8).parent
    result = run("compare", "--baseline", base, "--candidate", sets["cand"], "--ref", ref,
                 "--metrics", "degenerate,lpips-gated", "--lpips-backbone", alex_file, "--quiet",
                 "--out", tmp_path / "rep")
    assert_refused(result, "--lpips-resize N", "mixes image sizes")
    assert not (tmp_path / "rep").exists()


def test_compare_with_too_few_reference_images_skips_the_inspect_metrics(tmp_path, sets):
    result = compare(sets, "--metrics", "ndb,degenerate,lpips-gated", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["metrics"] == ["ndb", "jsd"]
    for metric in ("degenerate", "lpips_gated"):
        assert report["skipped"][metric].startswith("--ref has 12 images; ")
        assert "needs at least 50" in report["skipped"][metric]
    assert report["overall"]["reasons"][-1].endswith("Degenerate fraction, Gated LPIPS")


def test_compare_checks_ndb_reference_before_any_work(tmp_path, sets, no_extraction):
    ref = mixed_sizes(tmp_path / "mixedref")
    result = run("compare", "--baseline", sets["base"], "--candidate", sets["cand"], "--ref", ref,
                 "--metrics", "ndb", "--ndb-bins", 2, "--quiet")
    assert_refused(result, "size")
    result = compare(sets, "--metrics", "ndb", "--ndb-bins", 50)
    assert_refused(result, "--ref", "--ndb-bins 50")


def test_compare_checks_named_weights_before_any_work(tmp_path, sets, no_extraction):
    result = compare(sets, "--metrics", "ndb,lpips", "--lpips-backbone", tmp_path / "missing.pth")
    assert result.exit_code == 3, result.output
    assert "missing.pth" in result.stderr and len(result.stderr.splitlines()) == 1


# --- ndb -------------------------------------------------------------------------------------------

def test_bins_file_with_other_bins_is_refused(tmp_path, sets):
    bins = tmp_path / "bins.npz"
    assert run("ndb", sets["base"], "--train", sets["ref"], "--bins", 2, "--save-bins", bins,
               "--quiet").exit_code == 0
    assert_refused(run("ndb", sets["base"], "--bins-file", bins, "--bins", 3, "--quiet"),
                   "--bins-file", "--bins 2, not 3")
    assert run("ndb", sets["base"], "--bins-file", bins, "--bins", 2, "--quiet").exit_code == 0


@pytest.mark.parametrize("seed", [-1, 2 ** 32])
def test_bad_seed_is_blamed_on_the_seed(tmp_path, sets, seed):
    result = run("ndb", sets["base"], "--train", sets["ref"], "--bins", 2, "--seed", seed, "--quiet")
    assert_refused(result, f"--seed {seed}")
    assert "--train" not in result.stderr and "--bins" not in result.stderr


# --- messages --------------------------------------------------------------------------------------

def test_demo_weights_message_is_not_cut(monkeypatch):
    from msgan_eval import demo
    from msgan_eval.errors import WeightsUnavailable

    full = "no FID Inception weights found offline; pass --inception-weights FILE or set X"

    def missing(*args, **kwargs):
        raise WeightsUnavailable(full)

    monkeypatch.setattr("msgan_eval.features.inception.resolve_inception_weights", missing)
    monkeypatch.setattr("msgan_eval.features.lpips_net.resolve_lpips_backbone", missing)
    lines = []
    demo.preflight_weights(None, None, lines.append)
    assert lines and all(line.endswith(full) for line in lines)


def test_no_stale_parts_left_by_refusals(tmp_path, sets):
    compare(sets, "--metrics", "ndb", "--out", tmp_path / "r")
    hidden = [p for p in tmp_path.rglob(".*") if p.name.endswith((".part", ".old"))]
    assert hidden == [] and os.path.isdir(tmp_path / "r")


def test_lpips_bootstrap_draws_beyond_the_memory_bound_are_refused(tmp_path, sets, monkeypatch,
                                                                   no_extraction):
    five = write_random_pngs(tmp_path / "five" / "a", 5, size=(32, 32)).parent   # 10 pairs
    monkeypatch.setattr("msgan_eval.defaults.MAX_BOOTSTRAP_CELLS", 90)           # 10 x 8 images fit
    result = run("compare", "--baseline", five, "--candidate", sets["cand"], "--ref", sets["ref"],
                 "--metrics", "lpips", "--lpips-pairs", "all", "--bootstrap", 10, "--quiet")
    assert_refused(result, "--bootstrap 10", "10 pairs of one condition")


def test_report_write_never_deletes_other_files(tmp_path):
    from msgan_eval.errors import UserError
    from msgan_eval.report.compare import write_report

    folder = tmp_path / "results"
    folder.mkdir()
    (folder / ".hidden").write_text("mine")
    with pytest.raises(UserError, match="other files"):
        write_report(folder, {}, {})
    assert listing(folder) == [".hidden"]


@pytest.mark.parametrize("args, needle", [
    (("ndb", "G", "--train", "T", "--seed", 2 ** 32), "--seed"),
    (("fid", "A", "B", "--num-workers", 10 ** 6), "--num-workers"),
])
def test_option_ranges_are_refused_by_name(args, needle):
    assert_refused(run(*args, "--json"), needle, json_out=True)


def test_prepare_more_per_class_than_the_split_holds(tmp_path):
    from msgan_eval.datasets import DEBIAN_FASHION_MNIST

    if not Path(DEBIAN_FASHION_MNIST).is_dir():
        pytest.skip(f"Debian's dataset-fashion-mnist is not installed ({DEBIAN_FASHION_MNIST})")
    result = run("prepare", "fashion-mnist", "--out", tmp_path / "p", "--per-class", 10 ** 8)
    assert_refused(result, "--per-class 100000000", "1000")
    assert list(tmp_path.iterdir()) == []


# --- the KID / PRDC settings of compare and the presets of kid, prdc and vendi --------------------

@pytest.mark.parametrize("extra, needle", [
    (("--metrics", "kid", "--kid-subsets", 0), "--kid-subsets"),
    (("--metrics", "kid", "--kid-subset-size", 1), "--kid-subset-size"),
    (("--metrics", "prdc", "--prdc-k", 0), "--prdc-k"),
    (("--metrics", "prdc", "--prdc-k", 12), "--prdc-k 12 nearest"),  # more than a run holds
])
def test_compare_kid_and_prdc_settings_refused_before_any_work(sets, tmp_path, extra, needle):
    out = tmp_path / "report"
    assert_refused(compare(sets, "--out", out, *extra), needle)
    assert not out.exists()


@pytest.mark.parametrize("command", ["kid", "prdc", "vendi"])
def test_unknown_preset_is_refused(sets, command):
    paths = [sets["base"]] if command == "vendi" else [sets["ref"], sets["base"]]
    assert_refused(run(command, *paths, "--preset", "bogus", "--quiet"), "--preset")


def test_compare_checks_the_realism_k_before_any_work(tmp_path, sets, no_extraction):
    ref = write_random_pngs(tmp_path / "ref60" / "a", 60, size=(32, 32), seed=9).parent
    result = run("compare", "--baseline", sets["base"], "--candidate", sets["cand"], "--ref", ref,
                 "--metrics", "degenerate", "--prdc-k", 60, "--quiet")
    assert_refused(result, "--ref", "60 images for --prdc-k 60 nearest neighbours")
