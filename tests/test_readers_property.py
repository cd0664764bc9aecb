"""Property-based layer over the readers (issue 16): whatever bytes, shapes or dtypes come in, the
image road, the statistics reader and the bins reader either return something valid or raise a
UserError, never another exception."""
import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from msgan_eval.errors import UserError
from msgan_eval.evaluate.ndb_data import BINS_FORMAT, load_bins
from msgan_eval.features.stats_cache import load_fid_stats, stats_problem
from msgan_eval.images import decode_image, scan_images

FAST = settings(max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

_PNG = b"\x89PNG\r\n\x1a\n"
_DTYPES = st.sampled_from([np.uint8, np.int16, np.uint16, np.float32, np.float64, np.bool_,
                           np.int64, np.complex64])


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@FAST
@given(data=st.binary(max_size=2048), prefix=st.sampled_from([b"", _PNG, b"GIF89a", b"BM",
                                                               b"\xff\xd8\xff"]))
def test_any_bytes_decode_or_give_a_user_error(tmp_path, data, prefix):
    path = _write(tmp_path, "x.png", prefix + data)
    try:
        img = decode_image(path)
    except UserError as exc:
        assert str(path) in str(exc)
        return
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3


@FAST
@given(arr=hnp.arrays(dtype=_DTYPES, shape=hnp.array_shapes(min_dims=1, max_dims=5, min_side=0,
                                                            max_side=6)),
       npz=st.booleans())
def test_any_array_scans_or_gives_a_user_error(tmp_path, arr, npz):
    path = tmp_path / ("x.npz" if npz else "x.npy")
    if npz:
        np.savez(path, images=arr)
    else:
        np.save(path, arr)
    try:
        image_set = scan_images(path)
    except UserError as exc:
        assert str(path) in str(exc)
        return
    assert len(image_set) >= 1
    first = image_set[0]
    assert first.dtype == np.uint8 and first.ndim == 3 and first.shape[2] == 3
    assert min(first.shape[:2]) >= 1


@FAST
@given(data=st.binary(max_size=4096))
def test_any_bytes_as_stats_or_bins_give_a_user_error(tmp_path, data):
    path = _write(tmp_path, "x.npz", data)
    for reader in (load_fid_stats, load_bins):
        try:
            reader(path)
        except UserError as exc:
            assert str(path) in str(exc)


_ARRAYS = st.tuples(
    hnp.arrays(np.float64, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4),
               elements=st.floats(allow_nan=True, allow_infinity=True)
               | st.integers(-3, 300).map(float)),
    st.sampled_from([np.float64, np.float32, np.int64, np.uint8]),
).map(lambda pair: pair[0].astype(pair[1]))


@FAST
@given(mu=_ARRAYS, sigma=_ARRAYS, extra=st.dictionaries(st.sampled_from(["n", "dims"]),
                                                         st.integers(-3, 3000), max_size=2))
def test_random_stats_arrays_load_valid_or_are_refused(tmp_path, mu, sigma, extra):
    path = tmp_path / "s.npz"
    np.savez(path, mu=mu, sigma=sigma, **{k: np.int64(v) for k, v in extra.items()})
    try:
        stats = load_fid_stats(path)
    except UserError as exc:
        assert str(path) in str(exc)
        return
    assert stats_problem(stats.mu, stats.sigma) is None and np.isfinite(stats.sigma).all()


@FAST
@given(d=st.sampled_from([64, 192]), scale=st.floats(1e-6, 1e6), n=st.integers(2, 400),
       seed=st.integers(0, 2**16))
def test_real_covariances_are_always_accepted(d, scale, n, seed):
    """The validation must never refuse a true covariance, singular ones (n < d) included."""
    x = np.random.default_rng(seed).normal(size=(n, d)) * scale
    assert stats_problem(x.mean(axis=0), np.cov(x, rowvar=False)) is None


_META_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-2, 300), st.text(max_size=4),
                         st.lists(st.integers(-1, 8), max_size=3), st.floats(allow_nan=True))


@FAST
@given(meta=st.dictionaries(st.sampled_from(["k", "d", "seed", "whiten", "max_dims", "n_init",
                                             "max_iter", "fingerprint", "image_size",
                                             "train_source", "version"]),
                            _META_VALUES, max_size=11),
       arrays=st.fixed_dictionaries({name: _ARRAYS for name in
                                     ("centers", "counts", "used_dims", "mean", "std")}))
def test_random_bins_files_load_valid_or_are_refused(tmp_path, meta, arrays):
    path = tmp_path / "b.npz"
    np.savez(path, meta=np.array(json.dumps({"format": BINS_FORMAT, **meta})), **arrays)
    try:
        bins, info = load_bins(path)
    except UserError as exc:
        assert str(path) in str(exc)
        return
    assert np.isfinite(bins.centers).all() and bins.counts.sum() >= 1


