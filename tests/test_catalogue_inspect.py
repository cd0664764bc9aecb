"""The bad-input catalogue of ``inspect`` and of the realism gate's ``--real`` (lpips, vendi):
exit 2, one line on stderr naming the option or file, no traceback, nothing written."""
import numpy as np
import pytest
from click.testing import CliRunner
from test_catalogue import assert_refused, listing

from msgan_eval.cli import main
from msgan_eval.features.lpips_net import write_random_backbone

from conftest import write_random_pngs

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args] + ["--quiet"])


@pytest.fixture
def sets(tmp_path):
    """gen: 2 conditions of 4; small: 10 reference images; stats: a FID statistics file."""
    for c in ("a", "b"):
        write_random_pngs(tmp_path / "gen" / c, 4, size=(32, 32), seed=ord(c))
    write_random_pngs(tmp_path / "small", 10, size=(32, 32), seed=7)
    write_random_pngs(tmp_path / "ref", 50, size=(8, 8), seed=8)
    np.savez(tmp_path / "stats.npz", mu=np.zeros(4), sigma=np.eye(4))
    return {"gen": tmp_path / "gen", "small": tmp_path / "small", "stats": tmp_path / "stats.npz",
            "ref": tmp_path / "ref", "out": tmp_path / "out"}


def test_reference_too_small(sets):
    page = sets["out"] / "flags.html"
    result = run("inspect", sets["gen"], "--ref", sets["small"], "--html", page)
    assert_refused(result, "--ref", "10 images", "at least 50")
    assert listing(sets["out"]) is None


def test_reference_missing_is_a_usage_error(sets):
    assert_refused(run("inspect", sets["gen"]), "--ref", "--help")


@pytest.mark.parametrize("which", ["DIR", "--ref", "--train"])
def test_statistics_file_instead_of_images(sets, which):
    args = {"DIR": ("inspect", sets["stats"], "--ref", sets["small"]),
            "--ref": ("inspect", sets["gen"], "--ref", sets["stats"]),
            "--train": ("inspect", sets["gen"], "--ref", sets["ref"], "--train", sets["stats"])}
    result = run(*args[which])
    assert_refused(result, which, "statistics file", "images themselves")


def test_html_under_a_file_is_refused_before_work(sets):
    blocker = sets["out"].parent / "blocker"
    blocker.write_text("x")
    result = run("inspect", sets["gen"], "--ref", sets["small"], "--html", blocker / "p.html")
    assert_refused(result, "--html", str(blocker))
    assert blocker.read_text() == "x"


@pytest.mark.parametrize("value", ["nan", "0", "1.5"])
def test_near_duplicate_cosine_is_checked(sets, value):
    result = run("inspect", sets["gen"], "--ref", sets["small"], "--near-duplicate-cosine", value)
    assert_refused(result, "--near-duplicate-cosine")


@pytest.mark.parametrize("value", ["0", "101", "nan"])
def test_prune_percentile_is_checked(sets, value):
    result = run("inspect", sets["gen"], "--ref", sets["small"], "--prune-percentile", value)
    assert_refused(result, "--prune-percentile")


def test_k_is_checked(sets):
    assert_refused(run("inspect", sets["gen"], "--ref", sets["small"], "--k", 0), "--k")


def test_lpips_real_too_small(sets, tmp_path):
    alex = write_random_backbone("alex", tmp_path / "alex.pth", seed=3)
    result = run("lpips", sets["gen"], "--real", sets["small"], "--lpips-backbone", alex)
    assert_refused(result, "--real", "10 images", "at least 50")


def test_vendi_real_too_small(sets):
    result = run("vendi", sets["gen"], "--real", sets["small"])
    assert_refused(result, "--real", "10 images", "at least 50")
