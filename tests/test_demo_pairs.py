"""``msgan-eval demo --task image-to-image`` and ``--seeds`` end to end, tiny and offline."""
import json

import pytest
import torch
from click.testing import CliRunner

from msgan_eval import defaults
from msgan_eval.cli import main
from msgan_eval.datasets import DEBIAN_FASHION_MNIST, balanced_subset, load_fashion_mnist
from msgan_eval.report.schema import validate_report

from _fid_fixtures import random_fid_inception_state_dict

pytestmark = [
    pytest.mark.usefixtures("small_inception"),
    pytest.mark.skipif(not DEBIAN_FASHION_MNIST.exists(), reason="apt-get install dataset-fashion-mnist"),
    pytest.mark.filterwarnings("ignore:Matrix is singular"),
]


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    from msgan_eval.features.lpips_net import write_random_backbone

    root = tmp_path_factory.mktemp("weights")
    torch.save(random_fid_inception_state_dict(0), root / "inception.pth")
    return ["--inception-weights", root / "inception.pth", "--dims", 64,
            "--lpips-backbone", write_random_backbone("alex", root / "alex.pth")]


def _demo(out, weights, *more):
    args = ["demo", "--out", out, "--steps", 2, "--width", 0.05, "--ref-per-class", 3,
            "--ndb-bins", 4, "--bootstrap", 20, *weights, "--json", "--quiet", "--device", "cpu", *more]
    return CliRunner().invoke(main, [str(a) for a in args])


def test_image_to_image_demo_writes_report_with_input_rows(tmp_path, weights):
    out = tmp_path / "demo"
    result = _demo(out, weights, "--task", "image-to-image", "--inputs", 3, "--per-input", 4)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    validate_report(json.loads((out / "report.json").read_text()))
    assert payload["details"]["demo"]["task"] == "image-to-image"
    assert payload["inputs"]["baseline"]["n_images"] == 12 and payload["inputs"]["baseline"]["conditions"] == 3
    assert payload["inputs"]["baseline"]["path"] == str(out / "samples" / "baseline" / "samples")
    assert set(payload["metrics"]) == {"fid", "lpips", "ndb", "jsd"}
    assert sorted(p.name for p in (out / "samples" / "msgan").iterdir()) == [
        "inputs", "sample.json", "samples", "targets"]
    html = (out / "report.html").read_text()
    assert "Inputs, targets and samples" in html and html.count("alt='target'") == 3
    assert html.count("alt='MSGAN'") == 3 and html.count("alt='baseline (pix2pix)'") == 3
    config = json.loads((out / "runs" / "msgan" / "config.json").read_text())
    assert config["task"] == "image-to-image" and config["ms_weight"] == defaults.P2P_DEMO_MS_WEIGHT
    assert (config["upsample"], config["ms_eps"], config["ms_cap"]) == (
        defaults.P2P_DEMO_UPSAMPLE, defaults.P2P_DEMO_MS_EPS, defaults.P2P_DEMO_MS_CAP)
    assert json.loads((out / "runs" / "baseline" / "config.json").read_text())["ms_weight"] == 0
    # the judges: per arm class agreement and degenerate fraction, in the JSON, the notes, the HTML
    judges = payload["details"]["demo"]["judges"]
    for arm in ("baseline", "msgan"):
        assert judges[arm]["n"] == 12 and 0 <= judges[arm]["class_agreement"] <= 1
        assert len(judges[arm]["per_seed"]) == 1
        assert judges[arm]["degenerate_fraction"] is None      # 30 reference images: not calibrated
    assert judges["classifier"]["test_accuracy"] >= 0.9
    assert any("keep the input's item" in note for note in payload["notes"])
    assert html.count("keeps the item:") == 2 + 2 * 3          # the summary, and each row
    assert html.count("blank/noise: n/a") == 2 + 2 * 3        # beside it, each arm's degenerate fraction
    # the joint verdict of compare (metrics/overall.py) heads the report, in HTML and Markdown
    overall = json.loads((out / "report.json").read_text())["overall"]["verdict"]
    assert f"<h2>Overall: <span class='{overall}'>{overall}</span></h2>" in html
    md = (out / "report.md").read_text()
    assert "keep the input's item" in md and f"**Overall: {overall}**" in md


def test_inputs_are_balanced_and_outside_the_reference(tmp_path, weights):
    out = tmp_path / "demo"
    result = _demo(out, weights, "--task", "image-to-image", "--inputs", 10, "--per-input", 2,
                   "--ref-per-class", 5)
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "samples" / "msgan" / "sample.json").read_text())
    assert manifest["classes"] == list(range(10)) and manifest["excluded"] == 50
    ref = list((out / "reference").rglob("*.png"))
    assert len(ref) == 50
    _, labels = load_fashion_mnist("test")
    ref_idx = balanced_subset(labels, 5, seed=0)
    assert not set(manifest["indices"]) & set(ref_idx.tolist())
    # 50 reference images: inspect's flags are calibrated, each arm gets its degenerate fraction
    judges = json.loads(result.stdout)["details"]["demo"]["judges"]
    for arm in ("baseline", "msgan"):
        assert 0 <= judges[arm]["degenerate_fraction"] <= 1 and judges[arm]["n"] == 20
        shown = f"blank/noise: {100 * judges[arm]['degenerate_fraction']:.1f}%"
        assert shown in (out / "report.html").read_text()


@pytest.mark.parametrize("task", ["categorical", "image-to-image"])
def test_seeds_train_one_run_per_seed_and_pool_them(tmp_path, weights, task):
    out = tmp_path / "demo"
    sizes = ["--per-class", 2] if task == "categorical" else ["--inputs", 2, "--per-input", 3]
    result = _demo(out, weights, "--task", task, "--seeds", 2, "--seed", 4, *sizes)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert sorted(p.name for p in (out / "runs").iterdir()) == [
        "baseline-s4", "baseline-s5", "msgan-s4", "msgan-s5"]
    assert json.loads((out / "runs" / "msgan-s5" / "config.json").read_text())["seed"] == 5
    if task == "image-to-image":     # each seed samples with its own noise, the inputs stay
        m4, m5 = (json.loads((out / "samples" / f"msgan-s{s}" / "sample.json").read_text())
                  for s in (4, 5))
        assert (m4["seed"], m5["seed"]) == (4, 5) and m4["indices"] == m5["indices"]
        assert payload["details"]["demo"]["sampling_seeds"] == [4, 5]
        assert len(payload["details"]["demo"]["judges"]["msgan"]["per_seed"]) == 2
    multi = payload["details"]["multirun"]
    assert len(multi["metrics"]["lpips"]["candidate"]["values"]) == 2
    assert payload["details"]["demo"]["seeds"] == 2
