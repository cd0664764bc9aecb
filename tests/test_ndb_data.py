"""Images -> NDB vectors (against PIL directly) and bins files (round trip, refusals)."""
import json

import numpy as np
import pytest
from PIL import Image

from msgan_eval.errors import UserError
from msgan_eval.evaluate.ndb_data import (
    BinsInfo,
    bins_info_for,
    bins_mismatches,
    images_to_vectors,
    load_bins,
    save_bins,
)
from msgan_eval.images import scan_images
from msgan_eval.metrics.ndb import assign_bins, fit_bins

from conftest import write_random_pngs


def test_vectors_are_flattened_rgb_in_unit_range(tmp_path):
    folder = write_random_pngs(tmp_path / "a", 4, size=(6, 5), seed=1)
    vec = images_to_vectors(scan_images(folder))
    assert vec.dtype == np.float64 and vec.shape == (4, 5 * 6 * 3)
    for i, f in enumerate(sorted(folder.glob("*.png"))):
        expected = np.asarray(Image.open(f).convert("RGB"), dtype=np.float64).reshape(-1) / 255.0
        np.testing.assert_array_equal(vec[i], expected)
    assert vec.min() >= 0.0 and vec.max() <= 1.0


def test_grey_images_become_three_equal_channels(tmp_path):
    folder = write_random_pngs(tmp_path / "g", 2, size=(4, 4), seed=2, mode="L")
    vec = images_to_vectors(scan_images(folder)).reshape(2, 4, 4, 3)
    np.testing.assert_array_equal(vec[..., 0], vec[..., 1])
    np.testing.assert_array_equal(vec[..., 0], vec[..., 2])
    grey = np.asarray(Image.open(sorted(folder.glob("*.png"))[0]), dtype=np.float64) / 255.0
    np.testing.assert_array_equal(vec[0, ..., 0], grey)


def test_generated_images_resized_to_training_size_with_pil_bilinear(tmp_path):
    train = scan_images(write_random_pngs(tmp_path / "train", 3, size=(8, 6), seed=3))
    gen_folder = write_random_pngs(tmp_path / "gen", 2, size=(20, 16), seed=4, mode="L")
    vec = images_to_vectors(scan_images(gen_folder), train)
    assert vec.shape == (2, 6 * 8 * 3)
    first = Image.open(sorted(gen_folder.glob("*.png"))[0]).convert("RGB")
    expected = np.asarray(first.resize((8, 6), Image.BILINEAR), dtype=np.float64) / 255.0
    np.testing.assert_array_equal(vec[0], expected.reshape(-1))
    np.testing.assert_array_equal(images_to_vectors(scan_images(gen_folder), size=(6, 8)), vec)


def test_training_set_with_mixed_sizes_is_refused(tmp_path):
    write_random_pngs(tmp_path / "mixed", 2, size=(8, 8), seed=5)
    Image.new("RGB", (9, 8)).save(tmp_path / "mixed" / "odd.png")
    with pytest.raises(UserError, match="different sizes"):
        images_to_vectors(scan_images(tmp_path / "mixed"))


@pytest.fixture()
def fitted(tmp_path):
    train = scan_images(write_random_pngs(tmp_path / "train", 40, size=(8, 8), seed=6))
    bins = fit_bins(images_to_vectors(train), k=4, seed=3, whiten=True, max_dims=50)
    return train, bins


def test_bins_file_round_trip(tmp_path, fitted):
    train, bins = fitted
    path = tmp_path / "out" / "bins.npz"
    save_bins(path, bins, bins_info_for(train))
    loaded, info = load_bins(path)
    for name in ("centers", "counts", "used_dims", "mean", "std"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(bins, name))
    assert (loaded.k, loaded.seed, loaded.whiten, loaded.max_dims, loaded.n_init, loaded.max_iter) == \
        (4, 3, True, 50, bins.n_init, bins.max_iter)
    assert info.image_size == (8, 8) and info.fingerprint == train.fingerprint(with_mtime=False)
    assert bins_mismatches(loaded, info, train, {"k": 4, "seed": 3, "whiten": True}) == []
    samples = images_to_vectors(train)
    np.testing.assert_array_equal(assign_bins(loaded, samples), assign_bins(bins, samples))
    assert [p.name for p in path.parent.iterdir()] == ["bins.npz"]   # no temporary left behind


def test_bins_mismatches_name_the_difference(tmp_path, fitted):
    train, bins = fitted
    save_bins(tmp_path / "b.npz", bins, bins_info_for(train))
    loaded, info = load_bins(tmp_path / "b.npz")
    other = scan_images(write_random_pngs(tmp_path / "other", 41, size=(8, 8), seed=6))
    assert any("different training file list" in p for p in bins_mismatches(loaded, info, other, {}))
    problems = bins_mismatches(loaded, info, train, {"k": 5, "seed": 3, "max_dims": None})
    assert problems == ["it was fitted with k 4, not 5",
                        "it was fitted with max_dims 50, not auto (all, or d // 6 above 1000)"]


def test_unusable_bins_files_are_refused(tmp_path, fitted):
    train, bins = fitted
    with pytest.raises(UserError, match="no such bins file"):
        load_bins(tmp_path / "missing.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(UserError, match="junk.npz: not a usable NDB bins file"):
        load_bins(tmp_path / "junk.npz")
    np.savez(tmp_path / "stats.npz", mu=np.zeros(3), sigma=np.eye(3))
    with pytest.raises(UserError, match="missing meta"):
        load_bins(tmp_path / "stats.npz")
    info = bins_info_for(train)
    save_bins(tmp_path / "b.npz", bins, BinsInfo(info.fingerprint, (9, 9), "x", "0"))
    with pytest.raises(UserError, match="disagree"):
        load_bins(tmp_path / "b.npz")
    with np.load(tmp_path / "b.npz") as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(str(arrays.pop("meta")))
    meta["format"] = "something-else"
    np.savez(tmp_path / "c.npz", meta=np.array(json.dumps(meta)), **arrays)
    with pytest.raises(UserError, match="format"):
        load_bins(tmp_path / "c.npz")
