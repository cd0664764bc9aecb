"""``--protocol msgan`` on ``lpips`` (50 samples, 50 random pairs per condition, recorded, flags
that contradict it refused) and exact duplicates in the ``lpips`` output."""
import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from msgan_eval.cli import main
from msgan_eval.errors import ParameterError
from msgan_eval.evaluate.protocol import lpips_samples, settle
from msgan_eval.features.lpips_net import write_random_backbone
from msgan_eval.images import scan_images

from conftest import write_random_pngs


@pytest.fixture(scope="module")
def alex_file(tmp_path_factory):
    return write_random_backbone("alex", tmp_path_factory.mktemp("bb") / "alex.pth", seed=3)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("proto")
    write_random_pngs(root / "set" / "big", 60, size=(64, 64), seed=1)
    write_random_pngs(root / "src", 3, size=(64, 64), seed=2)
    (root / "set" / "rep").mkdir()
    for i in range(12):          # three images repeated
        shutil.copyfile(root / "src" / f"{i % 3:04d}.png", root / "set" / "rep" / f"{i:04d}.png")
    return root / "set"


def test_lpips_samples_are_seeded_and_capped(folder):
    images = scan_images(folder)
    cut = lpips_samples(images, per_condition=50, seed=0)
    groups = cut.groups()
    assert len(groups["big"]) == 50 and len(groups["rep"]) == 12
    again = lpips_samples(images, per_condition=50, seed=0)
    assert [r.name for r in again.refs] == [r.name for r in cut.refs]
    other = lpips_samples(images, per_condition=50, seed=1)
    assert [r.name for r in other.refs] != [r.name for r in cut.refs]


def test_settle_refuses_a_contradiction():
    assert settle("msgan", {"k": 100}, {"k": None}) == {"k": 100}
    with pytest.raises(ParameterError, match="contradicts"):
        settle("msgan", {"k": 100}, {"k": 20})
    with pytest.raises(ParameterError, match="use one of msgan"):
        settle("imagenet", {}, {})


def test_lpips_protocol_msgan_and_duplicates(folder, alex_file, one_torch_thread):
    def run(*args):
        return CliRunner().invoke(main, ["lpips", str(folder), "--lpips-backbone", str(alex_file), *args])

    result = run("--protocol", "msgan", "--json", "--quiet")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["protocol"]["name"] == "msgan" and out["protocol"]["settings"]["samples"] == 50
    assert out["n_images"] == 62 and out["pairs_per_group"] == {"big": 50, "rep": 50}
    assert out["duplicates"]["per_condition"]["rep"]["exact"] == pytest.approx(9 / 12)
    assert out["duplicates"]["per_condition"]["big"]["exact"] == 0.0
    bad = run("--protocol", "msgan", "--num-pairs", "10")
    assert bad.exit_code == 2 and "contradicts" in bad.output
    assert np.isfinite(out["lpips"])
