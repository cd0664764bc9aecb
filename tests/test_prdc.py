"""Precision/recall/density/coverage: the maths against clovaai's ``prdc.compute_prdc`` and
torch-fidelity's precision/recall on the same features (counts exact), the orientation (real =
reference), the bootstrap, ``msgan-eval prdc`` / ``msgan_eval.prdc`` end to end, the VGG16 fc2 path
on a seeded random torchvision VGG16 file, and ``compare --metrics kid,prdc`` with ``check``."""
import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from prdc import compute_prdc
from prdc.prdc import compute_nearest_neighbour_distances
from torch_fidelity.metric_prc import calculate_precision_recall_full

import msgan_eval
from msgan_eval.cli import main
from msgan_eval.metrics.prdc import bootstrap_prdc, nearest_neighbour_radii, prdc, prdc_counts

from _fid_fixtures import random_weights_once

pytestmark = pytest.mark.filterwarnings("ignore:Matrix is singular")


def _clusters(n, d, seed, centres, which=None, spread=1.0):
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(centres), n) if which is None else np.full(n, which)
    return np.abs(centres[pick] + spread * rng.standard_normal((n, d)))


def _centres(k, d, seed=99, scale=3.0):
    return np.random.default_rng(seed).standard_normal((k, d)) * scale


def _reference(real, fake, k):
    out = compute_prdc(real, fake, k)
    return {m: float(v) for m, v in out.items()}


def _assert_same(ours, theirs, k, n_fake):
    for m in ("precision", "recall", "coverage"):
        assert ours[m] == theirs[m], m                         # counts: exact
    # density is a count over k * n_fake: the same count gives the same number
    assert round(ours["density"] * k * n_fake) == round(theirs["density"] * k * n_fake)
    assert ours["density"] == pytest.approx(theirs["density"], rel=1e-12)


@pytest.mark.parametrize("n_real,n_fake,d,k,block", [
    (300, 250, 64, 5, 1 << 24),
    (400, 300, 2048, 3, 5000),         # small blocks: many row blocks, radii across blocks
    (150, 200, 8, 5, 997),
    (200, 120, 32, 1, 1 << 24),
])
def test_prdc_equals_compute_prdc_on_the_same_features(n_real, n_fake, d, k, block, capsys):
    centres = _centres(6, d)
    real = _clusters(n_real, d, 1, centres)
    fake = _clusters(n_fake, d, 2, centres, spread=1.3)
    ours = prdc(real, fake, k=k, block_entries=block)
    _assert_same(ours, _reference(real, fake, k), k, n_fake)


def test_exact_ties_and_duplicates_agree_with_compute_prdc(capsys):
    """Integer features: many distances tie exactly, where only the float64 recheck decides."""
    rng = np.random.default_rng(3)
    real = rng.integers(0, 3, (300, 16)).astype(np.float64)
    fake = np.concatenate([rng.integers(0, 3, (150, 16)), real[:50]]).astype(np.float64)
    for k in (3, 5):
        _assert_same(prdc(real, fake, k=k, block_entries=4000), _reference(real, fake, k), k, 200)


def test_radii_equal_prdc_nearest_neighbour_distances():
    x = _clusters(500, 128, 4, _centres(4, 128))
    ours = nearest_neighbour_radii(torch.from_numpy(x), 5, block_entries=7000).numpy()
    np.testing.assert_allclose(ours, compute_nearest_neighbour_distances(x, 5), rtol=1e-12)


def test_precision_recall_equal_torch_fidelity():
    """torch-fidelity's features_1 is the generated set, features_2 the real one."""
    centres = _centres(5, 64)
    real, fake = _clusters(400, 64, 5, centres), _clusters(300, 64, 6, centres, spread=0.8)
    p, r = calculate_precision_recall_full(torch.from_numpy(fake), torch.from_numpy(real),
                                           neighborhood=3)
    ours = prdc(real, fake, k=3)
    assert ours["precision"] == pytest.approx(p, abs=1e-7)
    assert ours["recall"] == pytest.approx(r, abs=1e-7)


