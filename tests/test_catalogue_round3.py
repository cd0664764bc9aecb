"""The catalogue of issue 23 (third round), each case through the CLI or the Python API: the
documented exit code, one line naming the option or file, no traceback, nothing written outside
the output folder, nothing deleted that the package did not write."""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from test_catalogue import TINY, assert_refused, listing

from msgan_eval.cli import main
from msgan_eval.datasets import DEBIAN_FASHION_MNIST
from msgan_eval.errors import UserError

pytestmark = pytest.mark.usefixtures("one_torch_thread")
needs_data = pytest.mark.skipif(not DEBIAN_FASHION_MNIST.exists(),
                                reason="apt-get install dataset-fashion-mnist")


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    if not DEBIAN_FASHION_MNIST.exists():
        pytest.skip("apt-get install dataset-fashion-mnist")
    out = tmp_path_factory.mktemp("runs") / "run"
    result = CliRunner().invoke(main, ["train", "--out", str(out), "--steps", "1", *TINY])
    assert result.exit_code == 0, result.output
    return out


# --- 1. names from files never leave the output folder ------------------------------------------

def _crafted_run(run_dir: Path, tmp_path: Path, name: str, where: str) -> Path:
    import torch

    copy = tmp_path / "crafted"
    shutil.copytree(run_dir, copy)
    if where in ("checkpoint", "both"):
        state = torch.load(copy / "checkpoint.pt", weights_only=True)
        state["run"]["class_names"][0] = name
        torch.save(state, copy / "checkpoint.pt")
    if where in ("config", "both"):
        config = json.loads((copy / "config.json").read_text())
        config["class_names"][0] = name
        (copy / "config.json").write_text(json.dumps(config))
    return copy


@pytest.mark.parametrize("name", ["../../escaped", "/tmp/escaped-abs", "..", "a\nb", ""])
@pytest.mark.parametrize("where", ["checkpoint", "config", "both"])
def test_sample_never_writes_outside_out(tmp_path, trained_run, name, where):
    crafted = _crafted_run(trained_run, tmp_path, name, where)
    work = tmp_path / "work"
    work.mkdir()
    before = listing(tmp_path)
    result = run("sample", "--run", crafted, "--out", work / "o", "--per-class", 1, "--quiet")
    blamed = "config.json" if where != "checkpoint" else "checkpoint.pt"
    assert_refused(result, crafted / blamed, "class name", "cannot be used as a folder")
    assert listing(tmp_path) == before
    assert not Path("/tmp/escaped-abs").exists()


def test_sample_api_refuses_a_crafted_checkpoint(tmp_path, trained_run):
    from msgan_eval.train.sampler import sample_run

    crafted = _crafted_run(trained_run, tmp_path, "../escaped", "checkpoint")
    with pytest.raises(UserError, match="path separator"):
        sample_run(crafted, tmp_path / "o", per_class=1, quiet=True)
    assert not (tmp_path / "o").exists() and not (tmp_path / "escaped").exists()


@pytest.mark.parametrize("label", ["../up", "/abs", "tab\there"])
def test_train_refuses_npz_labels_that_are_not_folder_names(tmp_path, label):
    data = tmp_path / "data.npz"
    images = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    np.savez(data, images=images, labels=np.array([label, label, "b", "b"]))
    result = run("train", "--dataset", "folder", "--data-root", data, "--out", tmp_path / "o",
                 "--steps", 1, "--quiet")
    assert_refused(result, data, "class name")
    assert listing(tmp_path) == ["data.npz"]


def test_write_image_folder_refuses_before_writing(tmp_path):
    from msgan_eval.images import write_image_folder

    images = np.zeros((2, 4, 4, 3), np.uint8)
    with pytest.raises(UserError, match="labels.npz: class name '../x'"):
        write_image_folder(tmp_path / "o", images, [0, 1], ["a", "../x"], names_source="labels.npz")
    assert listing(tmp_path) == []


