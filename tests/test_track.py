"""``msgan-eval track`` and ``msgan_eval.Tracker`` (issue 26) on a tiny run with 5 checkpoints.

Every value of the curve is checked against the commands a user would otherwise run on that
checkpoint (``sample --step N`` then ``fid`` / ``lpips`` / ``ndb``), and the verdict on the best
step against ``compare`` itself; FID runs on seeded random Inception weights (64-d block), LPIPS
on a seeded random AlexNet: parity with the real weights is the metric modules' tests' business.
"""
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from msgan_eval.cli import main
from msgan_eval.evaluate.features import clear_memo

pytestmark = [pytest.mark.usefixtures("one_torch_thread"),
              pytest.mark.filterwarnings("ignore:Matrix is singular"),
              pytest.mark.filterwarnings("ignore:The `disp` argument:DeprecationWarning")]

STEPS = 5
SAMPLING = ["--per-class", 4, "--seed", 3]


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _pngs(folder: Path, n: int, size: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for name in ("a", "b"):
        (folder / name).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 256, (size, size), dtype=np.uint8)).save(
                folder / name / f"{i:02d}.png")


@pytest.fixture(scope="module")
def setup(tmp_path_factory, random_weights):
    """A DCGAN run with a checkpoint at each of its 5 steps, a 32x32 reference, random weights."""
    from msgan_eval.features.lpips_net import write_random_backbone

    root = tmp_path_factory.mktemp("track")
    _pngs(root / "train", 8, 28, 0)
    _pngs(root / "ref", 8, 32, 1)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MSGAN_EVAL_THREADS", "1")
        before = torch.get_num_threads()
        torch.set_num_threads(1)
        result = run("train", "--dataset", "folder", "--data-root", root / "train", "--out",
                     root / "run", "--steps", STEPS, "--batch-size", 4, "--width", 0.125,
                     "--checkpoint-every", 1, "--keep-checkpoints", "all", "--quiet")
        torch.set_num_threads(before)
    assert result.exit_code == 0, result.output
    return {"run": root / "run", "ref": root / "ref", "weights": random_weights,
            "alex": write_random_backbone("alex", root / "alex.pth")}


def metric_args(s):
    return ["--dims", 64, "--inception-weights", s["weights"], "--lpips-backbone", s["alex"],
            "--ndb-bins", 3, "--bootstrap", 20]