def test_orientation_a_fake_set_covering_part_of_the_reference(capsys):
    """torch-fidelity #58 swapped real and fake: a set drawn from one of four modes of the
    reference must get high precision (its samples are realistic) and low recall and coverage
    (most of the reference is missed)."""
    centres = _centres(4, 32, scale=4.0)
    real = _clusters(800, 32, 7, centres)
    part = _clusters(400, 32, 8, centres, which=0)
    ours = prdc(real, part, k=5)
    assert ours["precision"] > 0.8 and ours["density"] > 0.9   # a quarter of the modes: recall
    assert ours["recall"] < 0.3 and ours["coverage"] < 0.3     # and coverage near 1/4
    swapped = prdc(part, real, k=5)
    assert swapped["precision"] < 0.3 and swapped["recall"] > 0.8
    _assert_same(ours, _reference(real, part, 5), 5, 400)


def test_bootstrap_holds_the_values_and_resamples_the_generated_set():
    centres = _centres(4, 16)
    real, fake = _clusters(300, 16, 9, centres), _clusters(200, 16, 10, centres)
    counts = prdc_counts(real, fake, k=5, keep_pairs=True)
    est = bootstrap_prdc(counts, rng=np.random.default_rng(0), n_boot=100)
    for name, value in counts.as_dict().items():
        assert est[name].value == value
        assert est[name].low <= value <= est[name].high and est[name].high > est[name].low
    # every replicate's precision is a mean over resampled fakes of "inside some real ball"
    idx = np.random.default_rng(0).integers(0, 200, size=(100, 200))
    np.testing.assert_allclose(est["precision"].replicates,
                               (counts.fake_in_real_balls[idx] > 0).mean(axis=1))
    with pytest.raises(ValueError, match="keep_pairs"):
        bootstrap_prdc(prdc_counts(real, fake), rng=np.random.default_rng(0), n_boot=5)


@pytest.mark.parametrize("block", [1 << 22, 3000])        # one tile; many tiles both ways
def test_kept_pairs_are_the_pairs_inside_prdcs_balls(block):
    """The (real, fake) pairs the bootstrap reads coverage and recall from: exactly those with the
    fake inside the real's ball, resp. the real inside the fake's, with prdc's radii and float64
    distances (sklearn's), in row-major order whatever the tiling."""
    from sklearn.metrics import pairwise_distances

    centres = _centres(4, 32)
    real, fake = _clusters(230, 32, 13, centres), _clusters(170, 32, 14, centres, spread=1.2)
    counts = prdc_counts(real, fake, k=5, keep_pairs=True, block_entries=block)
    d = pairwise_distances(real, fake)
    real_r = compute_nearest_neighbour_distances(real, 5)
    fake_r = compute_nearest_neighbour_distances(fake, 5)
    for kept, expected in ((counts.real_ball_pairs, d < real_r[:, None]),
                           (counts.fake_ball_pairs, d < fake_r[None, :])):
        want = np.nonzero(expected)                          # row-major, like ours
        assert 0 < len(want[0]) < expected.size
        np.testing.assert_array_equal(kept[0], want[0])
        np.testing.assert_array_equal(kept[1], want[1])


def test_refuses_too_few_samples_for_k():
    with pytest.raises(ValueError, match="at least 6"):
        prdc(np.random.rand(5, 4), np.random.rand(10, 4), k=5)


# --- end to end ------------------------------------------------------------------------------

