"""Property-based layer over the readers (issue 16): whatever bytes, shapes or dtypes come in, the
image road, the statistics reader and the bins reader either return something valid or raise a
UserError, never another exception."""
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from msgan_eval.errors import UserError
from msgan_eval.features.stats_cache import load_fid_stats, stats_problem
from msgan_eval.images import decode_image, scan_images
from msgan_eval.ndb_data import BINS_FORMAT, load_bins

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
    from msgan_eval.metrics.ndb import fit_bins
    from msgan_eval.ndb_data import BinsInfo, save_bins

    train = np.random.default_rng(0).random((20, 2 * 2 * 3))
    bins = fit_bins(train, 3, seed=0)
    path = tmp_path / "ok.npz"
    save_bins(path, bins, BinsInfo("fp", (2, 2), "train", "0"))
    loaded, info = load_bins(path)
    assert loaded.k == 3 and info.image_size == (2, 2)
    np.testing.assert_array_equal(loaded.centers, bins.centers)


pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")
