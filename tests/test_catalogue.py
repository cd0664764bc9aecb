"""The bad-input and fault catalogue (issue 16), each case through the CLI.

Every refusal must: exit with the documented code (2 bad input, 3 weights, 1 unexpected), print
exactly one line on stderr naming the file or option, print no traceback, and leave no new file in
the output location. Cases that must *work* (a symlinked class folder) check the numbers instead.
"""
import json
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from msgan_eval.cli import main
from msgan_eval.datasets import DEBIAN_FASHION_MNIST

from conftest import write_random_pngs

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def listing(folder: Path):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")) if folder.exists() \
        else None


def assert_refused(result, *needles, code=2, json_out=False):
    """Exit ``code``, one line on stderr holding every needle, no traceback."""
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("msgan-eval: error: "), lines
    for needle in needles:
        assert str(needle) in lines[0], (needle, lines[0])
    if json_out:
        assert json.loads(result.stdout) == {"error": lines[0][len("msgan-eval: error: "):],
                                             "exit_code": code}
    else:
        assert result.stdout == ""


@pytest.fixture
def train_set(tmp_path):
    root = tmp_path / "train"
    for c in ("a", "b"):
        write_random_pngs(root / c, 6, size=(8, 8), seed=ord(c))
    return root


@pytest.fixture
def gen_set(tmp_path):
    root = tmp_path / "gen"
    for c in ("a", "b"):
        write_random_pngs(root / c, 4, size=(8, 8), seed=10 + ord(c))
    return root


def ndb(gen, train, *extra):
    return run("ndb", gen, "--train", train, "--bins", 2, "--quiet", *extra)


# --- the image road -------------------------------------------------------------------------

def test_symlinked_class_folder_is_followed(tmp_path, train_set, gen_set):
    outside = write_random_pngs(tmp_path / "elsewhere", 5, size=(8, 8), seed=3)
    (gen_set / "c").symlink_to(outside, target_is_directory=True)
    result = ndb(gen_set, train_set, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["n_samples"] == 13          # 4 + 4 + 5: none dropped


def test_symlink_loop_is_refused(train_set, gen_set):
    (gen_set / "a" / "loop").symlink_to(gen_set, target_is_directory=True)
    assert_refused(ndb(gen_set, train_set), gen_set / "a" / "loop", "loop")


def test_unreadable_sub_folder_is_refused(monkeypatch, train_set, gen_set):
    real_scandir = os.scandir
    locked = str(gen_set / "b")

    def scandir(path="."):
        if os.fspath(path) == locked:
            raise PermissionError(13, "Permission denied", locked)
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)     # chmod 000 means nothing to root
    assert_refused(ndb(gen_set, train_set), locked, "not readable")


def test_loose_images_beside_class_folders_are_refused(train_set, gen_set):
    write_random_pngs(gen_set, 1, size=(8, 8), seed=7)
    assert_refused(ndb(gen_set, train_set), gen_set, "0000.png", "sub-folder")


def test_fifo_named_png_is_refused_not_waited_on(train_set, gen_set):
    fifo = gen_set / "a" / "pipe.png"
    os.mkfifo(fifo)
    assert_refused(ndb(gen_set, train_set), fifo, "not a regular file")
    result = ndb(gen_set, train_set, "--skip-bad", "--json")     # skipped and counted
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["n_samples"] == 8


def test_non_utf8_and_newline_file_names_give_one_line(train_set, gen_set):
    bad = Path(os.fsdecode(os.fsencode(gen_set / "a") + b"/bad\xffna\nme.png"))
    bad.write_bytes(b"not a png")
    assert_refused(ndb(gen_set, train_set), "bad\\xffna\\nme.png", "not an image")
    result = ndb(gen_set, train_set, "--json")
    assert_refused(result, "bad\\xffna\\nme.png", json_out=True)


def test_dangling_symlink_is_named_as_such(train_set, gen_set):
    (gen_set / "a" / "gone.png").symlink_to(gen_set / "nowhere.png")
    assert_refused(ndb(gen_set, train_set), "gone.png", "broken symbolic link")