def _images(n, seed, bright=0):
    rng = np.random.default_rng(seed)
    return np.clip(rng.integers(0, 200, (n, 32, 32, 3)) + bright, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    root = tmp_path_factory.mktemp("prdc")
    np.save(root / "real.npy", _images(10, 0))
    np.save(root / "gen.npy", _images(8, 1, 40))
    return {"real": root / "real.npy", "gen": root / "gen.npy",
            "weights": random_weights_once(tmp_path_factory)}


def _run(*args):
    return CliRunner().invoke(main, [str(x) for x in args])


def test_cli_json_has_the_interface_keys_and_equals_the_api_and_compute_prdc(sets, capsys):
    from msgan_eval.evaluate.features import inception_features
    from msgan_eval.evaluate.inputs import as_image_set
    from msgan_eval.features.inception import resolve_inception_weights

    result = _run("prdc", sets["real"], sets["gen"], "--k", 3, "--inception-weights",
                  sets["weights"], "--json", "--quiet")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    for key in ("precision", "recall", "density", "coverage", "k", "features", "n", "version"):
        assert key in out
    assert (out["k"], out["features"], out["n"]) == (3, "inception-pool3", [10, 8])
    assert out["preset"] == "pytorch-fid"
    api = msgan_eval.prdc(str(sets["real"]), str(sets["gen"]), k=3,
                          inception_weights=sets["weights"])
    assert api.to_dict() == {k: v for k, v in out.items() if k != "threads"}
    w = resolve_inception_weights(sets["weights"])
    fr, fg = (inception_features(as_image_set(sets[p], param=p), weights=w) for p in ("real", "gen"))
    _assert_same(out, _reference(fr, fg, 3), 3, 8)


def test_cli_errors_are_one_line(sets, tmp_path, monkeypatch):
    monkeypatch.delenv("MSGAN_EVAL_VGG16_WEIGHTS", raising=False)
    result = _run("prdc", sets["real"], sets["gen"], "--k", 9, "--inception-weights",
                  sets["weights"], "--quiet")
    assert result.exit_code == 2 and "GEN has 8 images; k = 9 nearest" in result.output, result.output
    result = _run("prdc", sets["real"], sets["gen"], "--features", "vgg16-fc2", "--quiet")
    assert result.exit_code == 3 and "vgg16" in result.output and "Traceback" not in result.output
    result = _run("prdc", sets["real"], sets["gen"], "--features", "vgg16-fc2", "--vgg16-weights",
                  sets["weights"], "--quiet")        # an Inception file is not a VGG16
    assert result.exit_code == 3 and "not usable" in result.output, result.output
    # a FID preset is an Inception preprocessing: refused for VGG16 before any weights are looked for
    result = _run("prdc", sets["real"], sets["gen"], "--features", "vgg16-fc2", "--preset",
                  "clean-fid", "--quiet")
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1, result.output
    assert "--preset clean-fid is an Inception preprocessing" in result.output
    assert "--features vgg16-fc2" in result.output
    result = _run("prdc", sets["real"], sets["gen"], "--preset", "nope", "--quiet")
    assert result.exit_code == 2 and "--preset" in result.output and "Traceback" not in result.output


@pytest.fixture(scope="module")
def vgg16_file(tmp_path_factory):
    import torchvision

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("vgg") / "vgg16-random.pth"
    torch.save(torchvision.models.vgg16().state_dict(), path)
    return path


def test_vgg16_fc2_path_equals_torchvision_features_and_compute_prdc(sets, vgg16_file, capsys):
    """A seeded random VGG16 (no real weights offline): our fc2 features equal torchvision's own
    forward with torch-fidelity's layer cut (classifier without its last three modules + ReLU)."""
    import torch.nn.functional as F
    import torchvision

    from msgan_eval.evaluate.inputs import as_image_set

    result = _run("prdc", sets["real"], sets["gen"], "--k", 2, "--features", "vgg16-fc2",
                  "--vgg16-weights", vgg16_file, "--device", "cpu", "--json", "--quiet")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["features"] == "vgg16-fc2" and out["weights"]["key"] == "vgg16-fc2"
    assert out["preset"] is None                  # no Inception preprocessing was involved
    net = torchvision.models.vgg16()
    net.load_state_dict(torch.load(vgg16_file, weights_only=True))
    for i in (6, 5, 4):
        del net.classifier[i]
    net.eval()
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)

    def feats(p):
        s = as_image_set(sets[p], param=p)
        x = torch.from_numpy(np.stack([s[i] for i in range(len(s))])).permute(0, 3, 1, 2).float() / 255
        x = F.interpolate(x, size=(224, 224), mode="bilinear", align_corners=False)
        with torch.no_grad():
            return F.relu(net((x - mean) / std)).double().numpy()

    _assert_same(out, _reference(feats("real"), feats("gen"), 2), 2, 8)


# --- compare and check ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def arms(tmp_path_factory):
    """Reference, baseline and candidate for compare, shared so the feature memo serves both tests."""
    root = tmp_path_factory.mktemp("prdc-compare")
    np.save(root / "ref.npy", _images(14, 5))
    np.save(root / "base.npy", _images(10, 6))
    np.save(root / "cand.npy", _images(10, 7, 60))
    return root


