"""The catalogue of issue 23, silent wrong numbers (items 3-6, 14-16): every numeric argument goes
through one validator (``msgan_eval.validate``), errors of the API are ValueError / TypeError naming
the argument, and numbers that cannot be computed are refused or reported as such, never printed."""

import numpy as np
import pytest
from click.testing import CliRunner
from test_catalogue import assert_refused

import msgan_eval
from msgan_eval.cli import main
from msgan_eval.errors import ParameterError, ParameterTypeError, UserError, WeightsUnavailable

from conftest import write_random_pngs

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _spd(d: int, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(3 * d, d))
    return np.cov(x, rowvar=False)


# --- 3. frechet_distance refuses what is not a covariance ----------------------------------------

def test_negative_definite_sigma_is_refused_not_zero():
    d = 8
    with pytest.raises(ParameterError, match="sigma2 is not a covariance matrix: .*negative"):
        msgan_eval.frechet_distance(np.zeros(d), np.eye(d), np.zeros(d), -np.eye(d))


def test_asymmetric_sigma_is_refused_beyond_the_tolerance_only():
    from msgan_eval.metrics.fid import SYMMETRY_RTOL

    s1, s2 = _spd(16, 1), _spd(16, 2)
    asym = s2.copy()
    asym[0, 1] += 1e3 * SYMMETRY_RTOL * np.abs(s2).max()
    with pytest.raises(ParameterError, match="sigma2 .* not symmetric"):
        msgan_eval.frechet_distance(np.zeros(16), s1, np.zeros(16), asym)
    rounding = s2.copy()
    rounding[0, 1] += 1e-3 * SYMMETRY_RTOL * np.abs(s2).max()        # round-off: accepted
    exact = msgan_eval.frechet_distance(np.zeros(16), s1, np.zeros(16), s2)
    assert msgan_eval.frechet_distance(np.zeros(16), s1, np.zeros(16), rounding) == \
        pytest.approx(exact, rel=1e-9)


def test_unchecked_covariances_skip_only_the_matrix_checks():
    """``check_covariances=False`` (the evaluate layer's, for statistics it computed or read through
    stats_problem): the same value on covariances; symmetry and definiteness are not looked at,
    shapes and finiteness still are."""
    s1, s2, mu = _spd(16, 1), _spd(16, 2), np.random.default_rng(3).normal(size=16)
    assert msgan_eval.frechet_distance(mu, s1, -mu, s2, check_covariances=False) == \
        msgan_eval.frechet_distance(mu, s1, -mu, s2)
    negative = -np.eye(16)
    with pytest.raises(ParameterError, match="negative"):
        msgan_eval.frechet_distance(np.zeros(16), s1, np.zeros(16), negative)
    assert np.isfinite(msgan_eval.frechet_distance(np.zeros(16), s1, np.zeros(16), negative,
                                                   check_covariances=False))
    for bad in (np.eye(15), np.full((16, 16), np.nan)):
        with pytest.raises(ParameterError, match="sigma2"):
            msgan_eval.frechet_distance(np.zeros(16), s1, np.zeros(16), bad, check_covariances=False)


@pytest.mark.parametrize("bad, name", [(dict(mu1=np.full(4, np.nan)), "mu1"),
                                       (dict(sigma1=np.eye(5)), "sigma1"),
                                       (dict(mu2=np.zeros(3)), "mu2")])
def test_frechet_errors_name_the_argument(bad, name):
    args = {**dict(mu1=np.zeros(4), sigma1=np.eye(4), mu2=np.zeros(4), sigma2=np.eye(4)), **bad}
    with pytest.raises(ParameterError, match=name):
        msgan_eval.frechet_distance(**args)


# --- 4. every numeric argument: finite, in range, integer-valued ---------------------------------

_IMAGES = np.random.default_rng(0).integers(0, 256, (6, 8, 8, 3), dtype=np.uint8)


