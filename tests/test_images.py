"""The one image road: scanning, decoding every mode, arrays, and bad input."""
import os

import numpy as np
import pytest
from PIL import Image

from msgan_eval.errors import UserError
from msgan_eval.fileio import atomic_path, save_npz_atomic
from msgan_eval.images import ROOT_CONDITION, decode_image, is_stats_file, scan_images, write_image_folder

from conftest import write_random_pngs


def _reference_rgb(path):
    """pytorch-fid's ImagePathDataset: Image.open(path).convert('RGB')."""
    return np.asarray(Image.open(path).convert("RGB"))


@pytest.mark.parametrize("mode", ["RGB", "L", "P", "RGBA", "LA", "CMYK", "1"])
def test_8bit_modes_match_pytorch_fid_loader(tmp_path, mode):
    rng = np.random.default_rng(1)
    src = Image.fromarray(rng.integers(0, 256, (9, 7, 3), dtype=np.uint8)).convert(mode)
    path = tmp_path / ("x.tif" if mode == "CMYK" else "x.png")
    src.save(path)
    got = decode_image(path)
    assert got.dtype == np.uint8 and got.shape == (9, 7, 3)
    np.testing.assert_array_equal(got, _reference_rgb(path))


def test_rgba_drops_alpha_without_compositing(tmp_path):
    arr = np.zeros((4, 4, 4), np.uint8)
    arr[..., 0] = 200
    arr[..., 3] = 0  # fully transparent: the colour stays, it is not blended onto white or black
    Image.fromarray(arr, "RGBA").save(tmp_path / "a.png")
    assert (decode_image(tmp_path / "a.png")[..., 0] == 200).all()


def test_16bit_is_scaled_not_clipped(tmp_path):
    values = np.array([[0, 257, 32768, 65535]], dtype=np.uint16)
    Image.fromarray(values).save(tmp_path / "deep.png")
    got = decode_image(tmp_path / "deep.png")[0, :, 0]
    np.testing.assert_array_equal(got, [0, 1, 128, 255])


def test_folder_conditions_sorted_and_recursive(tmp_path):
    write_random_pngs(tmp_path / "b", 2)
    write_random_pngs(tmp_path / "a" / "deep", 3, seed=1)
    write_random_pngs(tmp_path / "a", 1, seed=2)
    (tmp_path / "a" / "notes.txt").write_text("ignored")
    (tmp_path / "a" / ".hidden.png").write_bytes(b"not an image, but hidden")
    s = scan_images(tmp_path)
    assert s.conditions == ["a", "b"]
    assert [r.name for r in s.refs] == ["a/0000.png", "a/deep/0000.png", "a/deep/0001.png",
                                        "a/deep/0002.png", "b/0000.png", "b/0001.png"]
    assert s.groups() == {"a": [0, 1, 2, 3], "b": [4, 5]}
    assert s.read(5).shape == (32, 32, 3)


def test_flat_folder_is_one_condition(tmp_path):
    s = scan_images(write_random_pngs(tmp_path, 3))
    assert s.conditions == [ROOT_CONDITION] and len(s) == 3


def test_fingerprint_follows_content_list(tmp_path):
    write_random_pngs(tmp_path, 3)
    a = scan_images(tmp_path).fingerprint()
    assert a == scan_images(tmp_path).fingerprint()
    write_random_pngs(tmp_path, 4, seed=5)
    assert scan_images(tmp_path).fingerprint() != a


@pytest.mark.parametrize("layout", ["nhwc", "nchw", "nhw", "nhw1"])
def test_arrays(tmp_path, layout):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (5, 8, 6, 3), dtype=np.uint8)
    stored = {"nhwc": x, "nchw": x.transpose(0, 3, 1, 2), "nhw": x[..., 0], "nhw1": x[..., :1]}[layout]
    np.save(tmp_path / "x.npy", stored)
    s = scan_images(tmp_path / "x.npy")
    assert len(s) == 5 and s.sizes[0] == (8, 6)
    expect = x if layout in ("nhwc", "nchw") else np.repeat(x[..., :1], 3, axis=3)
    np.testing.assert_array_equal(np.stack([s[i] for i in range(5)]), expect)


def test_npz_labels_name_conditions(tmp_path):
    x = np.zeros((4, 8, 8, 3), np.uint8)
    x[:, 0, 0, 0] = [0, 1, 2, 3]
    np.savez(tmp_path / "x.npz", images=x, labels=np.array([1, 0, 1, 0]))
    s = scan_images(tmp_path / "x.npz")
    assert s.groups() == {"0": [0, 1], "1": [2, 3]}
    assert [s[i][0, 0, 0] for i in range(4)] == [1, 3, 0, 2]


def test_bad_inputs_name_the_file(tmp_path):
    with pytest.raises(UserError, match="no such file"):
        scan_images(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no images found"):
        scan_images(tmp_path / "empty")
    folder = write_random_pngs(tmp_path / "imgs", 2)
    (folder / "fake.png").write_text("hello")
    with pytest.raises(UserError, match="fake.png.*--skip-bad"):
        scan_images(folder)
    s = scan_images(folder, skip_bad=True)
    assert len(s) == 2 and len(s.skipped) == 1 and "fake.png" in s.skipped[0][0]


def test_truncated_png_is_reported(tmp_path):
    folder = write_random_pngs(tmp_path, 1)
    data = (folder / "0000.png").read_bytes()
    (folder / "0000.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match="0000.png: not a readable image"):
        scan_images(folder)


def test_bad_arrays(tmp_path):
    np.save(tmp_path / "f.npy", np.zeros((2, 4, 4, 3), np.float32))
    with pytest.raises(UserError, match="uint8"):
        scan_images(tmp_path / "f.npy")
    np.save(tmp_path / "s.npy", np.zeros((2, 5, 4, 7), np.uint8))
    with pytest.raises(UserError, match="shape"):
        scan_images(tmp_path / "s.npy")
    np.savez(tmp_path / "stats.npz", mu=np.zeros(3), sigma=np.eye(3))
    assert is_stats_file(tmp_path / "stats.npz")
    with pytest.raises(UserError, match="statistics file"):
        scan_images(tmp_path / "stats.npz")
    (tmp_path / "junk.npy").write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(UserError, match="junk.npy: cannot read"):
        scan_images(tmp_path / "junk.npy")


def test_common_size_names_two_files(tmp_path):
    write_random_pngs(tmp_path, 1, size=(32, 32))
    Image.new("RGB", (16, 16)).save(tmp_path / "small.png")
    with pytest.raises(UserError, match=r"0000.png is 32x32, small.png is 16x16\); use --resize"):
        scan_images(tmp_path).common_size("use --resize")


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.npz"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []
    save_npz_atomic(target, mu=np.ones(2))
    assert [p.name for p in tmp_path.iterdir()] == ["out.npz"]
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask   # like a plain open(), not mkstemp's 0600
    assert np.load(target)["mu"].tolist() == [1.0, 1.0]


def test_write_image_folder_round_trip(tmp_path):
    imgs = np.random.default_rng(0).integers(0, 256, (4, 6, 6), dtype=np.uint8)
    write_image_folder(tmp_path, imgs, [0, 1, 0, 1], ["cat", "dog"])
    s = scan_images(tmp_path)
    assert s.groups() == {"cat": [0, 1], "dog": [2, 3]}
    np.testing.assert_array_equal(s[1][..., 0], imgs[2])