def test_compare_reports_kid_and_prdc_with_verdicts_and_check_rules(sets, arms, tmp_path):
    root = tmp_path
    result = _run("compare", "--baseline", arms / "base.npy", "--candidate", arms / "cand.npy",
                  "--ref", arms / "ref.npy", "--metrics", "fid,kid,prdc", "--dims", 2048,
                  "--inception-weights", sets["weights"], "--bootstrap", 30, "--out", root / "out",
                  "--json", "--quiet")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    names = ["fid", "kid", "precision", "recall", "density", "coverage"]
    assert report["metrics"] == names
    for m in names:
        for run in ("baseline", "candidate"):
            est = report["runs"][run][m]
            assert est["ci"][0] <= est["value"] <= est["ci"][1]
        assert report["verdicts"][m] in ("candidate-better", "baseline-better",
                                         "no-significant-difference")
    # the values are the commands' own numbers on the same inputs
    kid_alone = msgan_eval.kid(str(arms / "cand.npy"), str(arms / "ref.npy"), seed=0,
                               inception_weights=sets["weights"])
    assert report["runs"]["candidate"]["kid"]["value"] == pytest.approx(kid_alone.kid, rel=1e-9)
    prdc_alone = msgan_eval.prdc(str(arms / "ref.npy"), str(arms / "base.npy"),
                                 inception_weights=sets["weights"])
    for m in ("precision", "recall", "density", "coverage"):
        assert report["runs"]["baseline"][m]["value"] == getattr(prdc_alone, m)
    rules = root / "expect.toml"
    rules.write_text("[candidate.precision]\nmin = 0\n[baseline.kid]\nmax = 100\n"
                     "[verdicts]\nrecall = [\"candidate-better\", \"baseline-better\", "
                     "\"no-significant-difference\"]\n")
    ok = _run("check", root / "out", "--expect", rules, "--quiet")
    assert ok.exit_code == 0, ok.output
    rules.write_text("[candidate.coverage]\nmin = 1.5\n")
    assert _run("check", root / "out", "--expect", rules, "--quiet").exit_code == 1


def test_compare_skips_kid_and_prdc_on_a_statistics_reference(sets, tmp_path):
    from msgan_eval.features.extract import image_set_statistics
    from msgan_eval.features.inception import resolve_inception_weights
    from msgan_eval.features.stats_cache import save_fid_stats
    from msgan_eval.images import scan_images

    stats = image_set_statistics(scan_images(sets["real"]), dims=2048,
                                 weights=resolve_inception_weights(sets["weights"]))
    save_fid_stats(tmp_path / "ref.npz", stats)
    result = _run("compare", "--baseline", sets["real"], "--candidate", sets["gen"],
                  "--ref", tmp_path / "ref.npz", "--metrics", "kid,prdc",
                  "--inception-weights", sets["weights"], "--bootstrap", 10, "--json", "--quiet")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["metrics"] == []
    assert "KID needs reference images" in report["skipped"]["kid"]
    assert all("PRDC needs reference images" in report["skipped"][m]
               for m in ("precision", "recall", "density", "coverage"))


def test_float32_inception_like_features_equal_compute_prdc(capsys):
    """Features as Inception gives them: float32, 2048-d, non-negative, clustered. The screen's
    rounding bound is widest here; every count must still be prdc's (which up-casts to float64)."""
    centres = _centres(8, 2048, scale=0.5)
    real = _clusters(700, 2048, 11, centres, spread=0.3).astype(np.float32)
    fake = _clusters(500, 2048, 12, centres, spread=0.35).astype(np.float32)
    for k in (3, 5):
        ours = prdc(real, fake, k=k, block_entries=60000)     # several tiles and row blocks
        _assert_same(ours, _reference(real, fake, k), k, 500)