def test_image_to_image_input_names_are_checked(tmp_path):
    from msgan_eval.report.pairs import pairs_html

    with pytest.raises(UserError, match="input name '../../etc/passwd'"):
        pairs_html(tmp_path, tmp_path, {"a": tmp_path}, ["../../etc/passwd"])


def _paired_folder(root: Path, names) -> Path:
    rng = np.random.default_rng(1)
    for name in names:
        from msgan_eval.images import write_png

        write_png(root / f"{name}.png", rng.integers(0, 256, (32, 64, 3), dtype=np.uint8))
    return root


def test_train_refuses_paired_file_names_that_are_not_folder_names(tmp_path):
    data = _paired_folder(tmp_path / "pairs", ["ok1", "ok2", "bad\nname"])
    result = run("train", "--dataset", "paired-folder", "--data-root", data, "--out",
                 tmp_path / "o", "--steps", 1, "--quiet")
    assert_refused(result, data, "input name", "control character")
    assert not (tmp_path / "o").exists()


def test_sample_refuses_a_crafted_image_to_image_test_split(tmp_path):
    """A run whose test split was renamed after training: checked when it becomes folders."""
    data = _paired_folder(tmp_path / "pairs", ["p1", "p2"])
    out = tmp_path / "run"
    result = run("train", "--dataset", "paired-folder", "--data-root", data, "--out", out,
                 "--steps", 1, "--width", 0.125, "--batch-size", 2, "--quiet")
    assert result.exit_code == 0, result.output
    (data / "p1.png").rename(data / "tab\there.png")
    before = listing(tmp_path)
    result = run("sample", "--run", out, "--out", tmp_path / "s", "--inputs", 2, "--per-input", 1,
                 "--quiet")
    assert_refused(result, data, "input name", "control character")
    assert listing(tmp_path) == before


# --- 2. cache clear deletes only what the package wrote -----------------------------------------

def _stats():
    from msgan_eval.features.stats_cache import FidStats

    return FidStats(np.zeros(64), np.eye(64), 10, 64, "sha")


def _fill_cache():
    """Two statistics entries and a converted weight file (with its note) written by us, beside a
    user's own files: a *.pth in the cache root, a pytorch-fid .npz and a hex-named .npz in
    fid-stats/, a file in ndb-bins/."""
    from msgan_eval.cache import own_weights
    from msgan_eval.features.stats_cache import cache_key, cache_path, write_cached_stats
    from msgan_eval.paths import cache_dir

    ours = []
    for i in range(2):
        key = cache_key(f"set{i}", "sha", 64, True)
        write_cached_stats(key, _stats())
        ours.append(cache_path(key))
    weights = cache_dir() / "pt_inception-2015-12-05-from-fid-helper.pth"
    weights.write_bytes(b"converted")
    weights.with_name(weights.name + ".json").write_text("{}")
    own_weights(weights)
    ours += [weights, weights.with_name(weights.name + ".json")]
    root = cache_dir()
    theirs = [root / "my-model.pth", root / "fid-stats" / "cifar10-train.npz",
              root / "fid-stats" / ("ab" * 32 + ".npz"), root / "ndb-bins" / "notes.txt"]
    for path in theirs:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, mu=np.zeros(64), sigma=np.eye(64)) if path.suffix == ".npz" \
            else path.write_bytes(b"mine")
    return ours, theirs


@pytest.mark.parametrize("what", [None, "all", "weights", "fid-stats", "ndb-bins"])
def test_cache_clear_never_deletes_foreign_files(what):
    ours, theirs = _fill_cache()
    result = run("cache", "clear", "--json", *(["--what", what] if what else []))
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert all(p.exists() for p in theirs)
    gone = [p for p in ours if not p.exists()]
    expected = {None: ours[:2], "all": ours, "weights": ours[2:], "fid-stats": ours[:2],
                "ndb-bins": []}[what]
    assert sorted(gone) == sorted(expected)
    listed = [Path(p) for p in payload["removed_paths"]]
    assert sorted(listed) == sorted(p for p in expected if p.suffix != ".json")
    assert set(map(str, theirs)) >= set(payload["foreign"]) and payload["foreign"]