@pytest.mark.parametrize("call, name, error", [
    (lambda: msgan_eval.ndb(_IMAGES, train=_IMAGES, k=2, alpha=float("nan")), "alpha", ParameterError),
    (lambda: msgan_eval.ndb(_IMAGES, train=_IMAGES, k=2, z_threshold=float("inf")), "z_threshold",
     ParameterError),
    (lambda: msgan_eval.ndb(_IMAGES, train=_IMAGES, k=2.5), "k", ParameterError),
    (lambda: msgan_eval.ndb(_IMAGES, train=_IMAGES, k=2, max_dims=1.5), "max_dims", ParameterError),
    (lambda: msgan_eval.kid(_IMAGES, _IMAGES, subsets=2.5), "subsets", ParameterError),
    (lambda: msgan_eval.kid(_IMAGES, _IMAGES, seed=2 ** 32), "seed", ParameterError),
    (lambda: msgan_eval.kid(_IMAGES, _IMAGES, subsets=10 ** 9), "subsets", ParameterError),
    (lambda: msgan_eval.lpips_diversity(_IMAGES, num_pairs=2.5), "num_pairs", ParameterError),
    (lambda: msgan_eval.lpips_diversity(_IMAGES, num_pairs="50"), "num_pairs", ParameterTypeError),
    (lambda: msgan_eval.lpips_diversity(_IMAGES, seed=True), "seed", ParameterTypeError),
    (lambda: msgan_eval.prdc(_IMAGES, _IMAGES, k=1.5), "k", ParameterError),
    (lambda: msgan_eval.fid(_IMAGES, _IMAGES, dims=100), "dims", ParameterError),
    (lambda: msgan_eval.fid(_IMAGES, _IMAGES, batch_size=0), "batch_size", ParameterError),
    (lambda: msgan_eval.vendi(_IMAGES, num_workers=-1), "num_workers", ParameterError),
    (lambda: msgan_eval.compare(_IMAGES, _IMAGES, _IMAGES, kid_subsets=2.5), "kid_subsets",
     ParameterError),
    (lambda: msgan_eval.compare(_IMAGES, _IMAGES, _IMAGES, ndb_alpha=float("nan")), "ndb_alpha",
     ParameterError),
    (lambda: msgan_eval.compare(_IMAGES, _IMAGES, _IMAGES, confidence=1.0), "confidence",
     ParameterError),
    (lambda: msgan_eval.compare(_IMAGES, _IMAGES, _IMAGES, lpips_num_pairs=2.5), "lpips_num_pairs",
     ParameterError),
    (lambda: msgan_eval.fit_bins(np.random.rand(5, 3), k=2.5), "k", ParameterError),
    (lambda: msgan_eval.fit_bins(np.random.rand(5, 3), k=2, seed=-1), "seed", ParameterError),
])
def test_api_numbers_are_validated_by_name(call, name, error):
    with pytest.raises(error) as info:
        call()
    assert isinstance(info.value, ValueError)
    assert str(info.value).startswith(f"{name} ") or f" {name} " in str(info.value), str(info.value)


def test_ndb_with_a_nan_level_never_prints_nan(tmp_path):
    gen = write_random_pngs(tmp_path / "g" / "a", 6, size=(8, 8)).parent
    result = run("ndb", gen, "--train", gen, "--bins", 2, "--alpha", "nan", "--json")
    assert_refused(result, "--alpha", "finite", json_out=True)


# --- 5. an overflowing distance is an error, never "fid": null -----------------------------------

def test_fid_of_huge_statistics_is_refused(tmp_path):
    good, huge = tmp_path / "good.npz", tmp_path / "huge.npz"
    np.savez(good, mu=np.zeros(64), sigma=_spd(64, 1))
    np.savez(huge, mu=np.full(64, 1e200), sigma=_spd(64, 2))
    result = run("fid", good, huge, "--dims", 64, "--json")
    assert_refused(result, huge, "not a usable FID statistics file", json_out=True)
    with pytest.raises(ParameterError, match="overflows"):
        msgan_eval.frechet_distance(np.zeros(4), np.eye(4), np.full(4, 1e200), np.eye(4))


