"""``msgan-eval compare`` and ``demo`` end to end on small folders, offline.

FID runs on a seeded random FID Inception (64-d block, saved as an explicit weights file), LPIPS on
a seeded random AlexNet with the lpips wheel's real heads. Each reported value is checked against
the metric's own road on the same inputs (pytorch-fid's Fréchet distance of the features,
``lpips_diversity``, ``evaluate_bins``), so the report cannot drift from ``fid``/``lpips``/``ndb``.
"""
import json
import re

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from pytorch_fid.fid_score import calculate_frechet_distance

from msgan_eval.cli import main
from msgan_eval.datasets import DEBIAN_FASHION_MNIST, FASHION_MNIST_CLASSES, balanced_subset, load_fashion_mnist
from msgan_eval.images import scan_images, write_image_folder
from msgan_eval.report.schema import validate_report

from _fid_fixtures import random_fid_inception_state_dict

pytestmark = [
    pytest.mark.skipif(not DEBIAN_FASHION_MNIST.exists(), reason="apt-get install dataset-fashion-mnist"),
    pytest.mark.filterwarnings("ignore:The `disp` argument:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:Matrix is singular"),   # pytorch-fid sqrtm, 30 images in 64-d
]


def _fashion(folder, per_class, seed, classes=None, split="test", size=32):
    """Fashion-MNIST images as OUT/<class>/<n>.png, nearest-upscaled to ``size`` for AlexNet."""
    images, labels = load_fashion_mnist(split)
    idx = balanced_subset(labels, per_class, seed, None if classes is None else np.array(classes))
    imgs = images[idx]
    if size != 28:
        rows = np.arange(size) * 28 // size
        imgs = imgs[:, rows][:, :, rows]
    write_image_folder(folder, imgs, labels[idx], FASHION_MNIST_CLASSES)
    return folder


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("compare")
    weights = root / "inception.pth"
    torch.save(random_fid_inception_state_dict(0), weights)
    from msgan_eval.features.lpips_net import write_random_backbone

    return {"baseline": _fashion(root / "base", 10, 1, classes=[0, 1, 7]),
            "candidate": _fashion(root / "cand", 3, 2),
            "ref": _fashion(root / "ref", 4, 3),
            "inception": weights, "alex": write_random_backbone("alex", root / "alex.pth")}


def _run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _compare(inputs, out, *extra):
    return _run("compare", "--baseline", inputs["baseline"], "--candidate", inputs["candidate"],
                "--ref", inputs["ref"], "--dims", 64, "--inception-weights", inputs["inception"],
                "--ndb-bins", 5, "--bootstrap", 50, "--out", out, "--quiet", *extra)


