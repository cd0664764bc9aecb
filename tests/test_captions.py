"""The text-to-image data: the caption grammar, the bundled text encoder, fashion-mnist-captions
and the CUB reader (on a synthetic folder in StackGAN-v2's layout), with its plain-data unpickler."""
import pickle

import numpy as np
import pytest
from PIL import Image

from msgan_eval.datasets import DEBIAN_FASHION_MNIST, load_fashion_mnist
from msgan_eval.errors import UserError
from msgan_eval.features.text_encoder import load_text_encoder, tokenize
from msgan_eval.train.caption_data import (
    NO_COLOUR,
    canonical_captions,
    caption_names,
    item_captions,
    stage_images,
    vocabulary,
)
from msgan_eval.train.caption_sets import bird_crop, load_captioned_data, read_cub, read_plain_pickle
from msgan_eval.train.unpaired_data import tint

needs_data = pytest.mark.skipif(not DEBIAN_FASHION_MNIST.exists(),
                                reason="apt-get install dataset-fashion-mnist")


def test_item_captions_are_deterministic_and_every_fourth_has_no_colour():
    caps = item_captions(7, label=7, hue=1)
    assert [c.colour for c in caps] == [1, 1, 1, NO_COLOUR]
    assert all(c.noun == 7 for c in caps) and caps == item_captions(7, 7, 1)
    assert any(w in caps[0].text for w in ("yellow", "golden")) and "sneaker" in caps[3].text or \
        "trainer" in caps[3].text
    assert item_captions(3, label=9, hue=0)[3].text in ("an ankle boot", "a boot", "ankle boot", "boot")


def test_canonical_captions_and_their_folder_names():
    caps = canonical_captions()
    assert len(caps) == 70 and caps[0].text == "a t-shirt" and caps[9].text == "an ankle boot"
    assert caps[10].text == "a red t-shirt" and caps[-1].text == "a magenta ankle boot"
    names = caption_names(caps)
    assert names[16] == "a-red-trousers" and len(set(names)) == 70


def test_bundled_text_encoder_separates_meanings():
    encoder = load_text_encoder()
    assert encoder.info["status"] == "verified" and encoder.info["accuracy"] == 1.0
    assert set(w for w in vocabulary()) <= set(encoder.vocab) and encoder.vocab[0] == "<unk>"
    assert tokenize("A T-shirt, in RED!") == ["a", "t-shirt", "in", "red"]
    e = encoder.encode(["a red sneaker", "a sneaker in scarlet", "a blue sneaker", "a red bag"])
    assert e.shape == (4, 64) and e.dtype == np.float32
    d = np.linalg.norm(e[:, None] - e[None], axis=-1)
    assert d[0, 1] < d[0, 2] and d[0, 1] < d[0, 3]     # synonyms nearer than other meanings
    np.testing.assert_allclose(encoder.encode(["a red sneaker"]), e[:1], rtol=1e-6, atol=1e-6)


def test_stage_images_resize_with_pil_bilinear():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (2, 3, 32, 32), dtype=np.uint8)
    small, same = stage_images(images, (16, 32))
    assert same is images
    want = np.asarray(Image.fromarray(images[1].transpose(1, 2, 0)).resize((16, 16), Image.BILINEAR))
    assert np.array_equal(small[1].transpose(1, 2, 0), want)


@needs_data
def test_fashion_mnist_captions_subset_keeps_each_items_hue_and_captions():
    images, labels = load_fashion_mnist("test")
    whole = load_captioned_data("fashion-mnist-captions", None, "test", (16, 32))
    part = load_captioned_data("fashion-mnist-captions", None, "test", (16, 32), subset_per_class=2)
    assert len(whole) == 10000 and len(part) == 20 and part.stages[1].shape == (20, 3, 32, 32)
    assert np.array_equal(whole.stages[1][13, :, 2:30, 2:30].transpose(1, 2, 0), tint(images[13:14], [1])[0])
    assert np.array_equal(whole.class_ids[:7], labels[:7] * 6 + np.arange(7) % 6)
    # the subset's rows are the same items with the same captions (embedded by the same encoder)
    first = np.flatnonzero(labels == part.labels[0])
    i = next(j for j in first if np.array_equal(whole.stages[1][j], part.stages[1][0]))
    np.testing.assert_array_equal(whole.embeddings[whole.caption_ids[i]], part.embeddings[part.caption_ids[0]])