def _chunk(kind: bytes, body: bytes) -> bytes:
    return (struct.pack(">I", len(body)) + kind + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))


def _png_header(width: int, height: int) -> bytes:
    """A small PNG whose header claims width x height (its pixel data is a few bytes)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr)
            + _chunk(b"IDAT", zlib.compress(b"\0" * 64)) + _chunk(b"IEND", b""))


def test_decompression_bomb_below_pils_limit_is_refused(train_set, gen_set):
    bomb = gen_set / "a" / "bomb.png"
    bomb.write_bytes(_png_header(12000, 12000))     # 144 MP: PIL itself only warns
    assert_refused(ndb(gen_set, train_set), bomb, "pixel limit")


@pytest.mark.parametrize("shape", [(3, 0, 0, 3), (3, 8, 0), (0, 8, 8, 3)])
def test_empty_image_arrays_are_refused(tmp_path, train_set, shape):
    arr = tmp_path / "gen.npy"
    np.save(arr, np.zeros(shape, dtype=np.uint8))
    assert_refused(ndb(arr, train_set), arr)


# --- statistics files -----------------------------------------------------------------------

def _spd(d: int, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(3 * d, d))
    return np.cov(x, rowvar=False)


def _stats_cases(d: int = 64):
    sigma = _spd(d)
    not_psd = sigma.copy()
    not_psd[0, 0] = -1.0
    vals, vecs = np.linalg.eigh(sigma)
    vals[-1] = -vals[-1]
    negative = (vecs * vals) @ vecs.T
    asym = sigma.copy()
    asym[0, 1] += 1.0
    nan_mu = np.zeros(d)
    nan_mu[3] = np.nan
    return {"negative diagonal": dict(mu=np.zeros(d), sigma=not_psd),
            "negative eigenvalue": dict(mu=np.zeros(d), sigma=negative),
            "asymmetric": dict(mu=np.zeros(d), sigma=asym),
            "nan mu": dict(mu=nan_mu, sigma=sigma),
            "inf sigma": dict(mu=np.zeros(d), sigma=np.full((d, d), np.inf)),
            "odd dims": dict(mu=np.zeros(5), sigma=np.eye(5)),
            "dims key mismatch": dict(mu=np.zeros(d), sigma=sigma, dims=np.int64(2048)),
            "n of one": dict(mu=np.zeros(d), sigma=sigma, n=np.int64(1)),
            "wrong shapes": dict(mu=np.zeros(d), sigma=np.eye(d + 1))}


@pytest.mark.parametrize("case", list(_stats_cases()))
def test_broken_stats_files_are_refused(tmp_path, case):
    good = tmp_path / "good.npz"
    np.savez(good, mu=np.zeros(64), sigma=_spd(64, seed=1))
    bad = tmp_path / "bad.npz"
    np.savez(bad, **_stats_cases()[case])
    assert_refused(run("fid", good, bad, "--dims", 64), bad, "not a usable FID statistics file")


def test_a_usable_stats_pair_still_works(tmp_path):
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    np.savez(a, mu=np.zeros(64), sigma=_spd(64, seed=1))
    np.savez(b, mu=np.ones(64), sigma=_spd(64, seed=2))
    result = run("fid", a, b, "--dims", 64, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["fid"] > 64          # ||mu1 - mu2||^2 alone is 64


def test_stats_never_writes_a_nan_file(tmp_path):
    from msgan_eval.errors import UserError
    from msgan_eval.features.stats_cache import FidStats, save_fid_stats

    out = tmp_path / "out.npz"
    with pytest.raises(UserError, match="unusable"):
        save_fid_stats(out, FidStats(np.full(64, np.nan), np.eye(64), 10, 64, None))
    assert list(tmp_path.iterdir()) == []


def test_cache_entry_whose_dims_do_not_match_its_key_is_ignored(capsys):
    from msgan_eval.features.stats_cache import FidStats, cache_key, cache_path, read_cached_stats, save_fid_stats

    key = cache_key("fp", "sha", 2048, True)
    save_fid_stats(cache_path(key), FidStats(np.zeros(64), np.eye(64), 10, 64, "sha"))
    assert read_cached_stats(key, "src", dims=2048, weights_sha256="sha") is None
    assert "64 dimensions, its key 2048" in capsys.readouterr().err
    assert read_cached_stats(key, "src", dims=64, weights_sha256="sha") is not None


# --- NDB bins files -------------------------------------------------------------------------

@pytest.fixture
def bins_file(tmp_path, train_set, gen_set):
    path = tmp_path / "bins.npz"
    result = ndb(gen_set, train_set, "--save-bins", path)
    assert result.exit_code == 0, result.output
    return path


def _edit_bins(src: Path, dst: Path, meta_edit=None, **arrays):
    with np.load(src) as data:
        content = {k: data[k] for k in data.files}
    meta = json.loads(str(content["meta"]))
    if meta_edit is not None:
        meta = meta_edit(meta)
    content["meta"] = np.array(json.dumps(meta))
    content.update(arrays)
    np.savez(dst, **content)


def _without(key):
    return lambda meta: {k: v for k, v in meta.items() if k != key}


BINS_CASES = {
    "no k": dict(meta_edit=_without("k")),
    "no image size": dict(meta_edit=_without("image_size")),
    "meta a list": dict(meta_edit=lambda meta: [1, 2]),
    "image size 0": dict(meta_edit=lambda meta: {**meta, "image_size": [0, 0]}),
    "image size short": dict(meta_edit=lambda meta: {**meta, "image_size": [8]}),
    "seed text": dict(meta_edit=lambda meta: {**meta, "seed": "x"}),
    "nan centres": dict(centers=np.full((2, 192), np.nan)),
    "zero counts": dict(counts=np.zeros(2, dtype=np.int64)),
    "used dims out of range": dict(used_dims=np.array([0, 10**6])),
    "empty centres": dict(centers=np.zeros((0, 192))),
}


@pytest.mark.parametrize("case", list(BINS_CASES))
def test_broken_bins_files_are_refused(tmp_path, train_set, gen_set, bins_file, case):
    bad = tmp_path / "bad-bins.npz"
    _edit_bins(bins_file, bad, **BINS_CASES[case])
    result = run("ndb", gen_set, "--bins-file", bad, "--quiet")
    assert_refused(result, bad, "not a usable NDB bins file")


# --- training runs --------------------------------------------------------------------------

TINY = ["--width", "0.125", "--batch-size", "8", "--subset-per-class", "2", "--quiet"]
needs_data = pytest.mark.skipif(not DEBIAN_FASHION_MNIST.exists(),
                                reason="apt-get install dataset-fashion-mnist")


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    if not DEBIAN_FASHION_MNIST.exists():
        pytest.skip("apt-get install dataset-fashion-mnist")
    out = tmp_path_factory.mktemp("runs") / "run"
    result = CliRunner().invoke(main, ["train", "--out", str(out), "--steps", "1", *TINY])
    assert result.exit_code == 0, result.output
    return out


def _damage(run_dir: Path, tmp_path: Path, how: str) -> Path:
    import shutil

    import torch

    copy = tmp_path / "damaged"
    shutil.copytree(run_dir, copy)
    ckpt = copy / "checkpoint.pt"
    data = ckpt.read_bytes()
    if how == "truncated":
        ckpt.write_bytes(data[: len(data) // 2])
    elif how == "zero bytes":
        ckpt.write_bytes(b"")
    elif how == "random bytes":
        ckpt.write_bytes(np.random.default_rng(0).bytes(4096))
    elif how == "wrong shape":
        state = torch.load(ckpt, weights_only=True)
        name = next(iter(state["generator"]))
        state["generator"][name] = torch.zeros(3, 3)
        torch.save(state, ckpt)
    elif how == "not a dict":
        torch.save([1, 2, 3], ckpt)
    elif how == "config a list":
        (copy / "config.json").write_text("[1, 2]")
    elif how == "config wrong type":
        config = json.loads((copy / "config.json").read_text())
        config["width"] = "wide"
        (copy / "config.json").write_text(json.dumps(config))
    return copy


DAMAGE = ["truncated", "zero bytes", "random bytes", "wrong shape", "not a dict"]


@pytest.mark.parametrize("how", DAMAGE + ["config a list"])
def test_sample_from_a_damaged_run(tmp_path, trained_run, how):
    damaged = _damage(trained_run, tmp_path, how)
    out = tmp_path / "samples"
    before = listing(tmp_path)
    result = run("sample", "--run", damaged, "--out", out, "--per-class", 1, "--quiet")
    needle = "configuration is damaged" if how.startswith("config") else "checkpoint is damaged"
    assert_refused(result, needle)
    assert not out.exists() and listing(tmp_path) == before


@pytest.mark.parametrize("how", DAMAGE + ["config a list", "config wrong type"])
def test_resume_a_damaged_run(tmp_path, trained_run, how):
    damaged = _damage(trained_run, tmp_path, how)
    before = listing(damaged)
    result = run("train", "--out", damaged, "--resume", "--steps", 2, *TINY)
    needle = "configuration is damaged" if how.startswith("config") else "checkpoint is damaged"
    assert_refused(result, needle, "damaged")
    assert listing(damaged) == before


@pytest.mark.parametrize("option", ["--ms-weight", "--width"])
@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_non_finite_float_options_are_refused(tmp_path, option, value):
    result = run("train", "--out", tmp_path / "o", "--steps", 1, option, value, "--json")
    assert_refused(result, option, json_out=True)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("option,value", [("--ms-cap", "0"), ("--ms-eps", "nan"), ("--ms-eps", "0"),
                                          ("--d-width", "0"), ("--ms-warmup", "-1")])
def test_image_to_image_option_values_are_refused(tmp_path, option, value):
    result = run("train", "--dataset", "fashion-mnist-edges", "--out", tmp_path / "o", "--steps", 1,
                 option, value)
    assert_refused(result, option)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("option,value", [("--ms-cap", "0.2"), ("--upsample", "bilinear"),
                                          ("--lr-decay-steps", "5")])
def test_image_to_image_options_are_refused_by_the_categorical_trainer(tmp_path, option, value):
    result = run("train", "--out", tmp_path / "o", "--steps", 1, option, value)
    assert_refused(result, option, "image-to-image")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("device", ["meta", "mps", "cuda:7", "tpu"])
def test_missing_devices_are_refused(tmp_path, device):
    import torch

    if device.startswith("cuda") and torch.cuda.device_count() > 7:
        pytest.skip("this machine has cuda:7")
    result = run("train", "--out", tmp_path / "o", "--steps", 1, "--device", device)
    assert_refused(result, f"--device {device}")
    assert list(tmp_path.iterdir()) == []


def test_output_under_a_file_is_refused_before_work(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run("train", "--out", blocker / "run", "--steps", 1)
    assert_refused(result, "--out", "is a file")
    assert listing(tmp_path) == ["file"]


# --- check ----------------------------------------------------------------------------------

def test_check_on_a_deeply_nested_report(tmp_path):
    report = tmp_path / "report.json"
    report.write_text("[" * 100000 + "]" * 100000)
    expect = tmp_path / "expect.toml"
    expect.write_text("[candidate.fid]\nmax = 40\n")
    assert_refused(run("check", report, "--expect", expect), report)


@pytest.mark.parametrize("rules, needles", [
    ('[overall]\nwinner = "candidate-better"\n', ("[overall] unknown key 'winner'", "use verdict")),
    ('[overall]\nverdict = "candidate-wins"\n', ("[overall] verdict = 'candidate-wins'",
                                                 "use one of candidate-better, baseline-better, trade-off")),
    ('[overall]\nverdict = ["trade-off", 3]\n', ("[overall] verdict = ['trade-off', 3]",)),
    ("[candidate.degenerate]\nmax = \"2%\"\n", ("[candidate.degenerate]", "max must be a finite number")),
])
def test_check_refuses_bad_overall_and_degenerate_rules(tmp_path, rules, needles):
    report = tmp_path / "report.json"
    report.write_text("{}")
    expect = tmp_path / "expect.toml"
    expect.write_text(rules)
    assert_refused(run("check", report, "--expect", expect), expect, *needles)


def test_check_never_passes_a_max_rule_on_minus_infinity(tmp_path):
    from msgan_eval.report.check import Rule, evaluate_rule

    report = tmp_path / "report.json"
    report.write_text('{"runs": {"candidate": {"fid": {"value": -Infinity}}}}')
    expect = tmp_path / "expect.toml"
    expect.write_text("[candidate.fid]\nmax = 40\n")
    assert_refused(run("check", report, "--expect", expect), report, "-Infinity")
    entry = {"value": float("-inf"), "ci": [0.0, 1.0]}
    rule = Rule("candidate", "fid", "max", 40.0)
    assert not evaluate_rule({"runs": {"candidate": {"fid": entry}}}, rule).passed


# --- the top-level guard --------------------------------------------------------------------

def test_weights_unavailable_with_json_prints_one_error_object(tmp_path):
    folder = write_random_pngs(tmp_path / "imgs", 3, size=(32, 32))
    result = run("lpips", folder, "--json", "--quiet")
    assert result.exit_code == 3, result.output
    assert json.loads(result.stdout)["exit_code"] == 3


def test_unexpected_error_is_one_line_with_a_log(tmp_path, monkeypatch):
    def boom(*args, **kwargs):
        raise ZeroDivisionError("deep inside")

    monkeypatch.setattr("msgan_eval.cli.cache.list_entries", boom)
    result = run("cache", "list", "--json")
    assert_refused(result, "unexpected ZeroDivisionError: deep inside", "please report",
                   code=1, json_out=True)
    log = Path(result.stderr.rsplit(" in ", 1)[1].strip())
    assert log.is_file() and "Traceback" in log.read_text() and "boom" in log.read_text()


def test_warnings_print_as_one_line_without_source(monkeypatch):
    import warnings

    def warn_then_fail(*args, **kwargs):
        warnings.warn("careful\nsecond line", RuntimeWarning)
        return []

    monkeypatch.setattr("msgan_eval.cli.cache.list_entries", warn_then_fail)
    result = run("cache", "list")
    assert result.exit_code == 0, result.output
    assert result.stderr == "msgan-eval: warning: careful\\nsecond line (RuntimeWarning)\n"


def test_json_never_prints_nan(capsys):
    from msgan_eval.cli.options import emit

    emit({"lpips": float("nan"), "ci": [float("-inf"), 1.0], "n": 3}, True, "")
    out, err = capsys.readouterr()
    payload = json.loads(out)                 # strict JSON: NaN would not parse in most tools
    assert payload["lpips"] is None and payload["ci"] == [None, 1.0]
    assert payload["non_finite"] == ["lpips", "ci[0]"] and "non-finite" in err


@pytest.mark.parametrize("where", ["group", "command", "env"])
def test_threads_option_is_honoured_and_recorded(monkeypatch, where):
    import torch

    args = ["cache", "list", "--json"]
    if where == "group":
        args = ["--threads", "1"] + args
    elif where == "env":
        monkeypatch.setenv("MSGAN_EVAL_THREADS", "1")
    before = torch.get_num_threads()
    result = run(*args) if where != "command" else run("prepare", "--help")
    assert result.exit_code == 0, result.output
    if where == "command":
        assert "--threads" in result.output
    else:
        assert json.loads(result.stdout)["threads"] == 1
    assert torch.get_num_threads() == before           # restored for the caller


def test_bad_threads_value_is_refused():
    result = run("--threads", "0", "cache", "list")
    assert result.exit_code == 2 and "--threads" in result.output
    assert "Traceback" not in result.output


# --- the cache ------------------------------------------------------------------------------

def test_cache_is_capped_least_recently_used_first(monkeypatch):
    from msgan_eval.features.stats_cache import FidStats, cache_key, cache_path, read_cached_stats, write_cached_stats

    keys = [cache_key(f"set{i}", "sha", 64, True) for i in range(3)]
    for i, key in enumerate(keys):
        write_cached_stats(key, FidStats(np.zeros(64), np.eye(64), 10, 64, "sha"))
        os.utime(cache_path(key), (1000 + i, 1000 + i))
    size = cache_path(keys[0]).stat().st_size
    assert read_cached_stats(keys[0], "src", 64, "sha") is not None    # now the most recent
    monkeypatch.setenv("MSGAN_EVAL_CACHE_MAX_MB", str(3.5 * size / 2**20))
    write_cached_stats(cache_key("set3", "sha", 64, True),
                       FidStats(np.zeros(64), np.eye(64), 10, 64, "sha"))
    assert [cache_path(k).exists() for k in keys] == [True, False, True]
    result = run("cache", "list", "--json")
    assert len(json.loads(result.stdout)["entries"]) == 3
    result = run("cache", "clear", "--json")
    assert json.loads(result.stdout)["removed"] == 3
    assert json.loads(run("cache", "list", "--json").stdout)["entries"] == []


def test_read_only_cache_degrades_to_a_warning(monkeypatch, tmp_path, capsys):
    from msgan_eval.features.stats_cache import FidStats, write_cached_stats

    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("MSGAN_EVAL_CACHE", str(blocker / "cache"))      # under a file
    write_cached_stats("k", FidStats(np.zeros(64), np.eye(64), 10, 64, "sha"))
    assert "could not cache statistics" in capsys.readouterr().err


def test_full_disk_is_one_line_exit_2_and_leaves_nothing(tmp_path, monkeypatch):
    import errno

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "o" / "x.png"))

    monkeypatch.setattr("msgan_eval.images.write_png", full)
    blocker = tmp_path / "elsewhere"
    blocker.mkdir()
    if not DEBIAN_FASHION_MNIST.exists():
        pytest.skip("apt-get install dataset-fashion-mnist")
    result = run("prepare", "fashion-mnist", "--out", tmp_path / "o", "--per-class", 1, "--quiet")
    assert_refused(result, "No space left on device", "x.png")
    assert listing(tmp_path) == ["elsewhere"]


def test_prepare_data_root_without_idx_files_never_falls_back(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run("prepare", "fashion-mnist", "--out", tmp_path / "o", "--data-root", empty)
    assert_refused(result, f"--data-root {empty}", "no Fashion-MNIST idx files")
    assert listing(tmp_path) == ["empty"]


def test_train_on_a_corrupt_folder_does_not_suggest_skip_bad(tmp_path):
    data = tmp_path / "data"
    write_random_pngs(data / "a", 2, size=(32, 32))
    (data / "a" / "bad.png").write_bytes(b"junk")
    result = run("train", "--dataset", "folder", "--data-root", data, "--out", tmp_path / "o",
                 "--steps", 1, "--quiet")
    assert_refused(result, "bad.png")
    assert "--skip-bad" not in result.stderr


def test_sample_per_class_is_bounded(tmp_path):
    result = run("sample", "--run", tmp_path, "--out", tmp_path / "o", "--per-class", 10**8)
    assert result.exit_code == 2 and "--per-class" in result.output


@pytest.mark.parametrize("which", ["report", "expect", "stats"])
def test_fifos_given_as_files_are_refused_not_waited_on(tmp_path, which):
    fifo = tmp_path / ("x.npz" if which == "stats" else "x.json")
    os.mkfifo(fifo)
    report, expect = tmp_path / "report.json", tmp_path / "expect.toml"
    report.write_text("{}")
    expect.write_text("[candidate.fid]\nmax = 40\n")
    if which == "stats":
        from msgan_eval.errors import UserError
        from msgan_eval.features.stats_cache import load_fid_stats

        with pytest.raises(UserError, match="not a regular file"):
            load_fid_stats(fifo)
        return
    args = (fifo, "--expect", expect) if which == "report" else (report, "--expect", fifo)
    assert_refused(run("check", *args), fifo, "not a regular file")