def test_compare_kid_and_prdc_settings_are_used_and_recorded(sets, arms):
    """``--prdc-k 3 --kid-subsets 5 --kid-subset-size 8``: the report records them and its values
    are ``prdc.compute_prdc(real, fake, nearest_k=3)`` and torch-fidelity's KID (5 subsets of 8) on
    the same features; the Python API gives the same report."""
    from torch_fidelity.metric_kid import kid_features_to_metric

    from msgan_eval.errors import ParameterError
    from msgan_eval.evaluate.features import inception_features
    from msgan_eval.evaluate.inputs import as_image_set
    from msgan_eval.features.inception import resolve_inception_weights

    paths = {"reference": arms / "ref.npy", "baseline": arms / "base.npy",
             "candidate": arms / "cand.npy"}
    result = _run("compare", "--baseline", paths["baseline"], "--candidate", paths["candidate"],
                  "--ref", paths["reference"], "--metrics", "kid,prdc", "--prdc-k", 3,
                  "--kid-subsets", 5, "--kid-subset-size", 8, "--inception-weights", sets["weights"],
                  "--bootstrap", 10, "--json", "--quiet")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    params = report["parameters"]
    assert (params["prdc_k"], params["kid_subsets"], params["kid_subset_size"]) == (3, 5, 8)
    assert report["details"]["prdc"]["k"] == 3 and report["details"]["kid"]["subsets"] == 5
    assert report["details"]["kid"]["baseline_subset_size"] == 8
    w = resolve_inception_weights(sets["weights"])
    feats = {p: inception_features(as_image_set(path, param=p), weights=w) for p, path in paths.items()}
    real = feats["reference"]
    for run in ("baseline", "candidate"):
        ours = {m: report["runs"][run][m]["value"]
                for m in ("precision", "recall", "density", "coverage")}
        theirs = {m: float(v) for m, v in compute_prdc(real_features=real, fake_features=feats[run],
                                                        nearest_k=3).items()}
        _assert_same(ours, theirs, 3, 10)
        tf = kid_features_to_metric(torch.from_numpy(feats[run]), torch.from_numpy(real),
                                    kid_subsets=5, kid_subset_size=8, rng_seed=0, verbose=False,
                                    kid_kernel="poly", kid_kernel_poly_degree=3,
                                    kid_kernel_poly_gamma=None, kid_kernel_poly_coef0=1)
        assert report["runs"][run]["kid"]["value"] == pytest.approx(
            tf["kernel_inception_distance_mean"], rel=1e-6)
    # the default k gives other numbers on these sets: a k that never arrived would fail above
    assert _reference(real, feats["baseline"], 5) != _reference(real, feats["baseline"], 3)
    api = msgan_eval.compare(str(paths["baseline"]), str(paths["candidate"]),
                             str(paths["reference"]), metrics=("kid", "prdc"), prdc_k=3,
                             kid_subsets=5, kid_subset_size=8, bootstrap=10,
                             inception_weights=sets["weights"])
    assert api["parameters"]["prdc_k"] == 3
    # the counts are exact; KID's float sums may differ in the last bits with the thread count
    # (the command sets its own), so KID is compared with a tolerance
    for run, metrics in report["runs"].items():
        for name, entry in metrics.items():
            if name == "kid":
                assert api.runs[run][name]["value"] == pytest.approx(entry["value"], rel=1e-9, abs=1e-12)
                assert api.runs[run][name]["ci"] == pytest.approx(entry["ci"], rel=1e-9, abs=1e-12)
            else:
                assert api.runs[run][name] == entry, (run, name)

    # refused in one line before any work, as the kid and prdc commands refuse them
    args = ["compare", "--baseline", paths["baseline"], "--candidate", paths["candidate"], "--ref",
            paths["reference"], "--metrics", "kid,prdc", "--inception-weights", sets["weights"],
            "--quiet"]
    for extra, says in ((["--prdc-k", 0], "--prdc-k"), (["--kid-subset-size", 1], "--kid-subset-size"),
                        (["--kid-subsets", 0], "--kid-subsets"),
                        (["--prdc-k", 12], "--baseline has 10 images; --prdc-k 12 nearest neighbours")):
        bad = _run(*args, *extra)
        assert bad.exit_code == 2 and says in bad.output and "Traceback" not in bad.output, bad.output
    with pytest.raises(ParameterError, match="kid_subset_size 1: must be at least 2"):
        msgan_eval.compare(str(paths["baseline"]), str(paths["candidate"]), str(paths["reference"]),
                           metrics=("kid",), kid_subset_size=1)
