"""Bad-input catalogue rows of ``msgan-eval modes`` (issue 24), each through the CLI: exit 2, one
line on stderr naming the file, no traceback; a non-protocol sample size is allowed and noted."""
import json

import numpy as np
import pytest
from click.testing import CliRunner
from test_catalogue import assert_refused

from msgan_eval.cli import main

from conftest import write_random_pngs

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _npy(tmp_path, name, arr):
    path = tmp_path / name
    np.save(path, arr)
    return path


def _ring_points(n, seed=0):
    rng = np.random.default_rng(seed)
    angles = 2 * np.pi * rng.integers(0, 8, n) / 8
    return np.stack([np.cos(angles), np.sin(angles)], 1) + rng.normal(0, 0.01, (n, 2))


@pytest.mark.parametrize("case,needle", [
    ("n_by_3", "shape (30, 3)"),
    ("nan", "NaN or infinite (first at row 4)"),
    ("inf", "NaN or infinite"),
    ("empty_npy", "no points"),
    ("too_few", "fewer than the 25 modes"),
    ("strings", "holds <U"),
    ("object", "cannot read it as a .npy"),
])
def test_bad_2d_arrays_are_refused(tmp_path, case, needle):
    pts = _ring_points(30)
    arrays = {"n_by_3": np.zeros((30, 3)), "nan": np.where(np.arange(30)[:, None] == 4, np.nan, pts),
              "inf": np.where(np.arange(30)[:, None] == 7, np.inf, pts),
              "empty_npy": np.zeros((0, 2)), "too_few": pts[:5], "strings": np.array([["a", "b"]] * 30),
              "object": np.array([None] * 30, dtype=object)}
    path = tmp_path / f"{case}.npy"
    np.save(path, arrays[case], allow_pickle=True)
    assert_refused(run("modes", "grid", path), path, needle)
    assert_refused(run("modes", "grid", path, "--json"), path, needle, json_out=True)


@pytest.mark.parametrize("text,needle", [("", "no points"), ("x,y\n", "no points"),
                                         ("1,2\n3,oops\n", "row 2"),
                                         ("1,2\n3,4,5\n", "different numbers of columns"),
                                         ("1,2,3\n" * 20, "shape (20, 3)"),
                                         ("nan,1\n" * 20, "NaN or infinite")])
def test_bad_csv_files_are_refused(tmp_path, text, needle):
    path = tmp_path / "points.csv"
    path.write_text(text)
    assert_refused(run("modes", "ring", path), path, needle)


def test_other_files_are_refused(tmp_path):
    path = tmp_path / "points.txt"
    path.write_text("1 2\n")
    assert_refused(run("modes", "ring", path), path, ".npy or .csv")
    assert_refused(run("modes", "ring", tmp_path / "gone.npy"), "gone.npy", "no such file")
    assert_refused(run("modes", "hexagon", path), "hexagon")


def test_a_non_protocol_size_is_allowed_and_noted(tmp_path):
    path = _npy(tmp_path, "pts.npy", _ring_points(100))
    result = run("modes", "ring", path, "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["n"] == 100 and "not the protocol's 2500" in out["warnings"][0]
    assert json.loads(run("modes", "ring", _npy(tmp_path, "p.npy", _ring_points(2500)),
                          "--json").stdout)["warnings"] == []


@pytest.mark.parametrize("case,needle", [
    ("gray_nhw", "grayscale"), ("gray_nhw1", "grayscale"), ("equal_channels", "grayscale"),
    ("size_32", "items are 32x32"), ("float", "dtype float32"), ("too_few", "fewer than the 1000"),
    ("channels_first", "shape (1200, 3, 28, 28)"), ("empty", "no items"),
])
def test_bad_stacked_arrays_are_refused(tmp_path, case, needle):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (1200, 28, 28, 3), dtype=np.uint8)
    arrays = {"gray_nhw": rgb[..., 0], "gray_nhw1": rgb[..., :1],
              "equal_channels": np.repeat(rgb[..., :1], 3, axis=3),
              "size_32": rng.integers(0, 256, (1200, 32, 32, 3), dtype=np.uint8),
              "float": rgb.astype(np.float32), "too_few": rgb[:999],
              "channels_first": rgb.transpose(0, 3, 1, 2), "empty": rgb[:0]}
    path = _npy(tmp_path, f"{case}.npy", arrays[case])
    assert_refused(run("modes", "stacked", path), path, needle)


def test_a_folder_of_grayscale_pngs_is_refused(tmp_path):
    folder = write_random_pngs(tmp_path / "gray", 3, size=(28, 28), mode="L")
    assert_refused(run("modes", "stacked", folder), folder, "grayscale")
    rgb = write_random_pngs(tmp_path / "big", 3, size=(32, 32))
    assert_refused(run("modes", "stacked", rgb), rgb, "32x32")


def test_sample_refuses_a_mode_counting_run(tmp_path):
    run_dir = tmp_path / "run"
    result = run("train", "--dataset", "ring", "--out", run_dir, "--steps", 2, "--trials", 2,
                 "--width", 0.05, "--quiet")
    assert result.exit_code == 0, result.output
    assert_refused(run("sample", "--run", run_dir, "--out", tmp_path / "s"), run_dir, "points.npy")
    assert not (tmp_path / "s").exists()


def test_trainers_refuse_bad_settings_before_training(tmp_path):
    out = tmp_path / "run"
    assert_refused(run("train", "--dataset", "stacked-mnist", "--out", out, "--steps", 1),
                   "stacked-mnist", "--data-root")
    assert_refused(run("train", "--dataset", "stacked-mnist", "--out", out, "--steps", 1,
                       "--data-root", tmp_path), str(tmp_path), "no MNIST idx files")
    assert_refused(run("train", "--dataset", "ring", "--out", out, "--steps", 1, "--trials", 0),
                   "--trials")
    assert_refused(run("train", "--dataset", "grid", "--out", out, "--steps", 1,
                       "--subset-per-class", 3), "--subset-per-class does not apply")
    assert not out.exists() or not any(out.iterdir())
