"""msgan_eval.modes / ``msgan-eval modes``: the evaluation layer over the metric (the metric itself
is tested against PacGAN's code in tests/test_modes_metric.py)."""
import json

import numpy as np
import pytest
import reference_modes as ref
import torch
from click.testing import CliRunner

import msgan_eval
from msgan_eval.cli import main
from msgan_eval.datasets import DEBIAN_FASHION_MNIST
from msgan_eval.errors import ParameterError
from msgan_eval.evaluate.modes_stacked import stacked_modes

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture
def grid_points():
    rng = np.random.default_rng(5)
    centres = np.array(ref.GRID_MEANS, dtype=float)
    return centres[rng.integers(0, 20, 2500)] + rng.normal(0, 0.06, (2500, 2))


def test_cli_json_is_the_api_result_and_pacgans_numbers(tmp_path, grid_points):
    path = tmp_path / "pts.npy"
    np.save(path, grid_points.astype(np.float32))
    result = run("modes", "grid", path, "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    api = msgan_eval.modes("grid", path).to_dict()
    assert {k: out[k] for k in api} == api
    expected = ref.metric_logger(grid_points.astype(np.float32), ref.GRID_MEANS, ref.GRID_VARIANCES)
    assert out["counts"] == expected["detail of coverage"].astype(int).tolist()
    assert out["modes"] == expected["mode coverage"] and out["modes_total"] == 25
    assert out["high_quality"] == expected["good points percentage"]
    assert out["reverse_kl"] == pytest.approx(expected["reverse KL"], abs=1e-9)
    assert set(out) >= {"modes", "modes_total", "high_quality", "reverse_kl", "counts"}


def test_csv_array_and_tensor_inputs_agree(tmp_path, grid_points):
    csv = tmp_path / "pts.csv"
    np.savetxt(csv, grid_points, delimiter=",", header="x,y", comments="", fmt="%.17g")
    from_csv = msgan_eval.modes("grid", csv)
    assert from_csv.counts == msgan_eval.modes("grid", grid_points).counts
    assert from_csv.counts == msgan_eval.modes("grid", torch.from_numpy(grid_points)).counts
    assert from_csv.input == str(csv)


def test_no_high_quality_sample_gives_null_kl(tmp_path):
    path = tmp_path / "far.npy"
    np.save(path, np.full((50, 2), 7.0))
    out = json.loads(run("modes", "ring", path, "--json").stdout)
    assert out["reverse_kl"] is None and out["modes"] == 0 and out["high_quality"] == 0.0
    assert "n/a" in run("modes", "ring", path).stdout


def test_api_errors_are_value_and_type_errors():
    with pytest.raises(ValueError, match="layout"):
        msgan_eval.modes("hexagon", np.zeros((10, 2)))
    with pytest.raises(ValueError, match=r"shape \(10, 3\)"):
        msgan_eval.modes("ring", np.zeros((10, 3)))
    with pytest.raises(TypeError):
        msgan_eval.modes("ring", [[0.0, 1.0]] * 10)
    with pytest.raises(ParameterError):
        msgan_eval.modes("grid", np.zeros((24, 2)))


def _digit_items(labels, rng):
    """Stacked items whose channel c shows digit labels[:, c] as its mean brightness band."""
    base = (labels * 25 + 5).astype(np.uint8)                       # 5, 30, ..., 230
    noise = rng.integers(0, 10, (len(labels), 28, 28, 3), dtype=np.uint8)
    return base[:, None, None, :] + noise


def _brightness_labeller(items):
    return (items.reshape(len(items), -1).mean(axis=1) // 25).astype(np.int64)


def test_stacked_counts_the_labelled_triples_as_pacgan(tmp_path):
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 4, (1500, 3))
    items = _digit_items(labels, rng)
    path = tmp_path / "stacked.npy"
    np.save(path, items)
    got = stacked_modes(path, labeller=_brightness_labeller)
    expected = ref.log_metrics(*(labels[:, c].tolist() for c in range(3)), len(labels))
    assert got.modes == expected["mode coverage"] == 64
    assert got.kl == pytest.approx(expected["KL"], abs=1e-9)
    assert got.n == 1500 and "not the protocol's 26000" in got.warnings[0]
    assert sum(t[3] for t in got.top_triples) <= 1500 and len(got.top_triples) == 10


def test_stacked_reads_a_folder_of_rgb_images(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(6)
    labels = rng.integers(0, 10, (1000, 3))
    items = _digit_items(labels, rng)
    for i, item in enumerate(items):
        Image.fromarray(item).save(tmp_path / f"{i:04d}.png")
    from_folder = stacked_modes(tmp_path, labeller=_brightness_labeller)
    from_array = stacked_modes(items, labeller=_brightness_labeller)
    assert from_folder.modes == from_array.modes and from_folder.kl == from_array.kl


@pytest.mark.skipif(not DEBIAN_FASHION_MNIST.exists(), reason="needs Debian's dataset-fashion-mnist")
def test_stacked_cli_with_the_bundled_classifier_is_pacgans_count_of_its_labels(tmp_path):
    from msgan_eval.datasets import load_fashion_mnist
    from msgan_eval.features.classifier import load_classifier
    from msgan_eval.train.stacked_data import uniform_triple_items

    images, labels = load_fashion_mnist("test")
    items, _ = uniform_triple_items(images, labels, 1000, seed=3)
    path = tmp_path / "items.npy"
    np.save(path, items)
    result = run("modes", "stacked", path, "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    clf = load_classifier("fashion-mnist")
    dect = [clf.classify(items[..., c])[0].tolist() for c in range(3)]
    expected = ref.log_metrics(*dect, len(items))
    assert out["modes"] == expected["mode coverage"] and out["modes_total"] == 1000
    assert out["kl"] == pytest.approx(expected["KL"], abs=1e-9) and out["n"] == 1000
    assert out["classifier"]["name"] == "fashion-mnist"
    assert out["classifier"]["test_error"] == pytest.approx(1 - clf.info["test_accuracy"])
    from msgan_eval.cli.modes import _human_stacked  # the text, without a 2nd pass
    from msgan_eval.evaluate.modes_stacked import StackedModesResult

    text = _human_stacked(StackedModesResult(**{k: out[k] for k in StackedModesResult.__dataclass_fields__}))
    assert "classifier fashion-mnist, per-channel test error 9.86%" in text
    missing = run("modes", "stacked", path, "--classifier", tmp_path / "nope.pt")
    assert missing.exit_code == 3 and "nope.pt" in missing.stderr
    assert "error: --classifier " in missing.stderr, missing.stderr      # the option, not "classifier"
