"""metrics/hues.py: the counted diversity of a tinting translator, against hand-made images and
colorsys (the standard library's RGB -> HSV)."""
import colorsys

import numpy as np
import pytest

from msgan_eval.metrics.hues import (
    distinct_hues,
    expected_distinct,
    hue_summary,
    image_hues,
    mean_hue,
    nearest_hue,
    rgb_to_hsv,
)

PALETTE = (0, 60, 120, 180, 240, 300)


def _item(rgb, size=8, background=0):
    img = np.full((size, size, 3), background, np.uint8)
    img[2:6, 2:6] = rgb
    return img


def test_rgb_to_hsv_matches_colorsys():
    rng = np.random.default_rng(0)
    rgb = rng.random((500, 3))
    rgb[:20] = rgb[:20, :1]            # greys: hue 0, saturation 0
    h, s, v = rgb_to_hsv(rgb)
    want = np.array([colorsys.rgb_to_hsv(*p) for p in rgb])
    np.testing.assert_allclose(h, want[:, 0] * 360, atol=1e-9)
    np.testing.assert_allclose(s, want[:, 1], atol=1e-12)
    np.testing.assert_allclose(v, want[:, 2], atol=1e-12)


def test_palette_colours_get_their_index_and_grey_gets_none():
    images = np.stack([_item(c) for c in [(200, 0, 0), (200, 200, 0), (0, 200, 0), (0, 200, 200),
                                          (0, 0, 200), (200, 0, 200), (150, 150, 150)]])
    assert image_hues(images, PALETTE).tolist() == [0, 1, 2, 3, 4, 5, -1]


def test_dark_or_faint_or_tiny_colour_carries_no_hue():
    dark = _item((40, 0, 0))                        # value 0.16 < 0.25
    faint = _item((200, 170, 170))                  # saturation 0.15 < 0.35
    tiny = np.zeros((8, 8, 3), np.uint8)
    tiny[0, :5] = (255, 0, 0)                       # 5 coloured pixels < 8
    assert image_hues(np.stack([dark, faint, tiny]), PALETTE).tolist() == [-1, -1, -1]
    assert image_hues(tiny[None], PALETTE, min_pixels=5).tolist() == [0]


def test_mean_hue_is_circular_and_weighted():
    img = np.zeros((4, 4, 3), np.uint8)
    img[:2] = (255, 0, 40)       # hue ~350.6
    img[2:] = (255, 40, 0)       # hue ~9.4: the circular mean is ~0, not 180
    assert mean_hue(img[None], min_pixels=1)[0] == pytest.approx(0.0, abs=1e-6) or \
        mean_hue(img[None], min_pixels=1)[0] == pytest.approx(360.0, abs=1e-6)
    img[2:] = (128, 20, 0)       # darker half weighs less: the mean leans to 350.6
    assert 350 < mean_hue(img[None], min_pixels=1)[0] < 360


def test_nearest_hue_wraps_around():
    assert nearest_hue(np.array([355.0, 29.0, 31.0, 181.0, np.nan]), PALETTE).tolist() == [0, 0, 1, 3, -1]


def test_distinct_hues_and_summary():
    labels = [np.array([0, 0, 0, 0]), np.array([0, 1, 2, -1]), np.array([-1, -1, -1, -1])]
    assert distinct_hues(labels).tolist() == [1, 3, 0]
    s = hue_summary(labels, 6)
    assert s["mean_distinct"] == pytest.approx(4 / 3) and s["per_input"] == [1, 3, 0]
    assert s["no_hue_share"] == pytest.approx(5 / 12) and s["hue_shares"][0] == pytest.approx(5 / 12)
    assert (s["min_distinct"], s["max_distinct"]) == (0, 3)


def test_expected_distinct_matches_simulation():
    rng = np.random.default_rng(0)
    draws = rng.integers(0, 6, size=(20000, 10))
    simulated = distinct_hues(list(draws)).mean()
    assert expected_distinct(6, 10) == pytest.approx(simulated, abs=0.02)
    assert expected_distinct(6, 1) == pytest.approx(1.0)


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="RGB"):
        mean_hue(np.zeros((2, 8, 8), np.uint8))
