"""``msgan-eval demo --task text-to-image`` end to end, tiny and offline."""
import json

import pytest
import torch
from click.testing import CliRunner

from msgan_eval.cli import main
from msgan_eval.datasets import DEBIAN_FASHION_MNIST
from msgan_eval.report.schema import validate_report

from _fid_fixtures import random_fid_inception_state_dict

pytestmark = [
    pytest.mark.skipif(not DEBIAN_FASHION_MNIST.exists(), reason="apt-get install dataset-fashion-mnist"),
    pytest.mark.filterwarnings("ignore:Matrix is singular"),
    pytest.mark.usefixtures("one_torch_thread", "small_inception"),
]


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    from msgan_eval.features.lpips_net import write_random_backbone

    root = tmp_path_factory.mktemp("weights")
    torch.save(random_fid_inception_state_dict(0), root / "inception.pth")
    return ["--inception-weights", root / "inception.pth", "--dims", 64,
            "--lpips-backbone", write_random_backbone("alex", root / "alex.pth")]


def test_text_to_image_demo_reports_both_arms_and_the_counted_diversity(tmp_path, weights):
    out = tmp_path / "demo"
    args = ["demo", "--task", "text-to-image", "--out", out, "--steps", 2, "--width", 0.0625,
            "--ref-per-class", 3, "--ndb-bins", 4, "--bootstrap", 20, "--per-input", 3, "--captions", 12, *weights,
            "--json", "--quiet", "--device", "cpu"]
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    validate_report(json.loads((out / "report.json").read_text()))
    # the joint quality-diversity verdict; the inspector's degenerate fraction is measured or
    # skipped with its reason (under 50 reference images here)
    assert payload["overall"]["verdict"] in ("candidate-better", "baseline-better", "trade-off",
                                             "no-significant-difference")
    assert "degenerate" in payload["runs"]["baseline"] or "degenerate" in payload["skipped"]
    demo = payload["details"]["demo"]
    assert demo["task"] == "text-to-image" and demo["model"] == "stackgan"
    # the first 12 canonical captions: the 10 colourless ones, then "a red / a yellow t-shirt"
    assert payload["inputs"]["baseline"]["conditions"] == 12 and payload["inputs"]["baseline"]["n_images"] == 36
    hues = demo["hues"]
    for arm in ("baseline", "msgan"):
        entry = hues["arms"][arm][0]
        assert len(entry["colourless"]["per_input"]) == 10
        assert 0 <= entry["named_hue_share"] <= 1 and len(entry["named_hue_share_per_caption"]) == 2
    assert any(n.startswith("counted diversity: distinct hues per caption") for n in payload["notes"])
    configs = {a: json.loads((out / "runs" / a / "config.json").read_text()) for a in ("baseline", "msgan")}
    assert configs["baseline"]["ms_weight"] == 0.0 and configs["msgan"]["task"] == "text-to-image"
    captions = json.loads((out / "samples" / "msgan" / "captions.json").read_text())
    assert captions["a-red-t-shirt"] == {"text": "a red t-shirt", "class": "t-shirt", "colour": "red",
                                         "colour_index": 0}
    assert "a-yellow-t-shirt" in captions and "a-green-t-shirt" not in captions
    html = (out / "report.html").read_text()
    assert "Counted diversity" in html and html.count("alt='StackGAN++ + MS'") == 3
    assert "counted diversity" in (out / "report.md").read_text()