def track(s, out, *extra):
    result = run("track", s["run"], "--ref", s["ref"], "--out", out, *SAMPLING, *metric_args(s),
                 "--json", "--quiet", *extra)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def curve(setup, tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MSGAN_EVAL_THREADS", "1")
        torch.set_num_threads(1)
        return track(setup, tmp_path_factory.mktemp("curve"))


def test_track_gives_sample_then_each_command_on_every_checkpoint(setup, curve, tmp_path):
    assert [e["step"] for e in curve["history"]] == list(range(1, STEPS + 1))
    assert curve["metrics"] == ["fid", "lpips", "ndb", "jsd"]
    for entry in curve["history"]:
        step = entry["step"]
        samples = tmp_path / f"s{step}"
        assert run("sample", "--run", setup["run"], "--out", samples, "--step", step, *SAMPLING,
                   "--quiet").exit_code == 0
        fid = json.loads(run("fid", samples, setup["ref"], "--dims", 64, "--inception-weights",
                             setup["weights"], "--json", "--quiet").stdout)
        lpips = json.loads(run("lpips", samples, "--lpips-backbone", setup["alex"], "--seed", 3, "--json",
                               "--quiet").stdout)
        ndb = json.loads(run("ndb", samples, "--train", setup["ref"], "--bins", 3, "--seed", 3,
                             "--json", "--quiet").stdout)
        # FID: the command streams its statistics, track takes them from the feature matrix
        assert entry["fid"] == pytest.approx(fid["fid"], rel=1e-9)
        assert entry["lpips"] == pytest.approx(lpips["lpips"], rel=1e-12)
        assert entry["ndb"] == ndb["ndb"] and entry["jsd"] == pytest.approx(ndb["jsd"], rel=1e-12)
        assert entry["n"] == 8
        for m in ("fid", "lpips", "ndb", "jsd"):
            low, high = entry[f"{m}_ci"]
            assert low <= entry[m] <= high


def test_best_step_and_its_verdict_are_compares(setup, curve, tmp_path):
    best = curve["best"]
    fids = {e["step"]: e["fid"] for e in curve["history"]}
    assert best["metric"] == "fid" and best["step"] == min(fids, key=fids.get)
    assert best["value"] == fids[best["step"]] and best["last_step"] == STEPS
    assert best["step"] != STEPS                    # the tiny run's FID is not monotone
    for step in (best["step"], STEPS):
        run("sample", "--run", setup["run"], "--out", tmp_path / f"s{step}", "--step", step,
            *SAMPLING, "--quiet")
    report = json.loads(run("compare", "--baseline", tmp_path / f"s{STEPS}", "--candidate",
                            tmp_path / f"s{best['step']}", "--ref", setup["ref"], "--metrics",
                            "fid", "--dims", 64, "--inception-weights", setup["weights"],
                            "--bootstrap", 20, "--seed", 3, "--json", "--quiet").stdout)
    assert best["verdict"] == report["verdicts"]["fid"]
    assert best["better_than_last"] == (report["verdicts"]["fid"] == "candidate-better")
    assert best["delta_ci"] == pytest.approx(report["deltas"]["fid"]["ci"], rel=1e-9)
    # each step's interval is compare's interval for its candidate run
    entry = next(e for e in curve["history"] if e["step"] == best["step"])
    assert entry["fid_ci"] == pytest.approx(report["runs"]["candidate"]["fid"]["ci"], rel=1e-9)


def test_outputs_and_rerun_measures_only_new_steps(setup, curve, tmp_path, monkeypatch):
    import shutil

    from msgan_eval.evaluate import runners

    out = tmp_path / "out"
    first = track(setup, out, "--metrics", "fid")
    csv = (out / "track.csv").read_text().splitlines()
    assert csv[0] == "step,n,fid,fid_low,fid_high" and len(csv) == STEPS + 1
    html = (out / "track.html").read_text()
    assert html.count("data:image/png;base64,") == 1 and f"best fid: step {first['best']['step']}" in html
    # a re-run measures nothing; a new checkpoint is the only one measured (calls: the sets
    # measured per call; the verdict of a new best-vs-last pair is compare's, with two)
    calls = []
    real = runners.RUNNERS["fid"]
    monkeypatch.setitem(runners.RUNNERS, "fid", lambda runs, *a: calls.append(len(runs)) or real(runs, *a))
    assert track(setup, out, "--metrics", "fid")["history"] == first["history"] and calls == []
    run_copy = tmp_path / "run"
    shutil.copytree(setup["run"], run_copy)
    (run_copy / "checkpoints" / "step-00000003.pt").unlink()    # kept steps only ...
    shutil.copy(run_copy / "checkpoints" / "step-00000005.pt",   # ... and a "new" one
                run_copy / "checkpoints" / "step-00000007.pt")
    state = torch.load(run_copy / "checkpoints" / "step-00000007.pt", weights_only=True)
    torch.save({**state, "step": 7}, run_copy / "checkpoints" / "step-00000007.pt")
    shutil.copy(out / "track.json", run_copy / "track.json")
    again = track({**setup, "run": run_copy}, run_copy, "--metrics", "fid")
    assert [e["step"] for e in again["history"]] == [1, 2, 3, 4, 5, 7] and calls == [1, 2]
    assert again["history"][:5] == first["history"]
    assert again["history"][5]["fid"] == pytest.approx(first["history"][4]["fid"], rel=1e-12)


def test_reference_is_extracted_once_for_k_checkpoints(setup, tmp_path, monkeypatch):
    from msgan_eval.features import extract

    clear_memo()
    sets = []
    real = extract.iter_feature_batches
    monkeypatch.setattr(extract, "iter_feature_batches",
                        lambda image_set, *a, **kw: sets.append(len(image_set)) or real(image_set, *a, **kw))
    track(setup, tmp_path / "a", "--metrics", "fid")
    # the reference (16 images) once, then each step's 8; the best-vs-last verdict may extract
    # the best step again when the feature memo (4 sets) has let it go
    assert sets[:STEPS + 1] == [16] + [8] * STEPS and sets[STEPS + 1:] in ([], [8])
    sets.clear()
    track(setup, tmp_path / "b", "--metrics", "fid")     # a new curve: statistics from the cache
    assert 16 not in sets and len(sets) <= STEPS + 1


def test_folder_of_sample_sets_gives_the_same_curve(setup, curve, tmp_path):
    series = tmp_path / "series"
    for step in (1, 4):
        run("sample", "--run", setup["run"], "--out", series / f"step-{step:04d}", "--step", step,
            *SAMPLING, "--quiet")
    result = run("track", series, "--ref", setup["ref"], "--seed", 3, *metric_args(setup),
                 "--json", "--quiet")
    assert result.exit_code == 0, result.output
    got = json.loads(result.stdout)
    assert (series / "track.json").is_file()
    want = {e["step"]: e for e in curve["history"]}
    for entry in got["history"]:
        for m in ("fid", "lpips", "ndb", "jsd"):
            assert entry[m] == pytest.approx(want[entry["step"]][m], rel=1e-9)
            assert entry[f"{m}_ci"] == pytest.approx(want[entry["step"]][f"{m}_ci"], rel=1e-9)


def test_tracker_api_reproduces_track_on_the_same_checkpoints(setup, curve):
    import msgan_eval
    from msgan_eval.train.tracking import RunSeries, SampleSpec

    series = RunSeries(setup["run"], SampleSpec(per_class=4, seed=3), device="cpu")
    tracker = msgan_eval.Tracker(ref=str(setup["ref"]), metrics=["fid", "lpips", "ndb"], seed=3,
                                 dims=64, inception_weights=str(setup["weights"]),
                                 lpips_backbone=str(setup["alex"]), ndb_bins=3, bootstrap=20)
    for step in series.steps:
        tracker.update(step, series.images(step))     # mappings class -> uint8 arrays
    for got, want in zip(tracker.history, curve["history"]):
        assert {k: v for k, v in got.items() if k != "seconds"} == \
            {k: v for k, v in want.items() if k != "seconds"}
    assert tracker.best("fid") == curve["best"]


def test_generator_callable_is_sampled_in_batches_with_a_fixed_seed(setup):
    import msgan_eval
    from msgan_eval.evaluate.track_series import batch_seed

    calls = []

    def generator(n, seed):       # float NCHW in [0, 1], as torchvision tensors
        calls.append((n, seed))
        g = torch.Generator().manual_seed(seed)
        return torch.rand(n, 3, 32, 32, generator=g)

    tracker = msgan_eval.Tracker(ref=str(setup["ref"]), metrics=["fid"], dims=64, bootstrap=20,
                                 inception_weights=str(setup["weights"]), n=10, sample_batch=4)
    entry = tracker.update(100, generator)
    assert calls == [(4, batch_seed(0, 0)), (4, batch_seed(0, 1)), (2, batch_seed(0, 2))]
    assert entry["n"] == 10
    images = torch.cat([torch.rand(m, 3, 32, 32, generator=torch.Generator().manual_seed(s))
                        for m, s in calls])
    same = msgan_eval.fid(images, str(setup["ref"]), dims=64, inception_weights=str(setup["weights"]))
    assert entry["fid"] == pytest.approx(same.fid, rel=1e-9)
    calls.clear()
    tracker.update(200, generator)       # the next checkpoint sees the same noise
    assert calls[0] == (4, batch_seed(0, 0))
    with pytest.raises(ValueError, match="step 200 already has fid"):
        tracker.update(200, generator)