def test_a_valid_bins_file_survives_the_property_checks(tmp_path):
    """The refusals above are not everything: a real bins file still loads."""
    from msgan_eval.evaluate.ndb_data import BinsInfo, save_bins
    from msgan_eval.metrics.ndb import fit_bins

    train = np.random.default_rng(0).random((20, 2 * 2 * 3))
    bins = fit_bins(train, 3, seed=0)
    path = tmp_path / "ok.npz"
    save_bins(path, bins, BinsInfo("fp", (2, 2), "train", "0"))
    loaded, info = load_bins(path)
    assert loaded.k == 3 and info.image_size == (2, 2)
    np.testing.assert_array_equal(loaded.centers, bins.centers)


pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


# --- the numeric validator shared by the API and the command line (issue 23) ---------------------

_NUMBERS = (st.floats(allow_nan=True, allow_infinity=True) | st.integers(-2**70, 2**70)
            | st.booleans() | st.text(max_size=3) | st.none()
            | st.floats(-1e6, 1e6).map(np.float32) | st.integers(-5, 5).map(np.int64))


@settings(max_examples=300, deadline=None)
@given(value=_NUMBERS, integer=st.booleans(), low=st.none() | st.integers(-3, 3),
       high=st.none() | st.integers(3, 10))
@example(value=2.0 ** 64, integer=True, low=None, high=None)     # found by a CI run: a huge int
@example(value=float("nan"), integer=False, low=None, high=None)
@example(value=2 ** 53 + 1, integer=False, low=None, high=None)    # rounds to 2**53 as a float
def test_number_accepts_exactly_the_finite_values_in_range(value, integer, low, high):
    from msgan_eval.errors import ParameterError, ParameterTypeError
    from msgan_eval.validate import number

    try:
        out = number(value, "opt", integer=integer, min=low, max=high)
    except ParameterTypeError as exc:
        assert isinstance(exc, TypeError) and str(exc).startswith("opt ")
        assert isinstance(value, (bool, str, type(None)))
        return
    except ParameterError as exc:
        assert isinstance(exc, ValueError) and str(exc).startswith("opt ") and "\n" not in str(exc)
        as_float = float(value)
        assert (not np.isfinite(as_float) or (integer and not as_float.is_integer())
                or (low is not None and as_float < low) or (high is not None and as_float > high))
        return
    # A float parameter is float(value): an int beyond 2**53 rounds (9007199254740993 gives
    # 9007199254740992.0, found by a CI run), so compare with float(value), not value.
    expected = value if integer else float(value)
    assert not isinstance(value, (bool, str)) and math.isfinite(float(out)) and out == expected
    assert type(out) is (int if integer else float)
    assert (low is None or out >= low) and (high is None or out <= high)


@settings(max_examples=200, deadline=None)
@given(text=st.sampled_from(["nan", "inf", "-inf", "1e400", "0", "0.5", "1", "-1", "abc", "1e-300",
                             "2.5", " 3 "]) | st.floats(allow_nan=True).map(repr))
def test_cli_float_type_and_api_validator_agree(text):
    """FiniteFloat (the CLI's float options) refuses exactly what the API's validator refuses."""
    import click

    from msgan_eval.cli.options import FiniteFloat
    from msgan_eval.errors import ParameterError
    from msgan_eval.validate import real

    try:
        parsed = float(text)
    except ValueError:
        parsed = None
    try:
        api = real(parsed, "x", above=0, below=1) if parsed is not None else None
    except ParameterError:
        api = None
    try:
        cli = FiniteFloat(0, 1, min_open=True, max_open=True).convert(text, None, None)
    except click.BadParameter:
        cli = None
    assert cli == api


@settings(max_examples=60, deadline=None)
@given(alpha=st.floats(allow_nan=True, allow_infinity=True),
       z=st.none() | st.floats(allow_nan=True, allow_infinity=True))
def test_ndb_levels_never_reach_the_result_as_nan(alpha, z):
    from msgan_eval.errors import ParameterError
    from msgan_eval.metrics.ndb import fit_bins, ndb_from_counts

    bins = fit_bins(np.random.default_rng(0).random((12, 3)), k=2, seed=0)
    try:
        result = ndb_from_counts(bins, np.array([3, 4]), alpha=alpha, z_threshold=z)
    except ParameterError as exc:
        assert ("alpha" in str(exc)) or ("z_threshold" in str(exc))
        return
    assert 0 < result.alpha < 1 and (z is None or np.isfinite(result.z_threshold))