def test_cache_clear_dry_run_lists_and_deletes_nothing():
    ours, theirs = _fill_cache()
    result = run("cache", "clear", "--what", "all", "--dry-run")
    assert result.exit_code == 0, result.output
    assert all(p.exists() for p in ours + theirs)
    lines = result.stdout.splitlines()
    assert sum(line.startswith("would remove /") for line in lines) == 3
    assert "left alone" in lines[-1]


def test_a_recorded_entry_replaced_by_the_user_is_kept():
    ours, _ = _fill_cache()
    ours[0].unlink()
    np.savez(ours[0], mu=np.ones(64), sigma=np.eye(64))       # the user's file, same name
    assert json.loads(run("cache", "clear", "--json").stdout)["removed"] == 1
    assert ours[0].exists() and not ours[1].exists()


def test_eviction_never_deletes_foreign_files(monkeypatch):
    ours, theirs = _fill_cache()
    monkeypatch.setenv("MSGAN_EVAL_CACHE_MAX_MB", "0.000001")
    from msgan_eval.cache import evict

    evict()
    assert all(p.exists() for p in theirs) and not any(p.exists() for p in ours[:2])


def test_cache_max_mb_zero_keeps_nothing(monkeypatch):
    from msgan_eval.cache import list_entries
    from msgan_eval.features.stats_cache import cache_key, write_cached_stats

    monkeypatch.setenv("MSGAN_EVAL_CACHE_MAX_MB", "0")
    write_cached_stats(cache_key("s", "sha", 64, True), _stats())
    assert list_entries() == []


def test_entries_written_before_the_manifest_are_adopted_on_a_verified_read():
    from msgan_eval.cache import list_entries
    from msgan_eval.features.stats_cache import cache_key, cache_path, read_cached_stats, save_fid_stats

    key = cache_key("old", "sha", 64, True)
    save_fid_stats(cache_path(key), _stats())             # as an older version wrote it
    assert list_entries() == []
    assert read_cached_stats(key, "src", 64, "sha") is not None
    assert [e.path for e in list_entries()] == [cache_path(key)]


@pytest.mark.parametrize("sub", ["list", "clear"])
def test_cache_folder_that_is_a_file_is_refused(tmp_path, monkeypatch, sub):
    blocker = tmp_path / "cache-file"
    blocker.write_text("x")
    monkeypatch.setenv("MSGAN_EVAL_CACHE", str(blocker))
    assert_refused(run("cache", sub), "MSGAN_EVAL_CACHE", blocker, "is a file")
    assert blocker.read_text() == "x"


def test_a_crafted_manifest_cannot_reach_outside_the_cache(tmp_path):
    """Even a manifest line naming a file outside the cache (or a symlink inside it) with the
    right size and inode deletes nothing there."""
    import os

    from msgan_eval.paths import cache_dir

    outside = tmp_path / "precious.txt"
    outside.write_text("keep")
    root = cache_dir()
    (root / "fid-stats").mkdir(parents=True)
    (root / "fid-stats" / "link.npz").symlink_to(outside)
    st = outside.stat()
    rows = [{"path": os.path.relpath(outside, root), "kind": "fid-stats", "size": st.st_size,
             "ino": st.st_ino},
            {"path": str(outside), "kind": "fid-stats", "size": st.st_size, "ino": st.st_ino},
            {"path": "fid-stats/link.npz", "kind": "fid-stats", "size": st.st_size,
             "ino": st.st_ino}]
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = run("cache", "clear", "--what", "all", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["removed"] == 0
    assert outside.read_text() == "keep" and (root / "fid-stats" / "link.npz").is_symlink()
