"""The bad-input catalogue, fourth round (issue 23's audit, docs/reliability.md): every input of a
command is checked before any is read, options of another feature space are refused, and the
numeric arguments of the newer commands (cmmd, inspect) go through the one validator.
Same promises as tests/test_catalogue.py: exit 2, one line naming the file or option, no traceback.
"""
import numpy as np
import pytest
from click.testing import CliRunner
from test_catalogue import assert_refused

import msgan_eval
from msgan_eval.cli import main
from msgan_eval.errors import ParameterError, ParameterTypeError

from conftest import write_random_pngs


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture
def sets(tmp_path, monkeypatch):
    """Two readable image folders, a text file, and a missing path; reading any input or resolving
    any weights fails the test: the refusal must come before both."""
    for name, seed in (("real", 1), ("gen", 2)):
        write_random_pngs(tmp_path / name / "c", 3, size=(8, 8), seed=seed)
    (tmp_path / "notes.txt").write_text("not images")

    def never(*args, **kwargs):
        raise AssertionError("an input was read or weights resolved before every path was checked")

    monkeypatch.setattr("msgan_eval.evaluate.inputs.scan_images", never)
    monkeypatch.setattr("msgan_eval.evaluate.features.resolve_feature_weights", never)
    monkeypatch.setattr("msgan_eval.evaluate.fid.resolve_weights_for", never)
    monkeypatch.chdir(tmp_path)
    return tmp_path


# `fid real/ no-such/` extracted real/ before refusing no-such/ (found by the docs engineer); the
# same held for every command with two inputs. {bad} is the missing path or the text file.
TWO_INPUTS = [
    ("fid", "real", "{bad}"), ("fid", "{bad}", "real"), ("fid", "real", "{bad}", "--per-class"),
    ("stats", "{bad}", "-o", "out.npz"),
    ("kid", "real", "{bad}"), ("prdc", "real", "{bad}"), ("prdc", "{bad}", "gen"),
    ("cmmd", "real", "{bad}"),                 # was exit 3: CLIP weights were resolved first
    ("lpips", "gen", "--real", "{bad}"), ("vendi", "gen", "--real", "{bad}"),
    ("ndb", "gen", "--train", "{bad}"), ("ndb", "{bad}", "--train", "real"),
    ("inspect", "gen", "--ref", "{bad}"), ("inspect", "gen", "--ref", "real", "--train", "{bad}"),
    ("inspect", "{bad}", "--ref", "real"),
]


@pytest.mark.parametrize("bad, says", [("no-such", "no such file or folder"),
                                       ("notes.txt", "not an image folder")])
@pytest.mark.parametrize("args", TWO_INPUTS, ids=lambda a: " ".join(a))
def test_every_input_is_checked_before_any_is_read(sets, args, bad, says):
    result = run(*[a.format(bad=bad) for a in args], "--json")
    assert_refused(result, f"{bad}: {says}", json_out=True)


@pytest.mark.parametrize("where", ["--baseline", "--candidate", "--ref", "second baseline"])
def test_compare_checks_every_run_and_the_reference_first(sets, where):
    arms = {"--baseline": ["gen"], "--candidate": ["gen"], "--ref": ["real"]}
    if where == "second baseline":
        arms["--baseline"].append("no-such")
    else:
        arms[where] = ["no-such"]
    result = run("compare", *[x for flag, paths in arms.items() for x in (flag, *paths)],
                 "--metrics", "fid", "--quiet")
    flag = "--baseline" if where == "second baseline" else where
    assert_refused(result, f"{flag} no-such: no such file or folder")


def test_track_checks_the_reference_first(sets, monkeypatch):
    """The run's step folders are only listed before the reference is read (nothing extracted)."""
    from msgan_eval.images import scan_images

    monkeypatch.setattr("msgan_eval.evaluate.inputs.scan_images", scan_images)
    (sets / "series").mkdir()
    (sets / "gen").rename(sets / "series" / "step-1")
    assert_refused(run("track", "series", "--ref", "no-such", "--quiet"),
                   "--ref no-such: no such file or folder")


