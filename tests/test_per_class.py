"""Per-class FID: equal to pytorch-fid run folder by folder; missing conditions refused or skipped."""
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from pytorch_fid import fid_score

from msgan_eval.cli import main

from _fid_fixtures import install_in_hub_cache
from conftest import write_random_pngs

DIMS = "64"


@pytest.fixture(scope="module")
def class_folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("per-class")
    for side, seed in (("a", 20), ("b", 40)):
        for k, cls in enumerate(("cat", "dog", "owl")):
            write_random_pngs(root / side / cls, 10 + 2 * k, seed=seed + k)
    return root / "a", root / "b"


def run(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    return result


def test_per_class_fid_equals_pytorch_fid_folder_by_folder(class_folders, random_weights,
                                                          one_torch_thread):
    install_in_hub_cache(torch.load(random_weights, weights_only=True), Path(os.environ["TORCH_HOME"]))
    a, b = class_folders
    result = run("fid", a, b, "--per-class", "--dims", DIMS, "--inception-weights", random_weights,
                 "--json", "--quiet")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    for cls in ("cat", "dog", "owl"):
        expected = fid_score.calculate_fid_given_paths([str(a / cls), str(b / cls)], 50, "cpu", 64, 0)
        assert out["per_class"][cls] == pytest.approx(expected, rel=1e-4), cls
    assert out["fid_per_class_mean"] == pytest.approx(np.mean(list(out["per_class"].values())))
    import msgan_eval

    # the pooled FID is the plain `fid`'s (pytorch-fid only globs a folder's top level)
    pooled = msgan_eval.fid(str(a), str(b), dims=64, inception_weights=random_weights, use_cache=False)
    assert out["fid"] == pytest.approx(pooled.fid, rel=1e-6)

    api = msgan_eval.fid(str(a), str(b), per_class=True, dims=64, inception_weights=random_weights)
    assert api.to_dict() == {k: v for k, v in out.items() if k != "threads"}


def test_missing_condition_is_one_line_or_skipped(class_folders, random_weights, tmp_path):
    a, b = class_folders
    partial = tmp_path / "b"
    shutil.copytree(b, partial)
    shutil.rmtree(partial / "owl")
    result = run("fid", a, partial, "--per-class", "--dims", DIMS, "--inception-weights", random_weights)
    assert result.exit_code == 2
    message = result.output.strip().splitlines()[-1]
    assert "owl" in message and "--skip-missing" in message and "B" in message
    result = run("fid", a, partial, "--per-class", "--skip-missing", "--dims", DIMS,
                 "--inception-weights", random_weights, "--json", "--quiet")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert sorted(out["per_class"]) == ["cat", "dog"] and out["missing_classes"] == {"b": ["owl"]}


def test_per_class_refuses_statistics_files(class_folders, random_weights, tmp_path):
    a, _ = class_folders
    stats = tmp_path / "a.npz"
    assert run("stats", a, "--out", stats, "--dims", DIMS, "--inception-weights", random_weights,
               "--quiet").exit_code == 0
    result = run("fid", a, stats, "--per-class", "--dims", DIMS, "--inception-weights", random_weights)
    assert result.exit_code == 2 and "--per-class" in result.output