def test_compare_end_to_end_matches_each_metric(inputs, tmp_path):
    result = _compare(inputs, tmp_path / "out", "--lpips-backbone", inputs["alex"], "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    validate_report(report)
    assert payload["version"] and payload["parameters"]["seed"] == 0
    assert report["metrics"] == ["fid", "lpips", "ndb", "jsd"]
    # 40 reference images cannot calibrate inspect's flags: the default degenerate and gated LPIPS
    # are skipped with the reason, the rest runs (tests/test_compare_verdict.py runs them)
    assert report["skipped"] == {m: f"--ref has 40 images; {f} needs at least 50 (inspect calibrates "
                                    "its flags and the realism gate on them); use more real images"
                                 for m, f in (("degenerate", "degenerate"), ("lpips_gated", "lpips-gated"))}
    # A random backbone is used as asked, but never passes for real LPIPS: JSON, notes, report.md.
    assert report["provenance"]["weights"]["lpips-alex"]["status"] == "unverified"
    assert any("UNVERIFIED backbone" in n for n in report["notes"])
    assert "UNVERIFIED backbone" in (tmp_path / "out" / "report.md").read_text()

    from msgan_eval.evaluate.lpips import lpips_diversity
    from msgan_eval.evaluate.ndb_data import images_to_vectors
    from msgan_eval.features.extract import extract_inception_features
    from msgan_eval.features.inception import resolve_inception_weights
    from msgan_eval.metrics.ndb import evaluate_bins, fit_bins

    sets = {k: scan_images(inputs[k]) for k in ("baseline", "candidate", "ref")}
    w = resolve_inception_weights(inputs["inception"])
    feats = {k: extract_inception_features(s, weights=w, dims=64) for k, s in sets.items()}
    bins = fit_bins(images_to_vectors(sets["ref"]), k=5, seed=0)
    for run in ("baseline", "candidate"):
        got = report["runs"][run]
        want_fid = calculate_frechet_distance(feats[run].mean(0), np.cov(feats[run], rowvar=False),
                                              feats["ref"].mean(0), np.cov(feats["ref"], rowvar=False))
        # ~30 images for 64 dimensions: singular covariances, so compare at an absolute tolerance
        assert got["fid"]["value"] == pytest.approx(want_fid, rel=1e-6, abs=1e-6)
        lp = lpips_diversity(sets[run], backbone_weights=inputs["alex"], seed=0)
        # float32 network: the CLI may run with another --threads count, so not bit-exact
        assert got["lpips"]["value"] == pytest.approx(lp.score, rel=1e-6)
        nd = evaluate_bins(bins, images_to_vectors(sets[run], sets["ref"]))
        assert (got["ndb"]["value"], got["jsd"]["value"]) == (nd.ndb, pytest.approx(nd.jsd))
        for m in report["metrics"]:
            assert got[m]["ci"][0] <= got[m]["value"] <= got[m]["ci"][1]
    for m in report["metrics"]:
        delta = report["runs"]["candidate"][m]["value"] - report["runs"]["baseline"][m]["value"]
        assert report["deltas"][m]["value"] == pytest.approx(delta)
    assert report["provenance"]["weights"]["inception"]["sha256"] == w.sha256
    assert report["inputs"]["baseline"] == {
        "path": str(inputs["baseline"]), "n_images": 30, "conditions": 3, "skipped_files": 0,
        "fingerprint": sets["baseline"].fingerprint(with_mtime=False)}


def test_three_class_subset_loses_on_ndb_and_html_shows_it(tmp_path):
    subset = _fashion(tmp_path / "subset", 40, 1, classes=[0, 1, 7], size=28)
    held_out = _fashion(tmp_path / "held-out", 12, 2, size=28)
    ref = _fashion(tmp_path / "ref", 20, 3, size=28)
    result = _run("compare", "--baseline", subset, "--candidate", held_out, "--ref", ref,
                  "--metrics", "ndb", "--ndb-bins", 10, "--out", tmp_path / "out", "--quiet")
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["verdicts"]["ndb"] == "candidate-better"
    assert report["verdicts"]["jsd"] == "candidate-better"
    assert report["metrics"] == ["ndb", "jsd"] and report["skipped"] == {}
    assert "candidate-better" in result.output and "report.html" in result.output
    html = (tmp_path / "out" / "report.html").read_text()
    assert len(re.findall(r"src='data:image/png;base64,", html)) == 2
    assert "<table>" in html and "NDB bins" in html


def test_two_halves_of_the_held_out_set_show_no_difference(tmp_path):
    half_a = _fashion(tmp_path / "a", 12, 11, size=28)
    half_b = _fashion(tmp_path / "b", 12, 12, size=28)
    ref = _fashion(tmp_path / "r", 20, 13, size=28)
    result = _run("compare", "--baseline", half_a, "--candidate", half_b, "--ref", ref,
                  "--metrics", "ndb", "--ndb-bins", 10, "--json", "--quiet")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["verdicts"] == {"ndb": "no-significant-difference", "jsd": "no-significant-difference"}


def test_lpips_without_weights_is_skipped_and_the_rest_still_runs(inputs, tmp_path):
    result = _compare(inputs, tmp_path / "out", "--metrics", "fid,lpips")
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["metrics"] == ["fid"] and "fid" in report["verdicts"]
    assert "--lpips-backbone" in report["skipped"]["lpips"]
    assert "skipped: lpips-alex weights not found" in result.output
    rules = tmp_path / "e.toml"
    rules.write_text("[candidate.lpips]\nmin = 0\n")
    gate = _run("check", tmp_path / "out", "--expect", rules)
    assert gate.exit_code == 1 and "skipped: lpips-alex weights not found" in gate.output


def test_stats_file_reference_runs_fid_and_skips_ndb(inputs, tmp_path):
    from msgan_eval.features.extract import image_set_statistics
    from msgan_eval.features.inception import resolve_inception_weights
    from msgan_eval.features.stats_cache import save_fid_stats

    stats = image_set_statistics(scan_images(inputs["ref"]), dims=64,
                                 weights=resolve_inception_weights(inputs["inception"]))
    save_fid_stats(tmp_path / "ref.npz", stats)
    result = _run("compare", "--baseline", inputs["baseline"], "--candidate", inputs["candidate"],
                  "--ref", tmp_path / "ref.npz", "--metrics", "fid,ndb", "--dims", 64,
                  "--inception-weights", inputs["inception"], "--bootstrap", 20, "--json", "--quiet")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["metrics"] == ["fid"]
    assert "statistics file" in report["skipped"]["ndb"] and report["skipped"]["jsd"]


@pytest.mark.parametrize("args,code,needle", [
    (["--baseline", "{tmp}/missing"], 2, "--baseline {tmp}/missing: no such file or folder"),
    (["--metrics", "fid,bogus"], 2, "--metrics"),
    (["--inception-weights", "{tmp}/nope.pth", "--metrics", "fid"], 3, "{tmp}/nope.pth"),
    (["--lpips-backbone", "{tmp}/nope.pth", "--metrics", "lpips"], 3, "{tmp}/nope.pth"),
    (["--metrics", "ndb", "--ndb-bins", "500"], 2, "--ndb-bins"),
    (["--metrics", "ndb", "--seed", "-1"], 2, "--seed -1"),
])
def test_bad_input_is_one_line_with_its_exit_code(inputs, tmp_path, args, code, needle):
    base = {"--baseline": inputs["baseline"], "--candidate": inputs["candidate"], "--ref": inputs["ref"]}
    given = dict(zip(args[::2], [a.format(tmp=tmp_path) for a in args[1::2]]))
    argv = ["compare"]
    for opt, value in {**base, **given}.items():
        argv += [opt, str(value)]
    result = _run(*argv, "--quiet")
    assert result.exit_code == code, result.output
    assert needle.format(tmp=tmp_path) in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def _tiny_demo(out, inputs, *more):
    return _run("demo", "--out", out, "--steps", 2, "--width", 0.05, "--per-class", 3,
                "--ref-per-class", 4, "--ndb-bins", 4, "--bootstrap", 20,
                "--inception-weights", inputs["inception"], "--dims", 64, "--json", "--quiet",
                "--device", "cpu", *more)


def test_demo_tiny_run_writes_report(tmp_path, inputs, monkeypatch):
    out = tmp_path / "demo"
    result = _tiny_demo(out, inputs)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    validate_report(json.loads((out / "report.json").read_text()))
    assert payload["inputs"]["baseline"]["n_images"] == 30 and payload["inputs"]["reference"]["n_images"] == 40
    assert set(payload["metrics"]) == {"fid", "ndb", "jsd"} and "lpips" in payload["skipped"]
    assert payload["details"]["demo"]["steps"] == 2
    assert scan_images(out / "reference").sizes[0] == (32, 32)      # padded like the training data
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo"]     # built beside, then moved

    # README's command 1 run twice: a previous demo's output is replaced by the new one ...
    again = _tiny_demo(out, inputs, "--seed", 5)
    assert again.exit_code == 0, again.output
    report = json.loads((out / "report.json").read_text())
    assert report["parameters"]["seed"] == 5 and json.loads(again.stdout)["parameters"]["seed"] == 5
    assert report["inputs"]["baseline"]["path"] == str(out / "samples" / "baseline")
    assert json.loads(again.stdout)["files"]["json"] == str(out / "report.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo"]

    # ... and survives, whole, a run interrupted half-way, which leaves nothing behind.
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr("msgan_eval.demo.write_demo_reference", interrupted)
    stopped = _tiny_demo(out, inputs, "--seed", 6)
    assert stopped.exit_code == 130 and "interrupted" in stopped.output
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo"]


def test_demo_measures_real_lpips_with_no_flag(tmp_path, inputs, lpips_archive):
    result = _tiny_demo(tmp_path / "demo", inputs)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert "lpips" in payload["metrics"] and "lpips" not in payload["skipped"]
    backbone = payload["provenance"]["weights"]["lpips-alex"]
    assert (backbone["source"], backbone["status"]) == ("converted", "verified")
    assert "lpips" in payload["verdicts"]


def test_demo_refuses_a_folder_that_is_not_a_demo_output(tmp_path, inputs):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    refused = _tiny_demo(mine, inputs)
    assert refused.exit_code == 2, refused.output
    assert f"--out {mine}: exists and is not empty, and is not a previous demo's output" in refused.output
    assert "Traceback" not in refused.output and len(refused.stderr.strip().splitlines()) == 1
    # A demo's report.json beside a file the demo never writes: not the demo's to delete either.
    demo_report = {"schema": "msgan-eval/report/v1", "details": {"demo": {"steps": 2}}}
    (mine / "report.json").write_text(json.dumps(demo_report))
    assert _tiny_demo(mine, inputs).exit_code == 2
    # Nor a report.json of `compare` with the demo's folder names.
    (mine / "notes.txt").unlink()
    (mine / "report.json").write_text(json.dumps({"schema": "msgan-eval/report/v1", "details": {}}))
    assert _tiny_demo(mine, inputs).exit_code == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]
    assert sorted(p.name for p in mine.iterdir()) == ["report.json"]
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    on_a_file = _tiny_demo(a_file, inputs)
    assert on_a_file.exit_code == 2 and "--out" in on_a_file.output and a_file.read_text() == "x"
