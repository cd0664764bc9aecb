"""Diversity among realistic samples: ``lpips(..., real=REF)`` and ``vendi(..., real=REF)`` with
the real LPIPS AlexNet (``lpips_archive``) and the real FID Inception (``converted``), on
conditions of half real items, half degenerate images (Fashion-MNIST padded to 32 x 32, as the
image-to-image demo's targets)."""
import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from test_flags import degenerate_images

from msgan_eval.cli import main
from msgan_eval.datasets import DEBIAN_FASHION_MNIST, load_fashion_mnist
from msgan_eval.evaluate.lpips import lpips_diversity
from msgan_eval.evaluate.vendi import vendi

pytestmark = pytest.mark.usefixtures("one_torch_thread")
CONDITIONS = ("a", "b", "c", "d")
N_REF = 200


def pad(images):
    return np.pad(np.asarray(images), ((0, 0), (2, 2), (2, 2)))


def save(folder, images):
    folder.mkdir(parents=True, exist_ok=True)
    for i, img in enumerate(images):
        Image.fromarray(img).save(folder / f"{i:03d}.png")
    return folder


@pytest.fixture(scope="module")
def half(tmp_path_factory):
    """Each condition: 6 distinct test items then 6 degenerate images; the real halves alone;
    one condition with a single real item (fewer than 2 kept)."""
    if not DEBIAN_FASHION_MNIST.is_dir():
        pytest.skip("Debian's dataset-fashion-mnist is not installed")
    train, _ = load_fashion_mnist("train")
    test, _ = load_fashion_mnist("test")
    root = tmp_path_factory.mktemp("gate")
    bad = pad(degenerate_images(n_each=3))
    real = pad(test[:24])
    for j, c in enumerate(CONDITIONS):
        save(root / "half" / c, list(real[6 * j:6 * j + 6]) + list(bad[6 * j:6 * j + 6]))
        save(root / "real" / c, real[6 * j:6 * j + 6])
    save(root / "lonely" / "a", list(real[:1]) + list(bad[:5]))
    save(root / "lonely" / "b", real[6:12])
    return {"ref": save(root / "ref", pad(train[:N_REF])), "half": root / "half",
            "real": root / "real", "lonely": root / "lonely"}


@pytest.fixture
def weights(converted, lpips_archive):
    from _fid_fixtures import seed_converted_cache

    seed_converted_cache(converted)          # found as msgan-eval finds it, and verified


def test_gated_lpips_is_lpips_of_the_kept_real_halves(half, weights):
    r = lpips_diversity(half["half"], pairs="all", real=half["ref"])
    real = lpips_diversity(half["real"], pairs="all")
    g = r.gated
    kept = g["kept_fraction_per_group"]
    print("kept per condition:", kept, "gated:", g["groups_gated"], "real halves:", real.groups)
    for c in CONDITIONS:
        assert kept[c] <= 0.5                    # no degenerate image passes
        assert kept[c] >= 0.5 * 4 / 6            # at most 2 of the 6 real items rejected
    assert r.kept_fraction == pytest.approx(np.mean(list(kept.values())))
    assert 0.33 <= r.kept_fraction <= 0.5
    # conditions whose real half passes whole: exactly the real half's LPIPS (same pairs)
    whole = [c for c in CONDITIONS if kept[c] == 0.5]
    assert whole, kept
    for c in whole:
        assert g["groups_gated"][c] == pytest.approx(real.groups[c], rel=1e-6)
    assert r.lpips_gated == pytest.approx(real.score, rel=0.15)
    assert r.score > real.score                  # noise inflates plain LPIPS diversity


def test_condition_with_fewer_than_two_kept_is_reported(half, weights):
    r = lpips_diversity(half["lonely"], pairs="all", real=half["ref"])
    g = r.gated
    assert g["groups_gated"]["a"] is None
    assert "pass the realism gate" in g["gate"]["not_computed"]["a"]
    assert g["groups_gated"]["b"] is not None
    assert r.lpips_gated == g["groups_gated"]["b"]   # the mean over the conditions that have one


def test_cli_lpips_real_equals_api(half, weights):
    res = CliRunner().invoke(main, ["lpips", str(half["half"]), "--pairs", "all", "--real",
                                    str(half["ref"]), "--json", "--quiet"])
    assert res.exit_code == 0, res.output
    cli = json.loads(res.stdout)
    api = lpips_diversity(half["half"], pairs="all", real=half["ref"]).to_dict()
    for key in ("lpips_gated", "kept_fraction", "groups_gated", "kept_fraction_per_group"):
        assert cli[key] == api[key]
    assert cli["gate"]["k"] == 5 and cli["gate"]["n_reference"] == N_REF
    assert "noise" in cli["gate"]["rule"]


def test_gated_vendi(half, weights):
    r = vendi(half["half"], real=half["ref"])
    real = vendi(half["real"])
    assert r.gated["kept_fraction"] <= 0.5
    for c, v in r.gated["groups_gated"].items():
        if r.gated["kept_fraction_per_group"][c] == 0.5:
            assert v == pytest.approx(real.per_condition[c], rel=1e-9)


def test_without_inception_gated_lpips_says_why(half, lpips_archive, monkeypatch):
    from msgan_eval.features import inception_convert

    monkeypatch.setattr(inception_convert, "fid_helper_torchscript", lambda: None)
    r = lpips_diversity(half["real"], pairs="all", real=half["ref"])
    assert r.lpips_gated is None and r.kept_fraction is None
    assert "weights" in r.gated["gate"]["reason"]
    assert r.score > 0                            # plain LPIPS still runs


def test_no_real_keeps_the_old_output(half, lpips_archive):
    d = lpips_diversity(half["real"], pairs="all").to_dict()
    assert d["lpips_gated"] is None and d["gate"] is None