# --- 6. Vendi of a 1-image condition is not computable; compare never cuts below 2 ---------------

def test_vendi_of_a_one_image_condition_is_not_computable():
    from msgan_eval.evaluate.inputs import as_image_set
    from msgan_eval.evaluate.vendi import per_condition_vendi
    from msgan_eval.metrics.bootstrap_classes import bootstrap_vendi
    from msgan_eval.metrics.vendi import mean_vendi

    images = as_image_set({"one": _IMAGES[:1], "three": _IMAGES[:3]}, param="x")
    feats = np.random.default_rng(1).random((4, 16))
    per = per_condition_vendi(images, feats)
    assert per["one"] is None and per["three"] > 1
    assert mean_vendi(per) == per["three"]
    groups = {c: np.asarray(i) for c, i in images.groups().items()}
    est, table = bootstrap_vendi(feats, groups, rng=np.random.default_rng(0), n_boot=20)
    assert table["one"] is None and est.value == pytest.approx(per["three"])


def test_vendi_with_no_condition_of_two_images_is_refused():
    from msgan_eval.evaluate.inputs import as_image_set
    from msgan_eval.evaluate.vendi import check_vendi_conditions

    with pytest.raises(ParameterError, match="baseline .*no condition has 2"):
        check_vendi_conditions(as_image_set({"a": _IMAGES[:1]}, param="baseline"), "baseline")


def test_compare_never_cuts_a_condition_below_two_images():
    from msgan_eval.evaluate.compare_sizes import equal_size_runs
    from msgan_eval.evaluate.inputs import as_image_set

    small = as_image_set({"a": _IMAGES[:1], "b": _IMAGES[:4]}, param="candidate")
    big = as_image_set({"a": _IMAGES[:5], "b": _IMAGES[:6]}, param="baseline")
    runs, out = equal_size_runs({"baseline": big, "candidate": small}, seed=0)
    sizes = {c: len(i) for c, i in runs["baseline"].groups().items()}
    assert sizes == {"a": 2, "b": 4}
    assert any("no condition is cut below 2" in note for note in out.notes)


# --- 15. a 1-image run is blamed on itself -------------------------------------------------------

@pytest.mark.parametrize("one", ["baseline", "candidate"])
def test_one_image_run_is_blamed_on_itself(tmp_path, one, random_weights):
    paths = {}
    for arm, n in (("baseline", 4), ("candidate", 4), ("ref", 6)):
        paths[arm] = write_random_pngs(tmp_path / arm / "a", 1 if arm == one else n,
                                       size=(32, 32), seed=len(arm)).parent
    result = run("compare", "--baseline", paths["baseline"], "--candidate", paths["candidate"],
                 "--ref", paths["ref"], "--metrics", "fid", "--inception-weights", random_weights,
                 "--quiet")
    other = "candidate" if one == "baseline" else "baseline"
    assert_refused(result, f"--{one} {paths[one]}", "at least 2 images")
    assert f"--{other}" not in result.stderr


# --- 16. API errors are ValueError / TypeError and name the argument ------------------------------

def test_every_user_error_is_a_value_error():
    assert issubclass(UserError, ValueError) and issubclass(WeightsUnavailable, ValueError)
    assert issubclass(ParameterTypeError, TypeError) and issubclass(ParameterTypeError, ValueError)


def test_in_memory_inputs_are_named_by_their_argument():
    mixed = {"a": _IMAGES[:2], "b": np.zeros((2, 16, 16, 3), np.uint8)}
    with pytest.raises(ValueError) as info:
        msgan_eval.lpips_diversity(mixed)
    assert str(info.value).startswith("<in-memory x>: "), str(info.value)
    with pytest.raises(ValueError) as info:
        msgan_eval.ndb(_IMAGES, train=mixed, k=2)
    assert "<in-memory train>" in str(info.value), str(info.value)