def test_batches_draw_wrong_images_of_another_id():
    from msgan_eval.train.caption_data import CaptionedData

    stages = [np.arange(6, dtype=np.uint8).reshape(6, 1, 1, 1)]
    data = CaptionedData(stages, np.eye(12, dtype=np.float32), np.arange(12).reshape(6, 2),
                         np.array([0, 0, 0, 1, 1, 1]))
    real, wrong, emb = data.batch(np.array([0, 1, 2, 3, 4, 5] * 50), np.random.default_rng(0))
    ids = data.class_ids
    same = ids[wrong[0].ravel()] == ids[real[0].ravel()]
    assert same.mean() < 0.5 * 0.5 + 0.05      # one redraw: about a quarter stay the same id
    assert emb.shape == (300, 12) and set(np.flatnonzero(emb[0])) <= {0, 1}


# --- CUB, StackGAN-v2's layout -----------------------------------------------------------------

def _cub(root, n=3, dim=16, size=(60, 40)):
    keys = [f"001.Bird/Bird_{i}" for i in range(n)]
    rng = np.random.default_rng(0)
    (root / "CUB_200_2011" / "images" / "001.Bird").mkdir(parents=True)
    lines_img, lines_box = [], []
    for i, key in enumerate(keys):
        Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(
            root / "CUB_200_2011" / "images" / f"{key}.jpg", quality=95)
        lines_img.append(f"{i + 1} {key}.jpg")
        lines_box.append(f"{i + 1} 10.0 5.0 20.0 16.0")
    (root / "CUB_200_2011" / "images.txt").write_text("\n".join(lines_img) + "\n")
    (root / "CUB_200_2011" / "bounding_boxes.txt").write_text("\n".join(lines_box) + "\n")
    emb = rng.standard_normal((n, 10, dim)).astype(np.float32)
    for split in ("train", "test"):
        (root / split).mkdir()
        (root / split / "filenames.pickle").write_bytes(pickle.dumps(keys, protocol=2))
        (root / split / "char-CNN-RNN-embeddings.pickle").write_bytes(pickle.dumps(list(emb), protocol=2))
        (root / split / "class_info.pickle").write_bytes(pickle.dumps([1] * n, protocol=2))
    return keys, emb


def test_cub_reads_stackgan_layout(tmp_path):
    keys, emb = _cub(tmp_path)
    data = read_cub(str(tmp_path), "train", (16, 32))
    assert len(data) == 3 and data.stages[0].shape == (3, 3, 16, 16) and data.stages[1].shape == (3, 3, 32, 32)
    np.testing.assert_array_equal(data.embeddings[data.caption_ids[2]], emb[2])
    assert data.class_ids.tolist() == [1, 1, 1]


def test_bird_crop_is_the_official_square():
    image = np.zeros((40, 60, 3), np.uint8)
    # box x 10, y 5, w 20, h 16: r = int(20 * 0.75) = 15, centre (20, 13): rows 0..28, cols 5..35
    assert bird_crop(image, (10, 5, 20, 16)).shape == (28, 30, 3)


def test_cub_pickles_holding_code_are_refused(tmp_path):
    import os

    _cub(tmp_path)

    class Evil:
        def __reduce__(self):
            return (os.system, ("touch " + str(tmp_path / "pwned"),))

    (tmp_path / "train" / "filenames.pickle").write_bytes(pickle.dumps([Evil()], protocol=2))
    with pytest.raises(UserError, match="filenames.pickle: cannot be read as plain data.*refused"):
        read_cub(str(tmp_path), "train", (16, 32))
    assert not (tmp_path / "pwned").exists()
    with pytest.raises(UserError, match="not found"):
        read_plain_pickle(tmp_path / "nope.pickle")


def test_cub_mismatched_files_are_named(tmp_path):
    _cub(tmp_path)
    (tmp_path / "train" / "char-CNN-RNN-embeddings.pickle").write_bytes(
        pickle.dumps([np.zeros((10, 16), np.float32)] * 2, protocol=2))
    with pytest.raises(UserError, match=r"char-CNN-RNN-embeddings.pickle: shape \(2, 10, 16\)"):
        read_cub(str(tmp_path), "train", (16, 32))
    with pytest.raises(UserError, match="needs --data-root"):
        read_cub(None, "train", (16, 32))


def test_the_canonical_caption_count_in_defaults_is_the_grammars():
    from msgan_eval import defaults
    from msgan_eval.train.caption_data import canonical_captions

    assert len(canonical_captions()) == defaults.CANONICAL_CAPTIONS
