"""``msgan-eval demo --task unpaired`` end to end, tiny and offline."""
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


def _demo(out, weights, *more):
    args = ["demo", "--task", "unpaired", "--out", out, "--steps", 3, "--width", 0.05,
            "--ref-per-class", 3, "--ndb-bins", 4, "--bootstrap", 20, "--inputs", 3,
            "--per-input", 4, *weights, "--json", "--quiet", "--device", "cpu", *more]
    return CliRunner().invoke(main, [str(a) for a in args])


def test_unpaired_demo_reports_both_arms_and_the_counted_diversity(tmp_path, weights):
    out = tmp_path / "demo"
    result = _demo(out, weights)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    validate_report(json.loads((out / "report.json").read_text()))
    # the joint quality-diversity verdict; the inspector's degenerate fraction is measured or
    # skipped with its reason (under 50 reference images here)
    assert payload["overall"]["verdict"] in ("candidate-better", "baseline-better", "trade-off",
                                             "no-significant-difference")
    assert "degenerate" in payload["runs"]["baseline"] or "degenerate" in payload["skipped"]
    demo = payload["details"]["demo"]
    assert demo["task"] == "unpaired" and demo["model"] == "drit"
    assert payload["inputs"]["baseline"]["n_images"] == 12 and payload["inputs"]["baseline"]["conditions"] == 3
    assert payload["inputs"]["candidate"]["path"] == str(out / "samples" / "msgan" / "samples")
    hues = demo["hues"]
    assert set(hues["arms"]) == {"baseline", "msgan"} and len(hues["arms"]["msgan"]) == 1
    for arm in ("baseline", "msgan"):
        summary = hues["arms"][arm][0]
        assert len(summary["per_input"]) == 3 and 0 <= summary["mean_distinct"] <= 4
        assert sum(summary["hue_shares"]) + summary["no_hue_share"] == pytest.approx(1.0)
    assert hues["uniform_expectation"] == pytest.approx(6 * (1 - (5 / 6) ** 4), abs=1e-3)
    assert any(n.startswith("counted diversity: distinct hues per input") for n in payload["notes"])
    assert {"wall", "cpu"} <= set(demo["seconds"]["total"])
    configs = {arm: json.loads((out / "runs" / arm / "config.json").read_text()) for arm in ("baseline", "msgan")}
    assert configs["baseline"]["ms_weight"] == 0.0 and configs["msgan"]["ms_weight"] == 1.0
    assert configs["msgan"]["task"] == "unpaired" and configs["msgan"]["dataset"] == "fashion-mnist-tints"
    html = (out / "report.html").read_text()
    assert "Counted diversity: distinct hues per input" in html and html.count("alt='input'") == 3
    assert html.count("alt='DRIT + MS'") == 3 and html.count("alt='DRIT'") == 3
    assert "counted diversity" in (out / "report.md").read_text()
    # the reference is the tinted domain: colour images, one folder per class
    assert len(list((out / "reference").iterdir())) == 10


class _StopAfterSampling(Exception):
    pass


@pytest.mark.parametrize("module, sampler, trainer", [
    ("msgan_eval.demos.unpaired", "sample_drit_run", "train_arms"),
    ("msgan_eval.demos.text_to_image", "sample_stackgan_run", "_train_arms")])
def test_each_seed_samples_with_its_own_noise(tmp_path, monkeypatch, module, sampler, trainer):
    # issue #21's protocol, as in the image-to-image demo: both arms of one seed share the noise,
    # each seed draws its own
    import importlib

    mod = importlib.import_module(module)
    seeds = []

    def record(*args, seed, **kwargs):
        seeds.append(seed)
        if len(seeds) == 4:
            raise _StopAfterSampling
        return None

    sampler_module = ("msgan_eval.train.drit_sampler" if sampler == "sample_drit_run"
                      else "msgan_eval.train.stackgan_sampler")
    monkeypatch.setattr(importlib.import_module(sampler_module), sampler, record)
    monkeypatch.setattr(mod, sampler, record, raising=False)
    monkeypatch.setattr(mod, trainer, lambda *a, **k: {})
    monkeypatch.setattr(mod, "preflight_weights", lambda *a, **k: None)
    config_class = mod.UnpairedDemoConfig if "unpaired" in module else mod.TextDemoConfig
    run = (mod.train_sample_compare_unpaired if "unpaired" in module
           else mod.train_sample_compare_text)
    with pytest.raises(_StopAfterSampling):
        run(tmp_path, config_class(seed=7, seeds=2), quiet=True, log=lambda m: None, command=[])
    assert seeds == [7, 7, 8, 8]