def test_track_names_a_file_given_as_the_run(sets):
    assert_refused(run("track", "notes.txt", "--ref", "real"), "RUN notes.txt: a file, not a folder")


def test_api_checks_both_inputs_first(sets):
    with pytest.raises(ValueError, match="no-such: no such file or folder"):
        msgan_eval.fid("real", "no-such")
    with pytest.raises(ParameterError, match="candidate no-such"):
        msgan_eval.compare("gen", ["no-such"], "real", metrics=["fid"])


# --- options of another feature space (#23 item 9's class: never silently ignored) ------------

@pytest.mark.parametrize("command", [["fid", "a", "b"], ["stats", "a", "-o", "s.npz"],
                                     ["kid", "a", "b"], ["prdc", "a", "b"], ["vendi", "a"],
                                     ["cmmd", "a", "b", "--features", "inception"],
                                     ["compare", "--baseline", "a", "--candidate", "b", "--ref", "a",
                                      "--metrics", "fid"]],
                         ids=lambda c: c[0])
def test_feature_weights_with_the_inception_are_refused(tmp_path, monkeypatch, command):
    """`kid`/`cmmd --features inception --feature-weights FILE` measured the Inception, exit 0."""
    for name, seed in (("a", 1), ("b", 2)):
        write_random_pngs(tmp_path / name / "c", 3, size=(8, 8), seed=seed)
    (tmp_path / "dino.pth").write_bytes(b"x")
    monkeypatch.chdir(tmp_path)
    result = run(*command, "--feature-weights", "dino.pth", "--quiet")
    assert_refused(result, "--feature-weights is for a DINOv2/CLIP --features space",
                   "drop --feature-weights", "--inception-weights")
    assert not (tmp_path / "s.npz").exists()


# --- the one validator for cmmd's and inspect's numbers (#23 item 4's class) -------------------

IMAGES = np.random.default_rng(0).integers(0, 256, (6, 8, 8, 3), dtype=np.uint8)


@pytest.mark.parametrize("call, name, error", [
    (lambda: msgan_eval.cmmd(IMAGES, IMAGES, bootstrap=2.5), "bootstrap", ParameterError),
    (lambda: msgan_eval.cmmd(IMAGES, IMAGES, bootstrap=float("nan")), "bootstrap", ParameterError),
    (lambda: msgan_eval.cmmd(IMAGES, IMAGES, seed=2.5), "seed", ParameterError),
    (lambda: msgan_eval.cmmd(IMAGES, IMAGES, seed="1"), "seed", ParameterTypeError),
    (lambda: msgan_eval.cmmd(IMAGES, IMAGES, confidence=float("nan")), "confidence", ParameterError),
    (lambda: msgan_eval.inspect(IMAGES, IMAGES, k=2.5), "k", ParameterError),
    (lambda: msgan_eval.inspect(IMAGES, IMAGES, k=float("inf")), "k", ParameterError),
    (lambda: msgan_eval.inspect(IMAGES, IMAGES, near_duplicate_cosine="0.9"),
     "near_duplicate_cosine", ParameterTypeError),
    (lambda: msgan_eval.inspect(IMAGES, IMAGES, prune_percentile="50"), "prune_percentile",
     ParameterTypeError),
], ids=lambda x: x if isinstance(x, str) else None)
def test_cmmd_and_inspect_numbers_are_validated_by_name(call, name, error):
    """cmmd took int(bootstrap) and int(seed): 2.5 was truncated to 2, '1' accepted."""
    with pytest.raises(error) as info:
        call()
    assert str(info.value).startswith(f"{name} "), str(info.value)


@pytest.mark.parametrize("extra, code, needles", [
    (["--cmmd-weights", "no-such.pt"], 3, ["no-such.pt (from --cmmd-weights): no such file"]),
    (["--cmmd-features", "inception", "--cmmd-weights", "no-such.pt"], 2,
     ["--cmmd-weights is for a DINOv2/CLIP --cmmd-features space", "drop --cmmd-weights"]),
])
def test_compare_names_its_own_cmmd_options(tmp_path, monkeypatch, extra, code, needles):
    """compare's CMMD file errors said "(from --feature-weights)", an option compare's CMMD
    does not read."""
    for name, seed in (("a", 1), ("b", 2)):
        write_random_pngs(tmp_path / name / "c", 3, size=(8, 8), seed=seed)
    monkeypatch.chdir(tmp_path)
    result = run("compare", "--baseline", "a", "--candidate", "b", "--ref", "a", "--metrics",
                 "cmmd", "--quiet", *extra)
    assert_refused(result, *needles, code=code)
    assert "--feature-weights" not in result.stderr


# --- 12: a write through an open file names the output, not "a file" ---------------------------

def test_disk_full_during_a_write_through_a_file_names_the_output(tmp_path, monkeypatch):
    """np.savez(fh) on a full tmpfs raised [Errno 28] with no file name: the message read
    "a file: No space left on device" (measured on a 1 MiB tmpfs)."""
    import errno

    from msgan_eval.fileio import save_npz_atomic

    def full(fh, **arrays):
        fh.write(b"PK")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("numpy.savez", full)
    target = tmp_path / "out" / "s.npz"
    with pytest.raises(OSError) as info:
        save_npz_atomic(target, mu=np.zeros(2))
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(target)
    assert sorted(p.name for p in target.parent.iterdir()) == []      # no .part left behind


@pytest.mark.parametrize("command", [["fid", "real", "gen"], ["stats", "real", "-o", "s.npz"],
                                     ["kid", "real", "gen"], ["prdc", "real", "gen"],
                                     ["vendi", "gen"], ["inspect", "gen", "--ref", "real"]],
                         ids=lambda c: c[0])
def test_inception_weights_with_another_space_are_refused(sets, command):
    """`fid/kid/prdc/vendi --features dinov2-vit-s14 --inception-weights FILE` exited 0: nothing
    read the Inception file. (`vendi --real` and `compare` read it for the realism gate.)"""
    (sets / "dino.pth").write_bytes(b"x")
    result = run(*command, "--features", "dinov2-vit-s14", "--feature-weights", "dino.pth",
                 "--inception-weights", "notes.txt", "--quiet")
    assert_refused(result, "--inception-weights is for the Inception, but the features are "
                   "dinov2-vit-s14", "drop --inception-weights")
    assert not (sets / "s.npz").exists()


def test_lpips_inception_weights_without_the_gate_are_refused(sets):
    """`lpips gen/ --inception-weights FILE` without --real exited 0: only the gate reads it."""
    assert_refused(run("lpips", "gen", "--inception-weights", "notes.txt", "--quiet"),
                   "--inception-weights is read by the realism gate only; add --real")


# --- modes (merged after the audit began): the same promises -----------------------------------

@pytest.mark.parametrize("args, needle", [
    (["ring", "pts.npy", "--classifier", "clf.pt"], "--classifier is for the stacked layout"),
    (["grid", "folder"], "folder: a folder, not a file"),
])
def test_modes_refuses_what_the_layout_does_not_read(tmp_path, monkeypatch, args, needle):
    """`modes ring pts.npy --classifier FILE` exited 0 (the file never read); a folder given as
    ring/grid points was "no such file"."""
    np.save(tmp_path / "pts.npy", np.zeros((8, 2)))
    (tmp_path / "clf.pt").write_bytes(b"x")
    (tmp_path / "folder").mkdir()
    monkeypatch.chdir(tmp_path)
    assert_refused(run("modes", *args, "--json"), needle, json_out=True)
